"""`golddiff score tasks.parquet answers.jsonl`: the gold-diff reward (and SWE-RL's) of each answer.

answers.jsonl holds `{"task_id": ..., "answer": "..."}` per line. Prints a table (the first `--rows`
answers: the reward, its four parts added/removed/context/location, "-" for a part neither side has and
so not weighed, the penalty, SWE-RL's reward, and a note: the error, the size fallback, "exact", or
"floor" when the abstention rule's floor set the value) and, last, one JSON line: n, mean_reward,
format_error_rate, exact_match_rate, mean_swerl.
SWE-RL's reward is quadratic in the diff size, so diffs longer than `--swerl-max-chars` are not given it.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tasks", help="tasks.parquet from `golddiff tasks`")
    p.add_argument("answers", help="JSONL of {task_id, answer}")
    p.add_argument("--rows", type=int, default=40, help="answers shown in the table (default 40)")
    p.add_argument("--no-swerl", action="store_true", help="skip SWE-RL's reward")
    p.add_argument(
        "--swerl-max-chars",
        type=int,
        default=50_000,
        help="skip SWE-RL's reward when the answer is longer than this (it is quadratic)",
    )
    p.add_argument("--out", help="also write one JSON line per answer with every part of its score")


def read_answers(path: str) -> Iterator[tuple[int, str, str]]:
    """(line number, task_id, answer) per line; a bad line raises with the file and line."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                yield lineno, str(row["task_id"]), str(row["answer"])
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(f'{path}:{lineno}: expected {{"task_id": ..., "answer": ...}} ({e})') from e


def _score_all(args, tasks: dict) -> tuple[list[dict], int]:
    from golddiff.reward import prepare, score, swerl_score

    targets: dict = {}
    rows, unknown = [], 0
    for lineno, task_id, answer in read_answers(args.answers):
        task = tasks.get(task_id)
        if task is None:
            unknown += 1
            print(
                f"golddiff score: {args.answers}:{lineno}: no task {task_id!r} in {args.tasks}",
                file=sys.stderr,
            )
            continue
        if task_id not in targets:
            targets[task_id] = prepare(task)
        r = score(answer, targets[task_id])
        use_swerl = not args.no_swerl and len(answer) <= args.swerl_max_chars
        rows.append(
            {
                "task_id": task_id,
                "reward": r.value,
                "f1": r.f1,
                "penalty": r.penalty,
                "exact": r.exact,
                "error": r.error,
                "fallback": r.fallback,
                "floored": r.floored,
                "scored": list(r.scored) if r.error is None else [],
                "swerl": swerl_score(answer, task) if use_swerl else None,
            }
        )
    return rows, unknown


def summary(rows: list[dict]) -> dict:
    n = len(rows)
    swerl = [r["swerl"] for r in rows if r["swerl"] is not None]
    mean = lambda xs: round(sum(xs) / len(xs), 6) if xs else None  # noqa: E731
    return {
        "n": n,
        "mean_reward": mean([r["reward"] for r in rows]),
        "format_error_rate": mean([float(r["error"] is not None) for r in rows]),
        "exact_match_rate": mean([float(r["exact"]) for r in rows]),
        "mean_swerl": mean(swerl),
        "n_swerl": len(swerl),
    }


def _print_table(rows: list[dict], limit: int) -> None:
    from rich.console import Console
    from rich.table import Table

    from golddiff.reward import KINDS

    console = Console()
    table = Table(title=f"golddiff score ({min(limit, len(rows))} of {len(rows)} answers)")
    table.add_column("task", no_wrap=True)
    for name in ("reward", "add", "rem", "ctx", "loc", "pen", "swerl"):
        table.add_column(name, justify="right", no_wrap=True, min_width=5)
    table.add_column("note", no_wrap=True, overflow="ellipsis", max_width=max(8, console.width - 78))
    fmt = lambda x: "" if x is None else f"{x:.2f}"  # noqa: E731
    for r in rows[:limit]:
        note = (
            r["error"]
            or r["fallback"]
            or ("exact" if r["exact"] else "")
            or ("floor" if r["floored"] else "")
        )
        parts = [fmt(r["f1"].get(kind)) if kind in r["scored"] or r["error"] else "-" for kind in KINDS]
        table.add_row(
            "…" + r["task_id"].split(":")[0][-8:],
            fmt(r["reward"]),
            *parts,
            fmt(r["penalty"]),
            fmt(r["swerl"]),
            note,
        )
    console.print(table)


def run(args: argparse.Namespace) -> int:
    from golddiff.tasks import iter_tasks_parquet

    try:
        tasks = {t.task_id: t for t in iter_tasks_parquet(args.tasks)}
        rows, unknown = _score_all(args, tasks)
    except (OSError, ValueError) as e:
        print(f"golddiff score: {e}", file=sys.stderr)
        return 2
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    _print_table(rows, args.rows)
    result = summary(rows)
    result["unknown_task_ids"] = unknown
    print(json.dumps(result))
    return 0 if rows else 1
