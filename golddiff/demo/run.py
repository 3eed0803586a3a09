"""The demo's driver: runs the stages in order, times and announces each, writes the summary."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golddiff.demo.settings import DemoSettings
from golddiff.demo.stages import eval_stage, ingest_stage, rl_stage, sft_stage, tasks_stage
from golddiff.demo.summary import NAMES, demo_summary, rl_figures, write_report
from golddiff.tasks import Task


@dataclass
class DemoResult:
    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


class _Stages:
    """Times each stage and announces it: `[3/6] sft ...` then its duration."""

    def __init__(self, total: int, quiet: bool) -> None:
        from rich.console import Console

        self.total, self.n, self.seconds = total, 0, {}
        self.console = Console(stderr=True, quiet=quiet)

    def say(self, text: str) -> None:
        self.console.print(f"      {text}")

    def run(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        self.n += 1
        self.console.print(f"[bold][{self.n}/{self.total}] {name}[/bold]: {what}")
        t0 = time.perf_counter()
        out = fn()
        self.seconds[name] = round(time.perf_counter() - t0, 1)
        self.console.print(f"      done in {self.seconds[name]:.0f}s")
        return out


def run_demo(s: DemoSettings) -> DemoResult:
    from golddiff.tasks import read_tasks_parquet

    t0 = time.perf_counter()
    s.out.mkdir(parents=True, exist_ok=True)
    st, result = _Stages(6 if s.rl else 5, s.quiet), DemoResult()
    st.say(f"model {s.model} ({s.profile} budgets); outputs in {s.out}")
    result.counts |= st.run(
        "ingest", "example logs + standard-library edits and bug fixes", lambda: ingest_stage(s, st.say)
    )
    result.counts |= st.run("tasks", "tasks with a held-out split", lambda: tasks_stage(s, st.say))
    tasks = read_tasks_parquet(s.out / "tasks.parquet")
    train = [t for t in tasks if t.split == "train"]
    heldout = [t for t in tasks if t.split == "heldout"][: s.eval_tasks]
    if not train or not heldout:
        raise ValueError(
            f"{len(train)} training and {len(heldout)} held-out tasks in {s.out / 'tasks.parquet'}: the demo "
            "needs both (raise --edits or --bugs, or --heldout)"
        )
    sft = st.run("sft", f"{s.sft_steps} steps on {len(train)} gold answers", lambda: sft_stage(s, train))
    rl_ckpt = None
    if s.rl:
        rl_ckpt = st.run(
            "rl", f"Pipeline RL, {s.rl_steps} steps from the SFT checkpoint", lambda: rl_stage(s)
        )
    evals = st.run(
        "eval",
        f"{len(heldout)} held-out tasks x {s.eval_samples} answers, per checkpoint",
        lambda: _evals(s, heldout, rl_ckpt),
    )
    result.summary = demo_summary(evals, sft, st.seconds, time.perf_counter() - t0, s.model)
    result.summary |= rl_figures(s.out / "rl") if s.rl else {}
    st.run("report", "report.html", lambda: write_report(s.out, evals, result.summary))
    result.stage_seconds = st.seconds
    result.summary |= {"stage_seconds": st.seconds, "minutes": round((time.perf_counter() - t0) / 60, 2)}
    (s.out / "demo_summary.json").write_text(
        json.dumps(result.summary | {"settings": s.model_dump(mode="json")}, indent=2) + "\n"
    )
    return result


def _evals(s: DemoSettings, heldout: list[Task], rl_ckpt: Path | None) -> dict[str, Any]:
    """The checkpoints on the same held-out tasks, same sampling: base (if asked), SFT, RL (if run)."""
    checkpoints: dict[str, str | Path] = {"base": s.model} if s.base_eval else {}
    checkpoints["sft"] = s.out / "sft"
    if rl_ckpt is not None:
        checkpoints["rl"] = rl_ckpt
    return {name: eval_stage(s, path, heldout, name) for name, path in checkpoints.items() if name in NAMES}
