"""Where each agent keeps its logs, on Linux, macOS and Windows: what a bare `golddiff ingest` reads.

    from golddiff.traces.locations import LOCATIONS, default_paths
    paths = default_paths()        # the locations that exist on this machine, `~` and `$HOMES` expanded
    print(locations_help())        # one line per agent, for `golddiff ingest --help`

One table, one row per agent: the reader's format, the globs, and how `--help` shows them. Globs name the
log folders, files or databases themselves, never an editor's whole settings folder (which holds every
extension's storage). `$NAME` is an agent's own home variable, honoured as the agent does, else its
default (`HOMES`). Pure Python, CPU only.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

# an agent's home variable -> its default when unset
HOMES = {
    "COPILOT_HOME": "~/.copilot",
    "PI_CODING_AGENT_DIR": "~/.pi/agent",
    "APPDATA": "~/AppData/Roaming",
}
# an editor's user-settings folder (VS Code and its forks) on Linux, macOS and Windows
_USER_DIRS = ("~/.config/{app}/User", "~/Library/Application Support/{app}/User", "$APPDATA/{app}/User")


def _in_editor(app: str, *tails: str) -> tuple[str, ...]:
    return tuple(d.format(app=app) + tail for d in _USER_DIRS for tail in tails)


@dataclass(frozen=True)
class Location:
    agent: str  # as `--help` names it
    fmt: str  # the reader (a key of `detect.READERS`)
    globs: tuple[str, ...]
    shown: str  # how `--help` shows where


LOCATIONS: tuple[Location, ...] = (
    Location("Claude Code", "claude_code", ("~/.claude/projects",), "~/.claude/projects"),
    Location("Codex", "codex", ("~/.codex/sessions",), "~/.codex/sessions"),
    Location("Gemini CLI", "gemini_cli", ("~/.gemini/tmp/*/chats",), "~/.gemini/tmp/*/chats"),
    Location(
        "Copilot CLI",
        "copilot_cli",
        ("$COPILOT_HOME/session-state/*/events.jsonl", "$COPILOT_HOME/history-session-state"),
        "~/.copilot/session-state and history-session-state",
    ),
    Location(
        "VS Code Copilot Chat",
        "copilot_vscode",
        _in_editor("Code*", "/workspaceStorage/*/chatSessions", "/globalStorage/emptyWindowChatSessions")
        + ("~/.vscode-server*/data/User/workspaceStorage/*/chatSessions",),
        ".../Code/User/workspaceStorage/*/chatSessions",
    ),
    Location("pi", "pi", ("$PI_CODING_AGENT_DIR/sessions",), "~/.pi/agent/sessions"),
)


def expand(raw: str) -> str:
    """A location with the agents' home variables (their defaults when unset), other variables and `~`
    expanded."""
    for name, default in HOMES.items():
        raw = raw.replace(f"${name}", os.environ.get(name) or default)
    return os.path.expanduser(os.path.expandvars(raw))


def default_paths() -> list[str]:
    """The default locations that exist on this machine, expanded (none: `locations_help()` says where
    golddiff looked)."""
    paths = [expand(g) for loc in LOCATIONS for g in loc.globs]
    return [p for p in paths if glob.glob(p)]


def locations_help() -> str:
    """Where each agent keeps its logs, as `golddiff ingest --help` says it."""
    return ", ".join(f"{loc.agent} {loc.shown}" for loc in LOCATIONS)
