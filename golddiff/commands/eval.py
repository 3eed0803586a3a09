"""`golddiff eval --model PATH --tasks tasks.parquet [--split heldout] [--samples K --temperature T]
[--engine builtin|vllm]`.

Samples K answers per task with the engine and scores them (see `golddiff.evaluate`): mean gold-diff
reward, exact-match rate, format-error rate and the SWE-RL reward, each over tasks with a 95% confidence
interval. Writes each task's answers and scores to `--out` (JSONL; the summary beside it as
`<out>.summary.json`), prints a table, and ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        required=True,
        help="a model directory (e.g. a checkpoint), 'smollm2-135m', 'tiny', a .gguf file or a hub id",
    )
    p.add_argument("--tasks", required=True, help="tasks.parquet")
    p.add_argument("--split", default="heldout", help="which split to evaluate ('all' for every task)")
    p.add_argument("--samples", type=int, default=4, help="answers sampled per task (default 4)")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (0 = greedy)")
    p.add_argument("--max-new-tokens", type=int, default=256)
    p.add_argument("--max-len", type=int, default=1024, help="prompt + answer tokens per sequence")
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N tasks of the split")
    p.add_argument("--out", default="eval.jsonl", help="per-task answers and scores (JSONL)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--engine", choices=("builtin", "vllm"), default="builtin", help="generation engine (vllm: pip extra)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no table")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars from model loading
    from golddiff.evaluate import EvalSettings, summary_line, write_eval
    from golddiff.progress import evaluate_with_progress
    from golddiff.tasks import read_split

    try:
        tasks = read_split(args.tasks, args.split, args.limit)
    except ValueError as e:
        print(f"golddiff eval: {e}", file=sys.stderr)
        return 1
    settings = EvalSettings(
        samples=args.samples,
        temperature=args.temperature,
        max_new_tokens=args.max_new_tokens,
        max_len=args.max_len,
        seed=args.seed,
        device=args.device,
        engine=args.engine,
    )
    result = evaluate_with_progress(args.model, tasks, settings, args.quiet)
    write_eval(result, args.out)
    if not args.quiet:
        print_table({args.model: result.summary})
    print(f"golddiff eval: {len(result.tasks)} tasks x {args.samples} answers -> {args.out}", file=sys.stderr)
    print(json.dumps(summary_line(result.summary) | {"model": args.model, "out": args.out}))
    return 0


def print_table(summaries: dict[str, dict]) -> None:
    """One row per evaluated model: each metric's mean and 95% CI."""
    from rich.console import Console
    from rich.table import Table

    from golddiff.evaluate import METRICS

    table = Table(title="held-out evaluation (mean over tasks, 95% CI)")
    table.add_column("model")
    table.add_column("tasks", justify="right")
    for m in METRICS:
        table.add_column(m.replace("_", " "), justify="right")
    for name, s in summaries.items():
        cells = [f"{s[m]['mean']:.3f} ± {s[m]['half_width']:.3f}" for m in METRICS]
        table.add_row(name, str(s["n_tasks"]), *cells)
    Console(stderr=True).print(table)
