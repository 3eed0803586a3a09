"""The `golddiff` command. Each subcommand lives in `golddiff/commands/<name>.py` and is imported only
when it runs, so `golddiff --help` answers at once (no torch import).

A command module defines `add_arguments(parser)` and `run(args) -> int`; its one-line help is here, in
`COMMANDS` (the one place it is written), so listing the commands imports none of them.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Order is the order `golddiff --help` lists them.
COMMANDS: dict[str, tuple[str, str]] = {
    "demo": (
        "golddiff.commands.demo",
        "the whole pipeline on the real SmolLM2-135M (or --model tiny): logs -> tasks -> SFT -> RL -> report",
    ),
    "ingest": ("golddiff.commands.ingest", "read coding-agent session logs into episodes.jsonl"),
    "episodes": ("golddiff.commands.episodes", "look at episodes: `golddiff episodes show FILE [ID]`"),
    "export": (
        "golddiff.commands.export",
        "write episodes as ATIF trajectories, chat messages or preference pairs",
    ),
    "tasks": (
        "golddiff.commands.tasks",
        "turn episodes into RL tasks (parquet), SFT data and preference pairs",
    ),
    "score": ("golddiff.commands.score", "score a file of answers against tasks with the gold-diff reward"),
    "sft": ("golddiff.commands.sft", "supervised warm start on the tasks' gold answers"),
    "train": ("golddiff.commands.train", "Pipeline RL training (or the sync baseline) from a YAML recipe"),
    "eval": ("golddiff.commands.eval", "sample answers from a model and score them"),
    "report": ("golddiff.commands.report", "an HTML report with plots from one or more run dirs"),
    "doctor": (
        "golddiff.commands.doctor",
        "check a model and config for the failures that silently ruin runs",
    ),
    "plan": ("golddiff.commands.plan", "plan how to shard the learner on a cluster"),
    "simulate": ("golddiff.commands.simulate", "simulate sync vs Pipeline RL on a cluster"),
}


def _available() -> dict[str, tuple[str, str]]:
    """Commands whose module is present in this installation."""
    from importlib.util import find_spec

    return {name: spec for name, spec in COMMANDS.items() if find_spec(spec[0]) is not None}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="golddiff",
        description="Turn coding-agent session logs into gold diffs, training data and a better open coding model.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module, help_text) in _available().items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == only:
            importlib.import_module(module).add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    available = _available()
    name = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=name if name in available else None)
    if name is None or name not in available:
        if name is not None:
            parser.error(f"unknown command {name!r}; choose one of: {', '.join(available)}")
        parser.print_help()
        return 0 if any(a in ("-h", "--help") for a in argv) else 2
    args = parser.parse_args(argv)
    module = importlib.import_module(available[name][0])
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("golddiff: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        # a built-in model's wheel is missing: say the one command to run. Only a command that loaded
        # golddiff.pretrained can raise it, so the others (ingest, tasks, ...) never import it.
        pretrained = sys.modules.get("golddiff.pretrained")
        if pretrained is None or not isinstance(e, pretrained.ModelNotInstalled):
            raise
        print(f"golddiff: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
