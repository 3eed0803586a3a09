"""The OpenCode reader: one session written as an export, as 1.x storage folders and as a 2.x database.

Fixtures are built in-process by tests/fixtures/opencode/make_sessions.py.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces import opencode
from golddiff.traces.detect import detect, detect_binary, read_head
from golddiff.traces.ingest import ingest
from golddiff.traces.opencode.walk import read_output_content
from golddiff.traces.session import IngestReport, ReadOptions

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "opencode"))
import make_sessions as mk  # noqa: E402


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(opencode.read(path, report, ReadOptions())), report


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


MAIN_EDITS = [
    ("calc.py", "rejected", "edit"),
    ("calc.py", "applied", "edit"),
    ("test_calc.py", "applied", "write"),
    ("calc.py", "rejected", "edit"),
    ("calc.py", "applied", "apply_patch"),
    ("calc.py", "applied", "multiedit"),
]


def _check_main(ep, with_child: bool) -> None:
    assert (
        ep.source.tool == "opencode" and ep.source.session_id == "ses_main01" and ep.source.version == "1.2.5"
    )
    assert ep.repo.cwd == mk.CWD and ep.task == "rename total to sum_of in calc.py"
    child = [("README.md", "applied", "write")] if with_child else []
    assert [(e.path, e.status, e.tool) for e in ep.edits] == MAIN_EDITS + child
    assert ep.edit("e0").reason == "call it sum_of"
    assert ep.edit("e3").reason == "cancelled by the user (the run was stopped)"
    assert [(t.index, f.kind, f.text) for t in ep.turns for f in t.feedback] == [
        (0, "reject_with_reason", "call it sum_of"),
        (1, "cancel", None),
        (1, "interrupt", "the user stopped the agent (Esc)"),
    ]
    assert [t.user for t in ep.turns] == [
        "rename total to sum_of in calc.py",
        "also return 0 for an empty list",
        "go on, the guard clause is what I want",
    ]
    base = {"calc.py": mk.CALC0, "test_calc.py": None} | ({"README.md": None} if with_child else {})
    assert ep.repo.base_files == base and ep.repo.base_state_confidence == "logged"
    assert ep.final.files == {"calc.py": mk.CALC3, "test_calc.py": mk.TEST} | (
        {"README.md": "# calc\n"} if with_child else {}
    )
    assert _consistent(ep)
    assert any(
        "notes.md" in w for w in ep.provenance.warnings
    )  # changed, but by no edit tool: not in the gold
    if with_child:
        assert ep.edits[-1].subagent == "ses_child1"


def test_export_json(tmp_path: Path):
    (ep,), report = _read(mk.write_export(tmp_path / "session.json", mk.main_session()))
    _check_main(ep, with_child=False)
    assert report.counts["opencode/files_changed_outside_tools"] == 1 and not report.problems
    assert report.counts["records"] == sum(1 + len(p) for _, p in mk.main_session().messages)


def test_storage_folders_with_a_subagent_session(tmp_path: Path):
    storage = mk.write_storage(tmp_path, [mk.main_session(), mk.child_session(), mk.revert_session()])
    main = storage / "session" / "p1" / "ses_main01.json"
    (ep,), report = _read(main)
    _check_main(ep, with_child=True)
    assert not report.problems
    assert opencode.is_attached(storage / "session" / "p1" / "ses_child1.json")  # read with its parent
    assert not opencode.is_attached(main)
    part = next((storage / "part").rglob("*.json"))
    message = next((storage / "message").rglob("*.json"))
    assert opencode.is_attached(part) and opencode.is_attached(message)
    for f in (main, part, message):
        assert detect(f, read_head(f)) == "opencode"


def test_database_gives_the_same_episodes(tmp_path: Path):
    db = mk.write_database(
        tmp_path / "opencode.db", [mk.main_session(), mk.child_session(), mk.revert_session()]
    )
    assert detect_binary(db) == "opencode"
    (main, undo), report = _read(db)
    _check_main(main, with_child=True)
    assert undo.source.session_id == "ses_undo01"
    assert not report.problems


def test_a_pending_revert_undoes_the_edits_from_its_message(tmp_path: Path):
    (ep,), _ = _read(mk.write_export(tmp_path / "undo.json", mk.revert_session()))
    assert [(e.status, e.reason) for e in ep.edits] == [
        ("applied", None),
        ("reverted", "undone by the user (/undo: a pending revert)"),
    ]
    assert [f.kind for t in ep.turns for f in t.feedback] == ["undo"]
    assert ep.final.files == {"x.py": "x = 2\n"} and _consistent(ep)


def test_an_edit_without_any_record_of_the_file_is_rebuilt_and_said_so(tmp_path: Path):
    s = mk.Session("ses_frag01", "frag")
    s.user("fix it")
    s.assistant(
        [
            mk.tool(
                "edit",
                "completed",
                {"filePath": f"{mk.CWD}/lib.py", "oldString": "a = 1", "newString": "a = 2"},
                call="c1",
            )
        ]
    )
    (ep,), _ = _read(mk.write_export(tmp_path / "frag.json", s))
    assert ep.repo.base_files == {"lib.py": "a = 1\n"} and ep.final.files == {"lib.py": "a = 2\n"}
    assert ep.repo.base_state_confidence == "reconstructed" and ep.repo.file_confidence == {
        "lib.py": "reconstructed"
    }
    assert any("rebuilt from the edits" in w for w in ep.provenance.warnings)


def test_only_rejected_edits_means_no_accepted_state(tmp_path: Path):
    s = mk.Session("ses_rej001", "rej")
    s.user("change x", diffs=[])
    s.assistant(
        [
            mk.tool(
                "write",
                "error",
                {"filePath": f"{mk.CWD}/x.py", "content": "x = 3\n"},
                error="The user rejected permission to use this specific tool call.",
                call="w1",
            )
        ]
    )
    (ep,), _ = _read(mk.write_export(tmp_path / "rej.json", s))
    assert [(e.status, e.reason) for e in ep.edits] == [("rejected", "rejected by the user")]
    assert ep.final.accepted is False and ep.repo.base_files == {}
    assert [f.kind for t in ep.turns for f in t.feedback] == ["reject"]


def test_bad_files_are_skipped_and_counted(tmp_path: Path):
    storage = mk.write_storage(tmp_path, [mk.main_session()])
    bad = next((storage / "part").rglob("*.json"))
    bad.write_text("{broken")
    (ep,), report = _read(storage / "session" / "p1" / "ses_main01.json")
    assert report.counts["skipped/bad_json"] == 1 and str(bad) in report.problems[0]
    assert len(ep.edits) >= 5
    junk = tmp_path / "junk.json"
    junk.write_text(
        '{"info": {"id": "ses_x"}, "messages": [5, {"info": {"id": "msg_1", "role": "user"}, "parts": []}]}'
    )
    (_, report2) = _read(junk)
    assert report2.counts["skipped/bad_record"] == 1


def test_ingest_walks_the_storage_folder_reading_each_session_once(tmp_path: Path):
    root = tmp_path / "share" / "opencode"
    mk.write_storage(root, [mk.main_session(), mk.child_session(), mk.revert_session()])
    mk.write_database(root / "opencode.db", [mk.main_session(), mk.child_session(), mk.revert_session()])
    out = tmp_path / "episodes.jsonl"
    report = ingest([str(root)], out, report=IngestReport(quiet=True))
    assert report.counts["episodes"] == 2  # the database's copies of the same sessions are already there
    assert report.counts["episodes_already_present"] == 2
    assert report.counts["files/opencode"] == 3 and not report.problems
    ids = {json.loads(line)["source"]["session_id"] for line in out.read_text().splitlines()}
    assert ids == {"ses_main01", "ses_undo01"}


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (
            "<path>/a.py</path>\n<type>file</type>\n<content>1: x = 1\n2: y = 2\n\n(End of file - total 2 lines)\n</content>",
            "x = 1\ny = 2\n",
        ),
        ("<file>\n00001| x = 1\n\n(End of file - total 1 lines)\n</file>", "x = 1\n"),
        ("<content>3: z\n\n(End of file - total 3 lines)\n</content>", None),  # starts mid-file
        ("<content>1: x = 1\n\n(File has more lines. Use 'offset')\n</content>", None),  # cut
    ],
)
def test_read_output_content_only_whole_files(output, expected):
    assert read_output_content(output) == expected
