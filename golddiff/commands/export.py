"""`golddiff export atif|messages|pairs episodes.jsonl -o OUT`: episodes in standard exchange formats."""

from __future__ import annotations

import argparse
import json
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("kind", choices=["atif", "messages", "pairs"], help="what to write")
    p.add_argument("episodes", help="episodes.jsonl from `golddiff ingest`")
    p.add_argument("-o", "--out", required=True, help="output JSONL (overwritten)")


def run(args: argparse.Namespace) -> int:
    from golddiff.episodes import read_episodes
    from golddiff.tasks.export import to_atif, to_messages

    n = skipped = 0
    try:
        with open(args.out, "w", encoding="utf-8") as out:
            for ep in read_episodes(args.episodes):
                if args.kind == "pairs":
                    rows = _pairs(ep)
                    skipped += not rows
                else:
                    rows = [to_atif(ep) if args.kind == "atif" else to_messages(ep)]
                for row in rows:
                    out.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
    except (OSError, ValueError) as e:
        print(f"golddiff export: {e}", file=sys.stderr)
        return 2
    note = f" ({skipped} episodes had no rejected attempt to pair)" if args.kind == "pairs" else ""
    print(f"wrote {n} {args.kind} records to {args.out}{note}", file=sys.stderr)
    return 0


def _pairs(ep) -> list[dict]:
    from golddiff.tasks.export import pairs_from_episode

    return pairs_from_episode(ep)
