"""Resume with a damaged latest checkpoint: the damaged file is named and the newest intact checkpoint
is used (its ledger steps kept, later ones void). Real checkpoint files written by torch/safetensors."""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from golddiff.rl.checkpoint import damage, write_checkpoint
from golddiff.rl.config import load_train_config
from golddiff.rl.ledger import Ledger
from golddiff.rl.rundir import prepare_run_dir

ROOT = Path(__file__).resolve().parents[1]


def _save(step: int):
    def save_model(out: Path) -> None:
        save_file({"w": torch.full((64, 64), float(step))}, str(out / "model.safetensors"))
        (out / "config.json").write_text(json.dumps({"model_type": "tiny"}))
        torch.save({"state": {"w": torch.zeros(64)}, "step": step}, out / "optimizer.pt")
        torch.save({"torch": torch.get_rng_state()}, out / "rng.pt")

    return save_model


def _run_dir(tmp_path: Path):
    cfg = load_train_config(ROOT / "configs" / "test-tiny.yaml", [f"--run.dir={tmp_path / 'run'}"])
    prepare_run_dir(cfg, resume=False)
    run = Path(cfg.run.dir)
    ledger = Ledger(run)
    for step in (1, 2, 3):
        ledger.record_step(step, [(2 * step - 2, f"p{2 * step - 2}"), (2 * step - 1, f"p{2 * step - 1}")])
        if step in (1, 2):
            write_checkpoint(run, step, _save(step), {"step": step, "elapsed_s": float(step)}, keep_last=3)
    ledger.close()
    return cfg, run


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    "broken, how",
    [
        ("model.safetensors", _truncate),
        ("state.json", lambda p: p.write_text('{"step": 2, "elapsed')),
        ("optimizer.pt", lambda p: p.write_bytes(b"")),
        ("rng.pt", _truncate),
    ],
)
def test_resume_names_the_damaged_file_and_takes_the_newest_intact_checkpoint(tmp_path, capsys, broken, how):
    cfg, run = _run_dir(tmp_path)
    assert damage(run / "checkpoints" / "step_2") is None
    how(run / "checkpoints" / "step_2" / broken)
    state = prepare_run_dir(cfg, resume=True)
    err = capsys.readouterr().err
    assert state.step == 1 and state.checkpoint == run / "checkpoints" / "step_1"
    assert state.consumed == {0, 1}  # the prompts of steps 2 and 3 are issued again
    assert f"step_2/{broken}" in err and "resuming from step_1" in err
    assert (run / "checkpoints" / ".damaged-step_2" / broken).exists()  # kept for inspection


def test_every_checkpoint_damaged_starts_over_and_says_so(tmp_path, capsys):
    cfg, run = _run_dir(tmp_path)
    for step in (1, 2):
        (run / "checkpoints" / f"step_{step}" / "optimizer.pt").write_bytes(b"")
    state = prepare_run_dir(cfg, resume=True)
    assert state.step == 0 and state.checkpoint is None and state.consumed == set()
    assert "no intact checkpoint left" in capsys.readouterr().err
