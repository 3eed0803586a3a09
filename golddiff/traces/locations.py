"""Where Cursor, OpenCode, Cline and Roo Code keep their logs, on Linux, macOS and Windows.

    from golddiff.traces.locations import EDITOR_AGENT_PATHS
    print(EDITOR_AGENT_PATHS[:3])

Paths are globs with `~` and `$APPDATA` left for `golddiff ingest` to expand; the ones that match
nothing on this machine are simply not read. They name the databases and task folders themselves, not
the editors' whole settings folders (which hold every extension's storage). Pure Python, CPU only.
"""

from __future__ import annotations

# an editor's user-settings folder on each OS (Linux, macOS, Windows)
_USER_DIRS = ("~/.config/{app}/User", "~/Library/Application Support/{app}/User", "$APPDATA/{app}/User")
# editors that host the Cline / Roo Code extensions (VS Code and its forks)
_HOSTS = ("Code", "Code - Insiders", "VSCodium", "Cursor", "Windsurf")
_EXTENSIONS = ("saoudrizwan.claude-dev", "rooveterinaryinc.roo-cline")

CURSOR_PATHS = tuple(
    d.format(app="Cursor") + tail
    for d in _USER_DIRS
    for tail in ("/globalStorage/state.vscdb", "/workspaceStorage/*/state.vscdb")
)

OPENCODE_PATHS = (
    "~/.local/share/opencode/storage/session",  # 1.x: one JSON file per session, messages and parts beside
    "~/.local/share/opencode/opencode*.db",  # 2.x: one SQLite database (opencode.db, or a channel's)
)

CLINE_PATHS = tuple(
    d.format(app=host) + f"/globalStorage/{ext}/tasks"
    for d in _USER_DIRS
    for host in _HOSTS
    for ext in _EXTENSIONS
) + ("~/.cline/data/tasks",)  # the Cline CLI

EDITOR_AGENT_PATHS = CURSOR_PATHS + OPENCODE_PATHS + CLINE_PATHS
