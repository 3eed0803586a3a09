"""`golddiff sft TASKS.parquet --model tiny --out DIR [--steps N | --epochs E] [--lr --batch-size --max-len]`.

Supervised warm start on the tasks' gold answers (see `golddiff.sft`): chat-template prompt + gold answer,
loss on the answer tokens only, AdamW; the model is saved in Hugging Face format to DIR (with
`sft_metrics.jsonl`). Ends with one JSON line: steps, examples, first and last loss, seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("tasks", help="tasks.parquet from `golddiff tasks` (or the demo)")
    p.add_argument("--model", default="tiny", help="'tiny', 'small', a model directory or a hub id")
    p.add_argument("--out", required=True, help="directory to save the fine-tuned model in")
    p.add_argument("--split", default="train", help="which split to train on ('all' for every task)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: --epochs passes)")
    p.add_argument("--epochs", type=float, default=1.0, help="passes over the data when --steps is not given")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default 3e-3, for tiny)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--max-len", type=int, default=1024, help="longer examples (prompt + answer) are left out")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--autocast",
        choices=("off", "bf16", "auto"),
        default="auto",
        help="bf16 autocast (fp32 weights and optimizer); auto: where the CPU/GPU has bf16 (default)",
    )
    p.add_argument(
        "--answer-style",
        choices=("gold", "from_top"),
        default="gold",
        help="gold: the task's minimal answer; from_top: SEARCH from each file's first line",
    )
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars from model loading
    from golddiff.progress import train_sft_with_progress
    from golddiff.sft import SFTConfig, total_steps
    from golddiff.tasks import read_split

    try:
        chosen = read_split(args.tasks, args.split)
    except ValueError as e:
        print(f"golddiff sft: {e}", file=sys.stderr)
        return 1
    config = SFTConfig(
        model=args.model,
        steps=args.steps,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        max_len=args.max_len,
        seed=args.seed,
        device=args.device,
        autocast=args.autocast,
        answer_style=args.answer_style,
        threads=args.threads,
    )
    total = total_steps(config, len(chosen))
    try:
        result = train_sft_with_progress(chosen, config, args.out, total, args.quiet)
    except ValueError as e:
        print(f"golddiff sft: {e}", file=sys.stderr)
        return 1
    print(
        f"golddiff sft: {result.steps} steps on {result.examples} examples ({result.skipped_too_long} too long) "
        f"in {result.seconds:.0f}s; answer loss {result.first_loss:.3f} -> {result.last_loss:.3f}; saved to {args.out}",
        file=sys.stderr,
    )
    line = {
        "steps": result.steps,
        "examples": result.examples,
        "skipped_too_long": result.skipped_too_long,
        "first_loss": round(result.first_loss, 4),
        "last_loss": round(result.last_loss, 4),
        "tokens": result.tokens,
        "seconds": round(result.seconds, 1),
        "out": str(args.out),
    }
    print(json.dumps(line))
    return 0
