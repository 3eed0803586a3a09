"""`golddiff ingest` with no path finds Cursor, OpenCode, Cline and Roo Code logs where they keep them,
through the real command line (HOME pointed at a folder laid out like a user's)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "fixtures"))
from cline import make_tasks  # noqa: E402
from cursor import make_databases  # noqa: E402
from opencode import make_sessions  # noqa: E402


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    user = home / ".config" / "Cursor" / "User"
    make_databases.write_legacy_workspace(user / "workspaceStorage" / "abc123")
    make_databases.write_agent_user_dir(user)
    share = home / ".local" / "share" / "opencode"
    sessions = [make_sessions.main_session(), make_sessions.child_session(), make_sessions.revert_session()]
    make_sessions.write_storage(share, sessions[:2])
    make_sessions.write_database(share / "opencode.db", sessions[2:])
    storage = home / ".config" / "Code" / "User" / "globalStorage"
    make_tasks.write_cline_task(storage / "saoudrizwan.claude-dev" / "tasks")
    make_tasks.write_roo_task(storage / "rooveterinaryinc.roo-cline" / "tasks")
    (home / "unrelated.json").write_text("{}")  # not under any default location: never read
    return home


def test_default_ingest_finds_every_editor_agent(tmp_path: Path):
    home = _home(tmp_path)
    env = {k: v for k, v in os.environ.items() if k not in ("APPDATA",)} | {"HOME": str(home)}
    out = tmp_path / "episodes.jsonl"
    res = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "ingest", "-o", str(out), "--stats", "-q", "-j", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    # Cursor: a legacy workspace, the global database, and the workspace database that only lists heads
    assert stats["by_format"] == {"cline": 2, "cursor": 3, "opencode": 2}
    tools = sorted(json.loads(line)["source"]["tool"] for line in out.read_text().splitlines())
    assert tools == ["cline", "cursor", "cursor", "cursor", "opencode", "opencode", "roo_code"]
    assert stats["skipped_records"] == 0 and stats["rejected_edits"] >= 8
    assert set(stats["feedback"]) >= {"reject_with_reason", "cancel", "interrupt", "undo"}


def test_help_lists_the_new_formats_and_locations():
    res = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "ingest", "--help"], capture_output=True, text=True, timeout=60
    )
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    for word in ("cursor", "opencode", "cline", "Cursor's state.vscdb", "Roo Code"):
        assert word in text
