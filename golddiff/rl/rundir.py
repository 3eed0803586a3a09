"""The run dir: a new one (refusing to overwrite a run), or the state to resume one from.

    RUN_DIR/config.yaml       the resolved config (rewritten on resume, with the overrides given then)
    RUN_DIR/metrics.jsonl     RUN_DIR/rollouts.jsonl     RUN_DIR/ledger.jsonl     RUN_DIR/checkpoints/step_N/

Resuming takes the last complete checkpoint whose files are whole (a damaged newer one is named, set aside
and skipped; `checkpoint.damage`) (step N, its weights, optimizer and RNG files), the ledger's
steps 1..N (their prompts are never issued again; prompts of later, void steps are), and drops metrics and
rollout rows after N. No torch.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from golddiff.jsonl import print_note
from golddiff.rl.checkpoint import complete_checkpoints, damage, read_state
from golddiff.rl.config import TrainConfig
from golddiff.rl.ledger import LEDGER_FILE, consumed_positions, read_ledger
from golddiff.rl.messages import ModelInit
from golddiff.rl.metrics import METRICS_FILE, ROLLOUTS_FILE, keep_rows_until

CONFIG_FILE = "config.yaml"


@dataclass
class RunState:
    """Where a run starts: step and weights (a checkpoint when resuming), prompts already consumed."""

    step: int = 0
    init: ModelInit = field(default_factory=ModelInit)
    consumed: set[int] = field(default_factory=set)
    skipped: int = 0
    elapsed_s: float = 0.0
    checkpoint: Path | None = None


def holds_run(run_dir: Path) -> bool:
    """A run has written metrics, a ledger line or a checkpoint here."""
    written = any(
        (run_dir / name).is_file() and (run_dir / name).stat().st_size for name in (METRICS_FILE, LEDGER_FILE)
    )
    return written or bool(complete_checkpoints(run_dir))


def save_config(cfg: TrainConfig, run_dir: Path) -> None:
    text = yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False)
    (run_dir / CONFIG_FILE).write_text(text, encoding="utf-8")


def prepare_run_dir(cfg: TrainConfig, resume: bool) -> RunState:
    """A new run dir (refusing one that holds a run), or the state to resume from."""
    run_dir = Path(cfg.run.dir)
    if not resume:
        if holds_run(run_dir):
            raise RuntimeError(
                f"{run_dir} already holds a run: continue it with --resume {run_dir}, or pick another --run.dir"
            )
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir)
        return RunState()
    latest = intact_checkpoint(run_dir)
    step, path = latest if latest else (0, None)
    effective = [s for s in read_ledger(run_dir) if s.step <= step]
    if [s.step for s in effective] != list(range(1, step + 1)):
        raise RuntimeError(f"{run_dir}/ledger.jsonl does not hold steps 1..{step} of checkpoint step_{step}")
    consumed, skipped = consumed_positions(effective)
    for name in (METRICS_FILE, ROLLOUTS_FILE):
        keep_rows_until(run_dir / name, step)
    save_config(cfg, run_dir)
    if path is None:
        return RunState(consumed=consumed, skipped=skipped)
    init = ModelInit(str(path), step, str(path / "optimizer.pt"), str(path / "rng.pt"))
    return RunState(step, init, consumed, skipped, float(read_state(path).get("elapsed_s", 0.0)), path)


def intact_checkpoint(run_dir: Path) -> tuple[int, Path] | None:
    """The newest complete checkpoint whose files are whole; damaged newer ones are named, set aside
    (renamed `.damaged-step_N`, kept for inspection) and skipped."""
    found = complete_checkpoints(run_dir)
    for i in range(len(found) - 1, -1, -1):
        step, path = found[i]
        problem = damage(path)
        if problem is None:
            return step, path
        aside = path.with_name(f".damaged-{path.name}")
        shutil.rmtree(aside, ignore_errors=True)
        path.rename(aside)
        older = f"step_{found[i - 1][0]}" if i > 0 else "the start (no intact checkpoint left)"
        print_note(
            f"checkpoint {path.name} is damaged ({problem}); moved it to {aside.name} and resuming from {older}"
        )
    return None


def check_extras(cfg: TrainConfig) -> None:
    """The optional packages the config asks for are installed (checked before anything is written)."""
    from importlib.util import find_spec

    wanted = {"peft": cfg.rl.lora.enabled, "tensorboard": cfg.run.tensorboard, "wandb": cfg.run.wandb}
    extra = {"peft": "lora", "tensorboard": "tensorboard", "wandb": "wandb"}
    missing = [name for name, on in wanted.items() if on and find_spec(name) is None]
    if missing:
        hint = " ".join(f"'golddiff[{extra[m]}]'" for m in missing)
        raise RuntimeError(
            f"the config needs {', '.join(missing)}, which is not installed: pip install {hint}"
        )
