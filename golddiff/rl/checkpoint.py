"""Checkpoints in RUN_DIR/checkpoints/step_N/, written atomically, the last K kept.

    step_N/config.json, model.safetensors, tokenizer files   the model, Hugging Face format (save_pretrained)
    step_N/optimizer.pt, rng.pt                              optimizer state (full, by parameter name), RNGs
    step_N/state.json                                        step, version, data-loader position, mode, time
    step_N/COMPLETE                                          written last: the completion marker

Everything is written into `.step_N.tmp/`, fsynced, then renamed to `step_N` (a rename is atomic on one
filesystem) and the parent directory fsynced; a crash leaves either no `step_N` or a complete one. Only
directories with the marker count (`latest_checkpoint`). With learners on other nodes the run dir must be
on a shared filesystem. No torch here (the learner writes the model and optimizer files).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

COMPLETE = "COMPLETE"
STATE_FILE = "state.json"
_STEP = re.compile(r"^step_(\d+)$")


def checkpoints_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for file in path.rglob("*"):
        if file.is_file():
            with file.open("rb") as f:
                os.fsync(f.fileno())
    _fsync_dir(path)


def write_checkpoint(
    run_dir: str | Path, step: int, save_model: Callable[[Path], None], state: dict, keep_last: int
) -> Path:
    """`save_model(tmp_dir)` writes the learner's files; then state.json, the marker, the rename."""
    root = checkpoints_dir(run_dir)
    root.mkdir(parents=True, exist_ok=True)
    tmp, final = root / f".step_{step}.tmp", root / f"step_{step}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(tmp)
    (tmp / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    _fsync_tree(tmp)
    (tmp / COMPLETE).write_text(f"step {step}\n", encoding="utf-8")
    _fsync_tree(tmp)
    if final.exists():  # an older copy of this step (a resumed run re-reaching it)
        shutil.rmtree(final)
    os.rename(tmp, final)
    _fsync_dir(root)
    prune(run_dir, keep_last)
    return final


def complete_checkpoints(run_dir: str | Path) -> list[tuple[int, Path]]:
    """(step, path) of every complete checkpoint, oldest first."""
    root = checkpoints_dir(run_dir)
    if not root.is_dir():
        return []
    found = []
    for path in root.iterdir():
        m = _STEP.match(path.name)
        if m and (path / COMPLETE).is_file():
            found.append((int(m.group(1)), path))
    return sorted(found)


def latest_checkpoint(run_dir: str | Path) -> tuple[int, Path] | None:
    found = complete_checkpoints(run_dir)
    return found[-1] if found else None


def damage(path: str | Path) -> str | None:
    """What is wrong with a complete checkpoint's files (naming the file), or None when they look whole.

    Checked without loading anything big: state.json and config.json parse, each safetensors file is as
    long as its header says, optimizer.pt / rng.pt are non-empty zip archives (torch.save's format)
    with a readable directory. A crash cannot cause these (the marker is written last); a disk that
    lost blocks, a copy cut short or a hand edit can.
    """
    path = Path(path)
    for name in (STATE_FILE, "config.json"):
        f = path / name
        if name == "config.json" and not f.exists():
            continue
        try:
            value = json.loads(f.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            return f"{f}: not readable JSON ({type(e).__name__})"
        if name == STATE_FILE and not (isinstance(value, dict) and isinstance(value.get("step"), int)):
            return f"{f}: no step in it"
    weights = sorted(path.glob("*.safetensors"))
    if not weights and not (path / "pytorch_model.bin").is_file():
        return f"{path}: no model weights (*.safetensors)"
    for f in weights:
        problem = _safetensors_damage(f)
        if problem:
            return f"{f}: {problem}"
    for name in ("optimizer.pt", "rng.pt"):
        f = path / name
        if not f.exists():
            continue
        if f.stat().st_size == 0:
            return f"{f}: empty"
        try:
            with zipfile.ZipFile(f) as z:
                z.namelist()
        except (zipfile.BadZipFile, OSError) as e:
            return f"{f}: not a whole torch.save archive ({e})"
    return None


def _safetensors_damage(f: Path) -> str | None:
    size = f.stat().st_size
    with f.open("rb") as fh:
        head = fh.read(8)
        if len(head) < 8:
            return f"truncated ({size} bytes)"
        n = struct.unpack("<Q", head)[0]
        if n > size - 8:
            return f"truncated: header of {n} bytes in a {size}-byte file"
        try:
            header = json.loads(fh.read(n))
        except ValueError:
            return "header is not JSON"
    ends = [t["data_offsets"][1] for k, t in header.items() if k != "__metadata__" and isinstance(t, dict)]
    expected = 8 + n + max(ends, default=0)
    if size != expected:
        return f"truncated: {size} of {expected} bytes"
    return None


def read_state(path: str | Path) -> dict:
    return json.loads((Path(path) / STATE_FILE).read_text(encoding="utf-8"))


def prune(run_dir: str | Path, keep_last: int) -> None:
    """Keep the newest `keep_last` complete checkpoints; remove older ones and stale temp dirs."""
    found = complete_checkpoints(run_dir)
    for _, path in found[: max(0, len(found) - keep_last)]:
        shutil.rmtree(path, ignore_errors=True)
    for tmp in checkpoints_dir(run_dir).glob(".step_*.tmp"):  # left by a crash mid-write
        shutil.rmtree(tmp, ignore_errors=True)
