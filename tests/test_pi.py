"""The pi reader on its own fixtures (tests/agent_logs.py): the v3 tree, edits and their fates, blocked
and aborted calls with the user's words, /tree branches, compaction, forks, v1 files and bad lines."""

from __future__ import annotations

import json
from pathlib import Path

from agent_logs import APP, UTIL, PiSession

from golddiff.diffs import apply_unified_diff
from golddiff.traces import pi
from golddiff.traces.detect import detect, read_head
from golddiff.traces.session import IngestReport, ReadOptions


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(pi.read(path, report, ReadOptions())), report


def _feedback(ep) -> list[tuple[str, str | None]]:
    return [(f.kind, f.text) for t in ep.turns for f in t.feedback]


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


def test_edits_fates_blocked_failed_and_where_bases_come_from(tmp_path: Path):
    s = PiSession()
    s.files = {"app.py": APP, "util.py": UTIL, "lib.py": "x = 1\ny = 2\nz = 3\n"}
    s.user("rename main, fix sub, bump y")
    s.read("app.py")
    s.edit("app.py", "def main():", "def run():")
    s.edit("util.py", "    return a - b", "    return b - a")  # never read: rebuilt from details.patch
    s.edit("lib.py", "y = 2", "y = 20", patch=False)  # older pi: only the numbered display diff
    s.write("notes.md", "# Notes\n")
    s.edit("app.py", "return 9", "return 1", outcome="failed")
    s.edit("config.py", "DEBUG = True", "DEBUG = False", outcome="blocked")
    s.assistant("Done.", stop="stop")
    (ep,), report = _read(s.dump(tmp_path / "2026-07-09T21-27-45-067Z_5f0e2c1a.jsonl"))
    assert ep.source.tool == "pi" and ep.source.version == "v3" and ep.repo.cwd == "/work/app"
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [
        ("app.py", "edit", "applied"),
        ("util.py", "edit", "applied"),
        ("lib.py", "edit", "applied"),
        ("notes.md", "write", "applied"),
        ("app.py", "edit", "failed"),
        ("config.py", "edit", "rejected"),
    ]
    assert "Could not find" in ep.edits[4].reason and "do not touch the config" in ep.edits[5].reason
    assert _feedback(ep) == [("reject_with_reason", "Blocked by user: do not touch the config")]
    assert ep.repo.file_confidence == {
        "app.py": "logged",
        "util.py": "reconstructed",
        "lib.py": "reconstructed",
        "notes.md": "reconstructed",  # `write` overwrites: whether the file was there before is unknown
    }
    assert ep.repo.base_files["app.py"] == APP and ep.repo.base_files["lib.py"] == "x = 1\ny = 2\nz = 3\n"
    assert "config.py" not in ep.repo.base_files  # only a rejected edit touched it
    assert ep.final.files["lib.py"] == "x = 1\ny = 20\nz = 3\n" and ep.final.files["notes.md"] == "# Notes\n"
    assert _consistent(ep) and report.counts["skipped_records"] == 0


def test_an_aborted_turn_rejects_its_waiting_edits_and_the_next_message_explains(tmp_path: Path):
    s = PiSession()
    s.files = {"app.py": APP}
    s.user("make it quiet")
    s.read("app.py")
    s.assistant(
        calls=[("c9", "edit", {"path": "app.py", "oldText": "    print('start')\n", "newText": ""})],
        stop="aborted",
    )
    s.user("no, keep printing; return 1 instead")
    s.edit("app.py", "return 0", "return 1", outcome="aborted")
    s.user("fine, do it")
    s.edit("app.py", "return 0", "return 1")
    (ep,), _ = _read(s.dump(tmp_path / "a.jsonl"))
    assert [(e.status, e.reason) for e in ep.edits][:2] == [
        (
            "rejected",
            "the user stopped the turn before it ran; the user said: no, keep printing; return 1 instead",
        ),
        ("rejected", "the user aborted it (Esc); the user said: fine, do it"),
    ]
    assert ep.edits[0].tool == "edit" and "-    print('start')" in ep.edits[0].diff
    assert _feedback(ep) == [
        ("interrupt", "no, keep printing; return 1 instead"),
        ("interrupt", "fine, do it"),
    ]
    assert ep.edits[2].status == "applied" and ep.final.files["app.py"] == APP.replace("return 0", "return 1")


def test_tree_branches_compaction_and_user_shell_commands(tmp_path: Path):
    s = PiSession()
    s.files = {"app.py": APP}
    s.user("rename main")
    s.read("app.py")
    s.edit("app.py", "def main():", "def run():")
    kept = s.leaf
    s.user("and print the args")
    s.edit("app.py", "print('start')", "print(sys.argv)")
    s.branch(kept)  # /tree back to before "and print the args": pi leaves the files as they are
    s.entry("branch_summary", fromId=kept, summary="tried printing the args")
    s.user("return 1 instead")
    s.edit("app.py", "return 0", "return 1")
    s.entry("compaction", summary="## Goal\nrename main", firstKeptEntryId=kept, tokensBefore=9000)
    s.entry(
        "message",
        message={"role": "bashExecution", "command": "git checkout -- app.py", "output": "", "exitCode": 0},
    )
    s.entry("model_change", provider="anthropic", modelId="claude-opus-4-1")
    (ep,), report = _read(s.dump(tmp_path / "t.jsonl"))
    assert [e.status for e in ep.edits] == ["applied", "applied", "applied"]
    assert [f.kind for t in ep.turns for f in t.feedback] == ["rewind"]
    notes = [s.text for t in ep.turns for s in t.steps if s.kind == "note"]
    assert any("tried printing the args" in n for n in notes) and any("## Goal" in n for n in notes)
    assert any("git checkout" in n for n in notes)
    assert any("shell command(s) may have changed files" in w for w in ep.provenance.warnings)
    assert "print(sys.argv)" in ep.final.files["app.py"] and _consistent(ep)
    assert report.counts["pi/branches"] == 1 and report.counts["pi/ignored/model_change"] == 1


def test_a_fork_leaves_the_copied_entries_to_its_parent(tmp_path: Path):
    parent = PiSession(session="11111111-parent")
    parent.files = {"app.py": APP}
    parent.user("rename main")
    parent.read("app.py")
    parent.edit("app.py", "def main():", "def run():")
    parent_path = parent.dump(tmp_path / "parent.jsonl")
    fork = PiSession(session="22222222-fork", parent=str(parent_path))
    fork.lines += parent.lines[1:]
    fork.leaf, fork.n, fork.files = parent.leaf, parent.n, dict(parent.files)
    fork.user("now return 1")
    fork.edit("app.py", "return 0", "return 1")
    (ep,), report = _read(fork.dump(tmp_path / "fork.jsonl"))
    (edit,) = ep.edits
    assert ep.task == "now return 1" and "+    return 1" in edit.diff
    assert report.counts["pi/inherited_entries"] == len(parent.lines) - 1


def test_v1_files_bad_lines_and_detection(tmp_path: Path):
    s = PiSession()
    s.files = {"app.py": APP}
    s.user("rename main")
    s.read("app.py")
    s.edit("app.py", "def main():", "def run():")
    lines = [dict(line) for line in s.lines]
    lines[0].pop("version")
    for line in lines[1:]:  # v1: no ids, each entry the child of the one before
        line.pop("id")
        line.pop("parentId")
    path = tmp_path / "v1.jsonl"
    path.write_text(
        "".join(json.dumps(x) + "\n" for x in lines[:2])
        + "{broken\n"
        + "".join(json.dumps(x) + "\n" for x in lines[2:])
    )
    assert detect(path, read_head(path)) == "pi"
    (ep,), report = _read(path)
    assert ep.source.version == "v1" and [e.status for e in ep.edits] == ["applied"]
    assert report.counts["skipped_records"] == 1 and f"{path}:3" in report.problems[0]
    headless = tmp_path / "h.jsonl"
    headless.write_text("".join(json.dumps(x) + "\n" for x in s.lines[1:]))
    assert _read(headless)[0] == [] and not pi.sniff(headless, headless.read_text())
