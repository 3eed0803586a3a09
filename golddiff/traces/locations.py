"""Where each agent keeps its logs, on Linux, macOS and Windows: what a bare `golddiff ingest` reads.

    from golddiff.traces.locations import LOCATIONS, default_paths
    paths = default_paths()        # the locations that exist on this machine, `~` and `$HOMES` expanded
    print(locations_help())        # every agent and where, for `golddiff ingest --help`

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


# editors that host the Cline / Roo Code extensions (VS Code and its forks), and the extensions' ids
_HOSTS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
_EXTENSIONS = ("saoudrizwan.claude-dev", "rooveterinaryinc.roo-cline")


@dataclass(frozen=True)
class Location:
    fmt: str  # the reader (a key of `detect.READERS`)
    globs: tuple[str, ...]
    shown: str  # the agent and where, as `--help` says it


LOCATIONS: tuple[Location, ...] = (
    Location("claude_code", ("~/.claude/projects",), "Claude Code ~/.claude/projects"),
    Location("codex", ("~/.codex/sessions",), "Codex ~/.codex/sessions"),
    Location("gemini_cli", ("~/.gemini/tmp/*/chats",), "Gemini CLI ~/.gemini/tmp/*/chats"),
    Location(
        "copilot_cli",
        ("$COPILOT_HOME/session-state/*/events.jsonl", "$COPILOT_HOME/history-session-state"),
        "Copilot CLI ~/.copilot/session-state and history-session-state",
    ),
    Location(
        "copilot_vscode",
        _in_editor("Code*", "/workspaceStorage/*/chatSessions", "/globalStorage/emptyWindowChatSessions")
        + ("~/.vscode-server*/data/User/workspaceStorage/*/chatSessions",),
        "VS Code Copilot Chat .../Code/User/workspaceStorage/*/chatSessions",
    ),
    Location("pi", ("$PI_CODING_AGENT_DIR/sessions",), "pi ~/.pi/agent/sessions"),
    Location(
        "cursor",
        _in_editor("Cursor", "/globalStorage/state.vscdb", "/workspaceStorage/*/state.vscdb"),
        "Cursor's state.vscdb databases (global and per workspace)",
    ),
    Location(
        "opencode",
        (
            "~/.local/share/opencode/storage/session",  # 1.x: one JSON file per session, messages and parts beside
            "~/.local/share/opencode/opencode*.db",  # 2.x: one SQLite database (opencode.db, or a channel's)
        ),
        "OpenCode ~/.local/share/opencode",
    ),
    Location(
        "cline",
        tuple(
            g
            for host in _HOSTS
            for ext in _EXTENSIONS
            for g in _in_editor(host, f"/globalStorage/{ext}/tasks")
        )
        + ("~/.cline/data/tasks",),  # the Cline CLI
        "Cline's and Roo Code's task folders (in every VS Code-family editor, and ~/.cline)",
    ),
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
    return ", ".join(loc.shown for loc in LOCATIONS)
