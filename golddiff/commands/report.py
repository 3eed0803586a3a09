"""`golddiff report RUN_DIR [RUN_DIR...] [--eval EVAL.jsonl ...] -o report.html`.

One self-contained HTML page (plots embedded as PNG) from `golddiff train` run dirs and `golddiff eval`
files; see `golddiff.report`. Give a sync and a pipeline run to get the side-by-side comparison.
"""

from __future__ import annotations

import argparse
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run dirs written by `golddiff train`")
    p.add_argument(
        "--eval", action="append", default=[], metavar="EVAL.jsonl", help="an eval file (repeatable)"
    )
    p.add_argument("-o", "--out", default="report.html", help="the HTML file to write (default report.html)")
    p.add_argument("--title", default="golddiff training report")
    p.add_argument("--examples", type=int, default=4, help="held-out examples to show (default 4)")


def run(args: argparse.Namespace) -> int:
    from golddiff.report import build_report

    if not args.runs and not args.eval:
        print("golddiff report: give at least one RUN_DIR or --eval file", file=sys.stderr)
        return 2
    try:
        out = build_report(args.runs, args.eval, args.out, title=args.title, examples=args.examples)
    except (FileNotFoundError, ValueError) as err:
        print(f"golddiff report: {err}", file=sys.stderr)
        return 2
    print(f"golddiff report: wrote {out} ({out.stat().st_size / 1e3:.0f} kB)", file=sys.stderr)
    return 0
