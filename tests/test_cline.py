"""The Cline / Roo Code reader: task folders (conversation, chat, metadata), XML and native tool calls.

Fixtures are built in-process by tests/fixtures/cline/make_tasks.py, which writes the results and
messages with the strings of Cline's and Roo Code's own sources.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from golddiff.diffs import apply_unified_diff
from golddiff.traces import cline
from golddiff.traces.cline.history import parse_xml_params, xml_tool_calls
from golddiff.traces.cline.walk import search_replace_pairs, undo_pairs
from golddiff.traces.detect import detect, read_head
from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport, ReadOptions

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "cline"))
import make_tasks as mk  # noqa: E402


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(cline.read(path, report, ReadOptions())), report


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


def test_cline_task_fates_feedback_resumption_and_user_changes(tmp_path: Path):
    folder = mk.write_cline_task(tmp_path / "saoudrizwan.claude-dev" / "tasks")
    (ep,), report = _read(folder / "api_conversation_history.json")
    assert ep.source.tool == "cline" and ep.source.session_id == "1733000000000"
    assert ep.repo.cwd == mk.CWD and ep.task == "Add a greeting function to app.py"
    assert [(e.path, e.status, e.tool) for e in ep.edits] == [
        ("app.py", "rejected", "replace_in_file"),
        ("app.py", "applied", "replace_in_file"),
        ("tests/test_app.py", "applied", "write_to_file"),
        ("app.py", "rejected", "replace_in_file"),  # left unanswered when the task was interrupted
        ("app.py", "applied", "write_to_file"),
    ]
    assert ep.edit("e0").reason == "use a default name argument"
    assert ep.edit("e3").reason.startswith("cancelled")
    assert [(f.kind, f.text) for t in ep.turns for f in t.feedback] == [
        ("reject_with_reason", "use a default name argument"),
        ("cancel", None),
    ]
    assert [(t.user_kind, t.user) for t in ep.turns] == [
        ("task", "Add a greeting function to app.py"),
        ("followup", "also add a docstring"),  # the user's feedback on attempt_completion
        ("followup", "forget the docstring; the test expects an exclamation mark"),  # after [TASK RESUMPTION]
    ]
    # the base came from the agent's read; the new file's absence from the chat (newFileCreated)
    assert ep.repo.base_files == {"app.py": mk.BASE, "tests/test_app.py": None}
    assert ep.repo.base_state_confidence == "logged"
    # the saved file includes the user's own change to the last edit: it is the accepted state
    assert ep.final.files["app.py"] == mk.FIXED.replace("print(greet())", "print(greet('you'))")
    assert ep.final.files["tests/test_app.py"] == mk.TESTS and _consistent(ep)
    assert any("the user changed the agent's edit" in w for w in ep.provenance.warnings)
    assert any("task_metadata.json" in w for w in ep.provenance.warnings)
    calls = [s.call.name for t in ep.turns for s in t.steps if s.call]
    assert calls[:2] == ["read_file", "replace_in_file"] and "attempt_completion" in calls
    assert report.counts["records"] == len(mk.cline_history()) and not report.problems


def test_roo_code_native_tools_apply_diff_insert_and_failures(tmp_path: Path):
    folder = mk.write_roo_task(tmp_path / "rooveterinaryinc.roo-cline" / "tasks")
    (ep,), report = _read(folder / "api_conversation_history.json")
    assert ep.source.tool == "roo_code" and ep.repo.cwd == "/work/roo"
    assert [(e.path, e.status, e.tool) for e in ep.edits] == [
        ("src/util.ts", "applied", "apply_diff"),
        ("src/sub.ts", "rejected", "write_to_file"),
        ("src/util.ts", "applied", "insert_content"),
        ("src/util.ts", "failed", "apply_diff"),
    ]
    assert [(f.kind, f.text) for t in ep.turns for f in t.feedback] == [
        ("reject_with_reason", "put it in util.ts")
    ]
    assert ep.repo.base_files == {"src/util.ts": mk.UTIL}  # from the line-numbered read; sub.ts never existed
    fixed = mk.UTIL.replace("a - b", "a + b")
    assert ep.final.files == {"src/util.ts": fixed + "\nexport function sub(a, b) {\n  return a - b;\n}\n"}
    assert _consistent(ep) and not report.problems


def test_ui_messages_alone_still_give_edits_and_fates(tmp_path: Path):
    folder = mk.write_ui_only_task(tmp_path / "saoudrizwan.claude-dev" / "tasks")
    path = folder / "ui_messages.json"
    assert detect(path, read_head(path)) == "cline" and not cline.is_attached(path)
    (ep,), report = _read(path)
    assert ep.task == "write hello.py that prints hello" and ep.repo.cwd == mk.CWD
    assert [(e.path, e.status) for e in ep.edits] == [
        ("hello.py", "applied"),
        ("hello.py", "rejected"),
        ("hello.py", "rejected"),  # waiting for approval when the task was interrupted
    ]
    assert [(f.kind, f.text) for t in ep.turns for f in t.feedback] == [
        ("reject_with_reason", "keep it lowercase"),
        ("cancel", None),
    ]
    assert [t.user for t in ep.turns] == ["write hello.py that prints hello", "never mind, it is fine"]
    assert ep.repo.base_files == {"hello.py": None} and ep.final.files == {"hello.py": "print('hello')\n"}
    assert report.counts["cline/ui_only_tasks"] == 1
    assert any("ui_messages.json alone" in w for w in ep.provenance.warnings)


def test_folder_files_detection_and_attachment(tmp_path: Path):
    folder = mk.write_cline_task(tmp_path / "tasks")
    history, ui, meta = (
        folder / n for n in ("api_conversation_history.json", "ui_messages.json", "task_metadata.json")
    )
    for f in (history, ui, meta):
        assert detect(f, read_head(f)) == "cline"
    assert not cline.is_attached(history) and cline.is_attached(ui) and cline.is_attached(meta)
    report = ingest([str(tmp_path / "tasks")], tmp_path / "out.jsonl", report=IngestReport(quiet=True))
    assert report.counts["files/cline"] == 1 and report.counts["episodes"] == 1
    assert report.counts["bytes"] == sum(f.stat().st_size for f in (history, ui, meta))


def test_bad_task_files_are_skipped_and_counted(tmp_path: Path):
    folder = tmp_path / "tasks" / "1"
    folder.mkdir(parents=True)
    (folder / "api_conversation_history.json").write_text(
        '[{"role": "user", "content": "<task>\\nx\\n</task>"}, 7'
    )
    episodes, report = _read(folder / "api_conversation_history.json")
    assert episodes == [] and report.counts["skipped/bad_json"] == 1
    history = mk.cline_history()
    history.insert(3, "not a message")
    history[4]["content"][0]["text"] = (
        "<replace_in_file>\n<path>app.py</path>\n<diff>\nno blocks here\n</diff>\n</replace_in_file>"
    )
    (folder / "api_conversation_history.json").write_text(json.dumps(history))
    (ep,), report = _read(folder / "api_conversation_history.json")
    assert report.counts["skipped/bad_record"] == 2  # the message that is no object, the diff with no block
    assert [e.status for e in ep.edits][:1] == ["applied"]  # the rejected edit had no block: left out


def test_search_replace_blocks_both_marker_styles_and_their_undoing():
    cline_style = "------- SEARCH\na = 1\n=======\na = 2\n+++++++ REPLACE\n\n------- SEARCH\nb\n=======\nc\n+++++++ REPLACE"
    roo_style = "<<<<<<< SEARCH\n:start_line:3\n-------\nx\n=======\ny\n>>>>>>> REPLACE"
    assert search_replace_pairs(cline_style) == [("a = 1\n", "a = 2\n"), ("b\n", "c\n")]
    assert search_replace_pairs(roo_style) == [("x\n", "y\n")]
    assert undo_pairs("a = 2\nc\n", [("a = 1\n", "a = 2\n"), ("b\n", "c\n")]) == "a = 1\nb\n"
    assert undo_pairs("c\nc\n", [("b\n", "c\n")]) is None  # ambiguous: not undone


def test_xml_tool_calls_keep_tags_inside_long_parameters():
    text = "Writing.\n<write_to_file>\n<path>a.html</path>\n<content>\n<p>hi</p>\n</content>\n</write_to_file>\nDone."
    ((start, end, name, params),) = list(xml_tool_calls(text))
    assert name == "write_to_file" and params == {"path": "a.html", "content": "<p>hi</p>"}
    assert text[:start].strip() == "Writing." and text[end:].strip() == "Done."
    assert parse_xml_params("<path>x</path>\n<line>0</line>", "insert_content") == {"path": "x", "line": "0"}
