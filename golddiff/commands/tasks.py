"""`golddiff tasks episodes.jsonl -o tasks.parquet [--split heldout=0.1 --seed 0] [--sft F] [--pairs F]`.

One RL task per episode (see `golddiff.tasks`); the split is drawn per session (or `--split-by repo`), so
no session is on both sides. `--sft` writes chat messages ending in the gold answer and the episode's
tool-use trajectory; `--pairs` writes `{prompt, chosen, rejected}` preference pairs. Episodes that cannot
make a task are skipped, each named with the reason, and counted.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from contextlib import ExitStack


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("episodes", help="episodes.jsonl from `golddiff ingest`")
    p.add_argument("-o", "--out", default="tasks.parquet", help="output Parquet (overwritten)")
    p.add_argument(
        "--split",
        default="heldout=0.1",
        help="held-out splits as NAME=FRACTION[,NAME=FRACTION]; the rest is 'train' (default heldout=0.1)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the split hash (default 0)")
    p.add_argument(
        "--split-by", choices=["session", "repo"], default="session", help="what a split keeps whole"
    )
    p.add_argument("--max-prompt-tokens", type=int, default=8000, help="prompt budget in ~tokens (chars/4)")
    p.add_argument(
        "--no-followups", action="store_true", help="leave the user's later messages out of prompts"
    )
    p.add_argument("--sft", metavar="OUT.jsonl", help="also write SFT records (gold answer and trajectory)")
    p.add_argument(
        "--sft-variant", choices=["answer", "trajectory", "both"], default="both", help="which SFT records"
    )
    p.add_argument("--pairs", metavar="OUT.jsonl", help="also write preference pairs (gold vs each rejected)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no per-episode messages")


def parse_splits(text: str) -> dict[str, float]:
    """'heldout=0.1,dev=0.05' -> {'heldout': 0.1, 'dev': 0.05}; fractions must sum to at most 1."""
    splits: dict[str, float] = {}
    for part in filter(None, (s.strip() for s in text.split(","))):
        name, sep, frac = part.partition("=")
        try:
            value = float(frac)
        except ValueError:
            value = -1.0
        if not sep or not name.strip() or not 0 <= value <= 1 or name.strip() == "train":
            raise ValueError(f"--split {text!r}: expected NAME=FRACTION pairs like heldout=0.1 (not 'train')")
        splits[name.strip()] = value
    if sum(splits.values()) > 1:
        raise ValueError(f"--split {text!r}: the fractions add up to more than 1")
    return splits


def _write_jsonl(f, rows: list[dict]) -> int:
    for row in rows:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return len(rows)


def _tasks(args, splits: dict[str, float], counts: Counter, sft_f, pairs_f, progress):
    """Yield a task per usable episode, writing its SFT records and pairs on the way."""
    from golddiff.episodes import read_episodes
    from golddiff.tasks import (
        TaskError,
        TaskSettings,
        group_key,
        preference_pairs,
        sft_answer_record,
        sft_trajectory_record,
        split_of,
        task_from_episode,
    )

    settings = TaskSettings(max_prompt_tokens=args.max_prompt_tokens, include_followups=not args.no_followups)
    for ep in read_episodes(args.episodes):
        counts["episodes"] += 1
        progress()
        group = group_key(ep, args.split_by)
        try:
            task = task_from_episode(ep, split_of(group, splits, args.seed), group, settings)
        except TaskError as e:
            counts["skipped"] += 1
            if not args.quiet:
                print(f"golddiff tasks: skipped episode {ep.episode_id}: {e}", file=sys.stderr)
            continue
        counts[f"split/{task.split}"] += 1
        counts["trimmed_prompts"] += task.prompt_trimmed
        counts["negatives"] += len(task.negatives)
        if sft_f is not None:
            rows = []
            if args.sft_variant in ("answer", "both"):
                rows.append(sft_answer_record(task))
            if args.sft_variant in ("trajectory", "both"):
                rows.append(sft_trajectory_record(ep, task))
            counts["sft_records"] += _write_jsonl(sft_f, rows)
        if pairs_f is not None:
            counts["pairs"] += _write_jsonl(pairs_f, preference_pairs(task))
        yield task


def run(args: argparse.Namespace) -> int:
    from golddiff.progress import counter
    from golddiff.tasks import write_tasks_parquet

    try:
        splits = parse_splits(args.split)
    except ValueError as e:
        print(f"golddiff tasks: {e}", file=sys.stderr)
        return 2
    counts: Counter = Counter()
    try:
        with ExitStack() as stack:
            sft_f = stack.enter_context(open(args.sft, "w", encoding="utf-8")) if args.sft else None
            pairs_f = stack.enter_context(open(args.pairs, "w", encoding="utf-8")) if args.pairs else None
            tick = counter("golddiff tasks", "episodes", args.quiet, stack)
            n = write_tasks_parquet(_tasks(args, splits, counts, sft_f, pairs_f, tick), args.out)
    except (OSError, ValueError) as e:
        print(f"golddiff tasks: {e}", file=sys.stderr)
        return 2
    by_split = ", ".join(
        f"{k.split('/', 1)[1]} {v}" for k, v in sorted(counts.items()) if k.startswith("split/")
    )
    extra = "".join(f"; {counts[k]} {k.replace('_', ' ')}" for k in ("sft_records", "pairs") if k in counts)
    print(
        f"golddiff tasks: {n} tasks ({by_split or 'none'}) from {counts['episodes']} episodes -> {args.out}; "
        f"{counts['skipped']} skipped; {counts['trimmed_prompts']} prompts trimmed{extra}",
        file=sys.stderr,
    )
    if n == 0:
        print("golddiff tasks: no episode made a task (see the messages above)", file=sys.stderr)
        return 1
    return 0
