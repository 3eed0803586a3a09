"""The Cursor reader: inline (<= 0.42) and split (agent mode) composers, fates, bases, locked databases.

Fixtures are built in-process by tests/fixtures/cursor/make_databases.py.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from golddiff.diffs import apply_unified_diff
from golddiff.traces import cursor
from golddiff.traces.cursor.blocks import is_lazy, merge_lazy
from golddiff.traces.detect import detect_binary
from golddiff.traces.logs.sqlite_ro import was_copied
from golddiff.traces.session import IngestReport, ReadOptions

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "cursor"))
import make_databases as mk  # noqa: E402


def _read(db: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(cursor.read(db, report, ReadOptions())), report


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


def test_inline_composers_blocks_fates_and_user_reasons(tmp_path: Path):
    db = mk.write_legacy_workspace(tmp_path / "workspaceStorage" / "abc123")
    (first, second), report = _read(db)
    assert first.source.tool == "cursor" and first.source.session_id == "c-legacy-1"
    assert first.repo.cwd == mk.ROOT and first.task.startswith("add a footer()")
    assert [(e.path, e.status) for e in first.edits] == [
        ("src/a.ts", "applied"),
        ("src/b.ts", "rejected"),  # undecided status, but the user's last answer for b.ts rejected it
        ("src/a.ts", "applied"),  # a lazy block, merged onto the version before it
    ]
    fb = [f for t in first.turns for f in t.feedback]
    assert [(f.kind, f.text) for f in fb] == [
        ("reject_with_reason", "no, b.ts must stay as it is; and keep a = 2")
    ]
    assert first.edit("e1").reason.endswith("no, b.ts must stay as it is; and keep a = 2")
    assert first.final.files == {"src/a.ts": mk.A1L} and _consistent(first)
    # a.ts was never shown before Cursor rewrote it whole: taken as new, and said so
    assert first.repo.base_files == {"src/a.ts": None}
    assert first.repo.file_confidence == {"src/a.ts": "reconstructed"}
    assert any("taken as new files" in w for w in first.provenance.warnings)
    assert report.counts["cursor/undecided_code_blocks"] == 1  # c.ts: outdated, never answered
    # the second composer starts from what the first left, and says where that came from
    assert [(e.path, e.status, e.reason) for e in second.edits] == [
        ("src/a.ts", "rejected", "cancelled in Cursor: dismissed before it was applied"),
        ("src/a.ts", "applied", None),
    ]
    assert second.repo.base_files == {"src/a.ts": mk.A1L} and second.final.files == {"src/a.ts": mk.A2}
    assert second.repo.file_confidence == {"src/a.ts": "reconstructed"}
    assert any("earlier session" in w for w in second.provenance.warnings)
    assert report.counts["records"] == 8 and not report.problems


def test_agent_composer_tool_edits_logged_base_and_fates(tmp_path: Path):
    db = mk.write_agent_user_dir(tmp_path / "User")
    (ep,), report = _read(db)
    assert ep.source.session_id == "c-agent-1"
    assert ep.repo.cwd == mk.ROOT  # the workspace database that lists the composer says where it ran
    assert [(e.path, e.status, e.tool) for e in ep.edits] == [
        ("svc.py", "applied", "search_replace"),
        ("svc.py", "applied", "edit_file"),  # placed from the diff chunks Cursor's apply model produced
        ("test_svc.py", "rejected", "write"),
        ("svc.py", "rejected", "search_replace"),  # cancelled by the user
        ("notes.md", "applied", "edit_file_v2"),  # content stored apart (afterContentId)
        ("old.py", "failed", "delete_file"),
    ]
    assert [(f.kind, f.text) for t in ep.turns for f in t.feedback] == [
        ("reject_with_reason", "no test file yet; just print a message in load()"),
        ("cancel", None),
    ]
    assert ep.repo.base_files == {"svc.py": mk.SVC0, "notes.md": None}
    assert ep.repo.base_state_confidence == "logged" and ep.repo.file_confidence == {
        "svc.py": "logged",
        "notes.md": "logged",
    }
    assert ep.final.files == {"svc.py": mk.SVC2, "notes.md": "# notes\ncontext managers everywhere\n"}
    assert _consistent(ep) and ep.labels.gold_edits == ["e0", "e1", "e4"]
    assert ep.turns[0].steps[0].kind == "tool_call" and ep.turns[0].steps[0].call.name == "read_file"
    assert any(s.kind == "thinking" for s in ep.turns[0].steps)
    assert report.counts["cursor/missing_bubbles"] == 1 and report.counts["cursor/empty_composers"] == 1
    assert not report.problems


def test_workspace_database_with_heads_only_points_to_the_global_one(tmp_path: Path, capsys):
    mk.write_agent_user_dir(tmp_path / "User")
    report = IngestReport()
    assert (
        list(
            cursor.read(
                tmp_path / "User" / "workspaceStorage" / "f00d" / "state.vscdb", report, ReadOptions()
            )
        )
        == []
    )
    assert report.counts["cursor/composers_in_global_storage"] == 1
    assert "globalStorage/state.vscdb" in capsys.readouterr().err


def test_a_locked_database_is_read_through_a_copy_and_never_written(tmp_path: Path):
    db = mk.write_legacy_workspace(tmp_path / "ws")
    before = db.read_bytes()
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # what a running Cursor may hold
    holder.execute("INSERT INTO ItemTable VALUES ('pending', 'write')")
    try:
        assert detect_binary(db) == "cursor"
        episodes, report = _read(db)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert len(episodes) == 2 and was_copied(db)
    assert report.counts["cursor/databases_read_from_a_copy"] == 1
    assert db.read_bytes() == before
    assert sorted(p.name for p in db.parent.iterdir()) == ["state.vscdb", "workspace.json"]


def test_a_wal_database_is_read_with_its_log(tmp_path: Path):
    db = mk.write_legacy_workspace(tmp_path / "ws")
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA wal_autocheckpoint=0")
    con.execute("DELETE FROM ItemTable WHERE key = 'composer.composerData'")
    con.execute("INSERT INTO ItemTable VALUES ('composer.composerData', ?)", ('{"allComposers": []}',))
    con.commit()  # only in the -wal file until a checkpoint; the reader must see it
    episodes, _ = _read(db)
    con.close()
    assert episodes == []


def test_detection_claims_cursor_databases_only(tmp_path: Path):
    db = mk.write_legacy_workspace(tmp_path / "ws")
    assert detect_binary(db) == "cursor"
    plain = tmp_path / "vscode" / "state.vscdb"  # VS Code's own state database: same tables, no composers
    plain.parent.mkdir()
    con = sqlite3.connect(plain)
    con.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    con.execute("INSERT INTO ItemTable VALUES ('workbench.panel', '{}')")
    con.commit()
    con.close()
    assert detect_binary(plain) is None
    assert cursor.sniff(db, "") is False
    backup = db.with_name("state.vscdb.backup")  # Cursor's own copy: read through the database
    backup.write_bytes(db.read_bytes())
    assert detect_binary(backup) == "cursor" and cursor.is_attached(backup) and not cursor.is_attached(db)


def test_bad_composer_values_are_skipped_and_counted(tmp_path: Path):
    db = mk.write_agent_user_dir(tmp_path / "User")
    con = sqlite3.connect(db)
    con.execute("INSERT INTO cursorDiskKV VALUES ('composerData:broken', '{not json')")
    con.commit()
    con.close()
    episodes, report = _read(db)
    assert len(episodes) == 1
    assert report.counts["skipped/bad_record"] == 1 and "composerData:broken" in report.problems[0]


def test_merge_lazy_places_segments_on_unique_lines_or_gives_up():
    before = "import a\nimport b\n\ndef f():\n    return 1\n\n\ndef g():\n    return 2\n"
    block = "# ... existing code ...\n\ndef g():\n    return 3\n"
    assert is_lazy(block) and not is_lazy(before)
    assert merge_lazy(before, block) == before.replace("return 2", "return 3")
    head = "import a\nimport c\n\ndef f():\n# ... existing code ...\n"  # from the file's start to def f()
    assert merge_lazy(before, head) == before.replace("import b\n", "import c\n")
    # a segment that ends on a changed line (or a repeated one) cannot be placed for certain
    assert merge_lazy(before, "import a\nimport c\n# ... existing code ...\n") is None
    assert (
        merge_lazy(before + "def f():\n", "# ... rest ...\ndef f():\n    return 9\n") is None
    )  # def f() twice
    assert merge_lazy(before, "// ... rest ...\nsomething never seen\n// ... rest ...\n") is None
