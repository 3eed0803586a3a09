"""Where a run's figures go: metrics.jsonl (always), TensorBoard and W&B (when asked), rollouts.jsonl, and
a progress display (rich on a terminal, plain lines otherwise).

metrics.jsonl has one JSON object per optimizer step with `step`, `time/elapsed_s` and the required
metrics (REQUIRED below), plus generation lengths (`gen/len_mean`, `gen/len_p50`, `gen/len_p99`,
`gen/active_seqs_mean`, `gen/decode_step_s`: what `golddiff simulate --calibrate` fits) and the per-step
lag histogram `off_policy/lag_hist` (trained tokens at lag 0, 1, …). TensorBoard and W&B get the scalars.
`percentile` / `length_stats` are the one definition of the length percentiles: the simulator's rows
(`golddiff.sim.report`) use them too, so calibration reads the same figures from both.
No torch at import (TensorBoard's writer is imported only when enabled).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

REQUIRED = (
    "reward/mean",
    "reward/format_error_rate",
    "loss/pg",
    "optim/grad_norm",
    "off_policy/lag_mean",
    "off_policy/lag_max",
    "off_policy/ess",
    "off_policy/mismatch_kl",
    "off_policy/clip_frac",
    "perf/gen_tokens_per_s",
    "perf/train_tokens_per_s",
    "perf/learner_idle_frac",
    "time/weight_sync_s",
    "time/step_s",
    "data/stale_dropped",
)
GEN = ("gen/len_mean", "gen/len_p50", "gen/len_p99", "gen/active_seqs_mean")
METRICS_FILE, ROLLOUTS_FILE = "metrics.jsonl", "rollouts.jsonl"


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of a non-empty list."""
    xs = sorted(values)
    k = (len(xs) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def length_stats(lengths: list[int]) -> dict[str, float]:
    if not lengths:
        return {"gen/len_mean": 0.0, "gen/len_p50": 0.0, "gen/len_p99": 0.0}
    return {
        "gen/len_mean": sum(lengths) / len(lengths),
        "gen/len_p50": percentile(lengths, 50),
        "gen/len_p99": percentile(lengths, 99),
    }


def keep_rows_until(path: Path, step: int) -> None:
    """Rewrite a JSONL file keeping rows with `step` ≤ the given step (a resume rewinds to a checkpoint)."""
    if not path.exists():
        return
    kept = [ln for ln in path.read_text(encoding="utf-8").splitlines() if _row_step(ln) <= step]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")
    tmp.replace(path)


def _row_step(line: str) -> float:
    try:
        return float(json.loads(line).get("step", math.inf))
    except ValueError:
        return math.inf  # a torn line: dropped


class MetricsWriter:
    def __init__(
        self, run_dir: Path, tensorboard: bool = False, wandb: bool = False, **wandb_init: Any
    ) -> None:
        self.file = (run_dir / METRICS_FILE).open("a", encoding="utf-8")
        self.rollouts = (run_dir / ROLLOUTS_FILE).open("a", encoding="utf-8")
        self.tb = self.wandb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise RuntimeError(
                    "run.tensorboard needs tensorboard: pip install 'golddiff[tensorboard]'"
                ) from None
            self.tb = SummaryWriter(str(run_dir / "tensorboard"))
        if wandb:
            try:
                import wandb as wandb_module
            except ImportError:
                raise RuntimeError("run.wandb needs wandb: pip install 'golddiff[wandb]'") from None
            self.wandb = wandb_module.init(dir=str(run_dir), **wandb_init)

    def log(self, row: dict[str, Any]) -> None:
        self.file.write(json.dumps(row) + "\n")
        self.file.flush()
        scalars = {k: v for k, v in row.items() if isinstance(v, int | float) and k != "step"}
        if self.tb is not None:
            for key, value in scalars.items():
                self.tb.add_scalar(key, value, row["step"])
        if self.wandb is not None:
            self.wandb.log(scalars, step=row["step"])

    def log_rollouts(self, rows: list[dict[str, Any]]) -> None:
        self.rollouts.writelines(json.dumps(r) + "\n" for r in rows)
        self.rollouts.flush()

    def close(self) -> None:
        self.file.close()
        self.rollouts.close()
        if self.tb is not None:
            self.tb.close()
        if self.wandb is not None:
            self.wandb.finish()


def _line(row: dict[str, Any], steps: int) -> str:
    return (
        f"step {row['step']}/{steps}  reward {row['reward/mean']:.3f}  lag {row['off_policy/lag_mean']:.2f}"
        f"  ess {row['off_policy/ess']:.3f}  gen {row['perf/gen_tokens_per_s']:.0f} tok/s"
        f"  step {row['time/step_s']:.2f}s"
    )


class Progress:
    """A rich progress bar on a terminal (`mode` auto/rich), one plain line per step otherwise."""

    def __init__(self, steps: int, first_step: int, mode: str = "auto") -> None:
        self.steps, self.mode = steps, mode
        if mode == "auto":
            self.mode = "rich" if sys.stdout.isatty() else "plain"
        self._bar = None
        if self.mode == "rich":
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                TextColumn("[bold]train"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                TextColumn("{task.fields[info]}"),
            )  # fmt: skip
            self._task = self._bar.add_task("train", total=steps, completed=first_step, info="")
            self._bar.start()

    def update(self, row: dict[str, Any]) -> None:
        if self.mode == "plain":
            print(_line(row, self.steps), flush=True)
        elif self._bar is not None:
            info = _line(row, self.steps).split("  ", 1)[1]
            self._bar.update(self._task, completed=row["step"], info=info)

    def note(self, text: str) -> None:
        if self._bar is not None:
            self._bar.console.print(text)
        elif self.mode != "off":
            print(text, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
