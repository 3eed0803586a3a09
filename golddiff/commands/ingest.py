"""`golddiff ingest PATH... -o episodes.jsonl`: session logs (or a git history) -> episodes."""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "paths",
        nargs="*",
        help="log files, folders (walked recursively) or globs; default: ~/.claude/projects ~/.codex/sessions",
    )
    p.add_argument("-o", "--out", default="episodes.jsonl", help="output JSONL; existing episodes are kept")
    p.add_argument("--format", dest="fmt", help="force a format instead of detecting it from content")
    p.add_argument("--repo", help="the git repository the sessions ran in: link episodes to their commits")
    p.add_argument("--git", metavar="REPO", help="also turn each commit of this repository into an episode")
    p.add_argument("--rev", help="with --git: a revision range, e.g. v1.0..main (default: all of HEAD)")
    p.add_argument(
        "--include", action="append", help="with --git: only files matching this glob (repeatable)"
    )
    p.add_argument(
        "--exclude", action="append", help="with --git: skip files matching this glob (repeatable)"
    )
    p.add_argument("--max-files", type=int, default=20, help="with --git: skip commits touching more files")
    p.add_argument(
        "--max-diff-chars", type=int, default=50_000, help="with --git: skip commits with bigger diffs"
    )
    p.add_argument("--no-split-on-clear", action="store_true", help="do not start a new episode at /clear")
    p.add_argument("--stats", action="store_true", help="print a summary table and a last JSON line")
    p.add_argument(
        "-j", "--jobs", type=int, default=0, help="processes reading files in parallel (0: one per core)"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, no per-record messages")


def run(args: argparse.Namespace) -> int:
    from golddiff.traces.detect import READERS
    from golddiff.traces.git.repo import GitError
    from golddiff.traces.ingest import DEFAULT_PATHS, ingest, stats_summary
    from golddiff.traces.session import IngestReport, ReadOptions

    if args.fmt and args.fmt not in READERS:
        print(
            f"golddiff ingest: unknown --format {args.fmt!r}; choose one of: {', '.join(READERS)}",
            file=sys.stderr,
        )
        return 2
    paths = args.paths or ([] if args.git else list(DEFAULT_PATHS))
    report = IngestReport(quiet=args.quiet)
    opts = ReadOptions(repo=args.repo, split_on_clear=not args.no_split_on_clear)
    try:
        extra = _git_episodes(args, report) if args.git else ()
        jobs = args.jobs or os.cpu_count() or 1
        ingest(paths, args.out, args.fmt, args.repo, report, opts, not args.quiet, extra, jobs=jobs)
    except (GitError, FileNotFoundError) as e:
        print(f"golddiff ingest: {e}", file=sys.stderr)
        return 2
    summary = stats_summary(report)
    if args.stats:
        _print_table(summary)
        print(json.dumps(summary))
    elif not args.quiet:
        print(
            f"{summary['episodes']} new episodes ({summary['episodes_already_present']} already present) "
            f"from {summary['files']} files -> {args.out}; {summary['skipped_records']} records skipped",
            file=sys.stderr,
        )
    if summary["episodes"] + summary["episodes_already_present"] == 0:
        print(
            "golddiff ingest: no episodes found. Pass Claude Code / Codex / Aider / SWE-agent / OpenHands logs "
            "(or --git REPO); see `golddiff ingest --help`.",
            file=sys.stderr,
        )
        return 1
    return 0


def _git_episodes(args: argparse.Namespace, report):
    from golddiff.traces.git.history import read_repo

    return read_repo(
        args.git,
        report,
        rev_range=args.rev,
        max_files=args.max_files,
        max_diff_chars=args.max_diff_chars,
        include_globs=args.include,
        exclude_globs=args.exclude,
    )


def _print_table(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="golddiff ingest", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for key in (
        "files",
        "records",
        "episodes",
        "episodes_already_present",
        "edits",
        "gold_edits",
        "negative_edits",
        "rejected_edits",
        "interrupts",
        "skipped_records",
        "unknown_records",
        "redactions",
    ):
        table.add_row(key.replace("_", " "), str(summary[key]))
    for group in ("by_format", "feedback", "skipped", "redactions_by_kind"):
        for k, v in summary[group].items():
            table.add_row(f"  {group.replace('_', ' ')}: {k}", str(v))
    Console(width=None if sys.stdout.isatty() else 120).print(table)
