"""`golddiff ingest` with no path finds Gemini CLI, Copilot and pi logs where those agents keep them, and
`--stats` counts each format apart; through the real command line, with HOME pointed at a tmp folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from agent_logs import APP, CopilotEvents, CopilotLegacy, GeminiChat, PiSession, VscodeChat


def _golddiff(home: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in ("COPILOT_HOME", "PI_CODING_AGENT_DIR")}
    return subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "ingest", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=home,
        env={**clean, "HOME": str(home), **env},
    )


def _home(home: Path) -> None:
    """One session of each new format, each where its agent writes it."""
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("rename main")
    chat.gemini("", [chat.replace("app.py", "def main():", "def run():")])
    (home / ".gemini/tmp/9da8b3df/chats").mkdir(parents=True)
    chat.write_jsonl(home / ".gemini/tmp/9da8b3df/chats/session-2026-04-23T12-52-0ab84937.jsonl")
    (home / ".gemini/tmp/9da8b3df/logs.json").write_text("[]")  # beside chats/, not read
    log = CopilotEvents()
    log.files = {"app.py": APP}
    log.user("rename main")
    log.view("app.py")
    log.edit("app.py", "def main():", "def run():", permission="denied-interactively-by-user", ok=False)
    log.write(home / ".copilot/session-state/4ea18a78/events.jsonl")
    log.write(home / ".copilot/session-state/4ea18a78/files/notes.jsonl")  # scratch area, not read
    legacy = CopilotLegacy()
    legacy.user("add a changelog")
    legacy.create("CHANGELOG.md", "- first\n")
    (home / ".copilot/history-session-state").mkdir(parents=True)
    legacy.write(home / ".copilot/history-session-state/session_0b2a81da.json")
    vs = VscodeChat()
    vs.request("add a module")
    vs.create("mod.py", "X = 1\n")
    vs.write_json(home / ".config/Code/User/workspaceStorage/abc123/chatSessions" / f"{vs.session}.json")
    s = PiSession()
    s.user("write notes")
    s.write("notes.md", "# Notes\n")
    s.dump(home / ".pi/agent/sessions/--work-app--/2026-07-09T21-27-45-067Z_5f0e2c1a.jsonl")


def test_default_ingest_finds_every_agent_and_stats_counts_each_format(tmp_path: Path):
    _home(tmp_path)
    res = _golddiff(tmp_path, "-o", str(tmp_path / "episodes.jsonl"), "--stats", "-q")
    assert res.returncode == 0, res.stderr
    stats = json.loads(res.stdout.strip().splitlines()[-1])
    one = {"files": 1, "episodes": 1, "edits": 1, "rejected_edits": 0}
    assert stats["per_format"] == {
        "copilot_cli": {"files": 2, "episodes": 2, "edits": 2, "rejected_edits": 1},
        "copilot_vscode": one,
        "gemini_cli": one,
        "pi": one,
    }
    assert stats["skipped_records"] == 0 and stats["feedback"] == {"reject": 1}
    assert "copilot_vscode" in res.stdout and "gemini_cli" in res.stdout  # the table's per-format rows


def test_agent_homes_are_honoured_and_format_can_be_forced(tmp_path: Path):
    _home(tmp_path)
    (tmp_path / ".copilot").rename(tmp_path / "copilot-home")
    res = _golddiff(tmp_path, "-o", "e.jsonl", "--stats", "-q", COPILOT_HOME=str(tmp_path / "copilot-home"))
    assert json.loads(res.stdout.strip().splitlines()[-1])["per_format"]["copilot_cli"]["files"] == 2
    pi_log = next((tmp_path / ".pi").rglob("*.jsonl"))
    forced = _golddiff(tmp_path, str(pi_log), "--format", "pi", "-o", "f.jsonl", "--stats", "-q")
    assert json.loads(forced.stdout.strip().splitlines()[-1])["by_format"] == {"pi": 1}
    wrong = _golddiff(tmp_path, str(pi_log), "--format", "cursor_ide", "-o", "g.jsonl")
    assert wrong.returncode == 2 and "gemini_cli" in wrong.stderr and "copilot_vscode" in wrong.stderr
    helptext = _golddiff(tmp_path, "--help").stdout
    assert all(name in helptext for name in ("gemini_cli", "copilot_cli", "copilot_vscode", "pi"))


def test_every_default_location_names_a_reader_and_every_home_agent_has_one():
    from golddiff.traces.detect import READERS
    from golddiff.traces.locations import LOCATIONS

    fmts = [loc.fmt for loc in LOCATIONS]
    assert len(fmts) == len(set(fmts)) and set(fmts) <= set(READERS)
    # the readers with no location of their own: logs kept in the project (Aider) or given by path
    assert set(READERS) - set(fmts) == {"aider", "swe_agent", "openhands"}


def test_default_ingest_with_no_logs_anywhere_says_where_it_looked(tmp_path: Path):
    res = _golddiff(tmp_path, "-o", str(tmp_path / "episodes.jsonl"))
    assert res.returncode == 1 and not (tmp_path / "episodes.jsonl").exists()
    assert "no agent logs where agents keep them" in res.stderr
    assert "~/.gemini/tmp/*/chats" in res.stderr and "Cursor's state.vscdb" in res.stderr
