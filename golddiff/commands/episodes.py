"""`golddiff episodes show FILE [ID]`: a readable view of episodes (a list, or one in full)."""

from __future__ import annotations

import argparse
import sys

_STATUS_STYLE = {
    "applied": "green",
    "rejected": "red",
    "failed": "red",
    "superseded": "yellow",
    "reverted": "yellow",
    "not_in_gold": "magenta",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    show = sub.add_parser("show", help="list the episodes of FILE, or show episode ID (or index) in full")
    show.add_argument("file")
    show.add_argument("id", nargs="?", help="an episode id (a prefix is enough) or a 0-based index")
    show.add_argument("--max-chars", type=int, default=400, help="cut long messages and outputs to this")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from golddiff.episodes import read_episodes

    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        episodes = read_episodes(args.file)
        if args.id is None:
            _list(console, episodes)
            return 0
        for i, ep in enumerate(episodes):
            if ep.episode_id.startswith(args.id) or args.id == str(i):
                _show(console, ep, args.max_chars)
                return 0
    except (OSError, ValueError) as e:
        print(f"golddiff episodes: {e}", file=sys.stderr)
        return 2
    print(
        f"golddiff episodes: no episode {args.id!r} in {args.file}; run without an id to list them",
        file=sys.stderr,
    )
    return 1


def _cut(text: str | None, n: int) -> str:
    text = (text or "").strip()
    return text if len(text) <= n else text[:n] + f" [... {len(text) - n} more chars]"


def _list(console, episodes) -> None:
    from rich.table import Table

    table = Table(show_lines=False)
    for col in ("#", "episode", "tool", "task", "turns", "edits", "gold", "neg", "final"):
        table.add_column(col, no_wrap=col != "task", overflow="ellipsis")
    for i, ep in enumerate(episodes):
        table.add_row(
            str(i),
            ep.episode_id,
            ep.source.tool,
            _cut(ep.task.replace("\n", " "), 60),
            str(len(ep.turns)),
            str(len(ep.edits)),
            str(len(ep.labels.gold_edits)),
            str(len(ep.labels.negative_edits)),
            ep.final.source,
        )
    console.print(table)


def _show(console, ep, n: int) -> None:
    from rich.markup import escape
    from rich.rule import Rule
    from rich.syntax import Syntax

    src = ep.source
    console.print(Rule(f"episode {ep.episode_id}"))
    console.print(
        f"[bold]source[/]  {src.tool} {src.version or ''}  {escape(src.path)}  session {src.session_id}  segment {src.segment}"
    )
    console.print(
        f"[bold]repo[/]    cwd {escape(str(ep.repo.cwd))}  branch {ep.repo.branch}  base {ep.repo.base_commit}  "
        f"({ep.repo.base_state_confidence}; {len(ep.repo.base_files)} base files)"
    )
    console.print(f"[bold]task[/]    {escape(_cut(ep.task, n))}")
    edits = {e.edit_id: e for e in ep.edits}
    for turn in ep.turns:
        console.print(Rule(f"turn {turn.index} ({turn.user_kind})", style="dim"))
        if turn.user:
            console.print(f"[bold cyan]user:[/] {escape(_cut(turn.user, n))}")
        for step in turn.steps:
            if step.kind == "tool_call" and step.call:
                err = " [red](error)[/]" if step.call.is_error else ""
                console.print(f"  [blue]{step.call.name}[/]{err} {escape(_cut(str(step.call.input), 120))}")
            elif step.kind == "note":
                console.print(f"  [dim cyan]{escape(_cut(step.text, n))}[/]")
            elif step.kind == "thinking":
                console.print(f"  [dim]thinking: {escape(_cut(step.text, 120))}[/]")
            else:
                console.print(f"  {escape(_cut(step.text, n))}")
        for eid in turn.edits:
            e = edits[eid]
            style = _STATUS_STYLE.get(e.status, "white")
            why = f" - {escape(_cut(e.reason, 100))}" if e.reason else ""
            console.print(f"  [{style}]edit {e.edit_id} {e.status}[/] {escape(e.path)} ({e.tool}){why}")
        for f in turn.feedback:
            console.print(f"  [red]feedback: {f.kind}[/] {escape(_cut(f.text, n))}")
    console.print(
        Rule(f"gold diff ({ep.final.source}{' ' + ep.final.commit[:12] if ep.final.commit else ''})")
    )
    console.print(Syntax(ep.final.diff or "(no change)", "diff", word_wrap=True))
    if ep.final.human_diff:
        console.print(Rule("the human's own changes on top of the agent's"))
        console.print(Syntax(ep.final.human_diff, "diff", word_wrap=True))
    for e in ep.negative_edits():
        console.print(Rule(f"negative {e.edit_id}: {e.status} {e.path}", style="red"))
        console.print(Syntax(_cut(e.diff, 4000) or "(empty)", "diff", word_wrap=True))
    if ep.provenance.redactions or ep.provenance.warnings:
        console.print(Rule("provenance", style="dim"))
        console.print(f"redactions {ep.provenance.redactions}")
        for w in ep.provenance.warnings:
            console.print(f"[yellow]warning[/] {escape(w)}")
