"""Progress displays shared by the commands and the demo: a rich bar on stderr while a stage runs, nothing
with `quiet`. Each wraps one library call and returns its result unchanged.

    result = train_sft_with_progress(tasks, config, "runs/sft", total_steps, quiet=False)
    result = evaluate_with_progress("runs/sft", tasks, EvalSettings(samples=4), quiet=False)

rich (and the library called) is imported when a display runs, so importing this module is instant.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import Any


def train_sft_with_progress(tasks: Any, config: Any, out: Any, total: int, quiet: bool) -> Any:
    """`golddiff.sft.train_sft` with a bar of its steps and the last loss."""
    from golddiff.sft import train_sft

    if quiet:
        return train_sft(tasks, config, out)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    columns = (
        TextColumn("sft"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} steps  loss {task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, transient=True) as bar:
        tid = bar.add_task("sft", total=total, loss="-")
        return train_sft(
            tasks, config, out, on_step=lambda row: bar.update(tid, advance=1, loss=f"{row['loss']:.3f}")
        )


def evaluate_with_progress(model: Any, tasks: Any, settings: Any, quiet: bool, label: str = "eval") -> Any:
    """`golddiff.evaluate.evaluate` with a bar of the answers sampled and scored."""
    from golddiff.evaluate import evaluate

    if quiet:
        return evaluate(model, tasks, settings)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    ) as bar:
        tid = bar.add_task(label, total=len(tasks) * settings.samples)
        return evaluate(model, tasks, settings, on_answer=lambda done, total: bar.update(tid, completed=done))


def counter(label: str, unit: str, quiet: bool, stack: ExitStack) -> Callable[[], None]:
    """A spinner counting `unit`s while `stack` is open; returns the function that counts one more."""
    if quiet:
        return lambda: None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    bar = stack.enter_context(
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed} " + unit),
            TimeElapsedColumn(),
            transient=True,
        )
    )
    tid = bar.add_task(label, total=None)
    return lambda: bar.advance(tid)
