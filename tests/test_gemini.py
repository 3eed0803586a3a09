"""The Gemini CLI reader on its own fixtures (written by tests/agent_logs.py): both layouts, fates of
edits, the user's words, cancels, rewinds, resumed sessions, and where base files come from."""

from __future__ import annotations

import json
from pathlib import Path

from agent_logs import APP, CANCELLED, UTIL, GeminiChat

from golddiff.diffs import apply_unified_diff
from golddiff.traces import gemini
from golddiff.traces.detect import detect, read_head
from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport, ReadOptions


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(gemini.read(path, report, ReadOptions())), report


def _feedback(ep) -> list[tuple[str, str | None]]:
    return [(f.kind, f.text) for t in ep.turns for f in t.feedback]


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


def _session() -> GeminiChat:
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("rename main to run in app.py and add a util module")
    chat.gemini("Reading app.py first.", [chat.read_file("app.py")], thought="look before editing")
    chat.gemini("", [chat.replace("app.py", "def main():", "def run():")])
    chat.gemini("", [chat.replace("app.py", "print('start')", "print('go')", status="cancelled")])
    chat.user("no, keep the start message")
    chat.gemini("", [chat.write_file("util.py", UTIL)])
    chat.gemini("", [chat.replace("util.py", "a * b", "a + b", status="error")])
    chat.gemini("", [chat.shell("sed -i s/add/plus/ util.py")])
    chat.info("Request cancelled.")
    return chat


def test_jsonl_edits_fates_rejection_words_and_interrupt(tmp_path: Path):
    chat = _session()
    (ep,), report = _read(chat.write_jsonl(tmp_path / "session-2026-04-23T12-52-0ab84937.jsonl"))
    assert ep.source.tool == "gemini_cli" and ep.source.session_id == chat.session
    assert ep.repo.cwd == "/work/app"  # found from the tools' paths, checked against projectHash
    assert ep.task == "rename main to run in app.py and add a util module"
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [
        ("app.py", "replace", "applied"),
        ("app.py", "replace", "rejected"),
        ("util.py", "write_file", "applied"),
        ("util.py", "replace", "failed"),
    ]
    assert "no, keep the start message" in ep.edits[1].reason
    assert "print('go')" in ep.edits[1].diff and "could not find" in ep.edits[3].reason
    assert _feedback(ep) == [("reject_with_reason", "no, keep the start message"), ("interrupt", None)]
    assert ep.turns[1].user_kind == "feedback"
    assert ep.repo.base_files == {"app.py": APP, "util.py": None}
    assert ep.repo.base_state_confidence == "logged"
    assert ep.final.files == {"app.py": APP.replace("main", "run"), "util.py": UTIL}
    assert _consistent(ep)
    assert any("shell command(s) may have changed files" in w for w in ep.provenance.warnings)
    calls = [s.call for t in ep.turns for s in t.steps if s.call]
    assert calls[0].name == "read_file" and calls[2].is_error and "User denied execution" in calls[2].output
    assert any(s.kind == "thinking" for t in ep.turns for s in t.steps)
    assert report.counts["skipped_records"] == 0 and report.counts["unknown_records"] == 0


def test_the_legacy_object_reads_like_the_record_log(tmp_path: Path):
    chat = _session()
    (a,), _ = _read(chat.write_jsonl(tmp_path / "session-a.jsonl"))
    (b,), _ = _read(chat.write_json(tmp_path / "session-b.json"))
    assert [(e.path, e.status, e.diff) for e in a.edits] == [(e.path, e.status, e.diff) for e in b.edits]
    assert a.final.diff == b.final.diff and a.episode_id == b.episode_id


def test_a_cancel_is_not_a_rejection_and_the_message_rewrite_counts_once(tmp_path: Path):
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("make it quieter")
    chat.gemini(
        "", [chat.replace("app.py", "    print('start')\n", "", status="cancelled", reason=CANCELLED)]
    )
    chat.gemini("", [chat.replace("util.py", "a + b", "b + a", status="cancelled", reason=CANCELLED)])
    chat.user("actually, leave it")
    (ep,), _ = _read(chat.write_jsonl(tmp_path / "session-c.jsonl"))
    edit, unseen = ep.edits
    assert edit.status == "rejected" and "cancel" in edit.reason and "actually, leave it" in edit.reason
    assert _feedback(ep) == [("cancel", "actually, leave it"), ("cancel", "actually, leave it")]
    assert "-    print('start')" in edit.diff and "+b + a" in unseen.diff
    # a file the log never showed, touched only by a rejected edit, says nothing of its base
    assert ep.final.diff == "" and ep.repo.base_files == {}


def test_rewound_edits_are_abandoned_negatives(tmp_path: Path):
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("rename main")
    chat.gemini("", [chat.replace("app.py", "def main():", "def run():")])
    second = chat.user("now print more")
    chat.gemini("", [chat.replace("app.py", "print('start')", "print('start', sys.argv)")])
    chat.files["app.py"] = APP.replace("main", "run")  # the user rewound, code and all
    chat.rewind(second)
    chat.user("now return 1")
    chat.gemini("", [chat.replace("app.py", "return 0", "return 1")])
    (ep,), _ = _read(chat.write_jsonl(tmp_path / "session-r.jsonl"))
    assert [(e.status, e.on_main_line) for e in ep.edits] == [
        ("applied", True),
        ("reverted", False),
        ("applied", True),
    ]
    assert "rewound" in ep.edits[1].reason
    assert [f.kind for t in ep.turns for f in t.feedback] == ["rewind"]
    assert [t.user for t in ep.turns if t.user_kind in ("task", "followup")] == [
        "rename main",
        "now return 1",
    ]
    assert ep.final.files["app.py"] == APP.replace("main", "run").replace("return 0", "return 1")
    assert "sys.argv" not in ep.final.diff and _consistent(ep)


def test_a_resumed_json_is_left_to_its_jsonl_continuation(tmp_path: Path):
    chats = tmp_path / "tmp" / "hash" / "chats"
    chats.mkdir(parents=True)
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("rename main")
    chat.gemini("", [chat.replace("app.py", "def main():", "def run():")])
    old = chat.write_json(chats / "session-2026-04-23T12-00-0ab84937.json")
    chat.user("and return 1")  # resumed: the recorder migrates everything to <name>.jsonl and goes on
    chat.gemini("", [chat.replace("app.py", "return 0", "return 1")])
    chat.write_jsonl(Path(str(old) + "l"))
    assert gemini.is_attached(old) and not gemini.is_attached(Path(str(old) + "l"))
    report = IngestReport(quiet=True)
    ingest([str(tmp_path)], tmp_path / "episodes.jsonl", report=report)
    (line,) = (tmp_path / "episodes.jsonl").read_text().splitlines()
    ep = json.loads(line)
    assert report.counts["files/gemini_cli"] == 1 and len(ep["edits"]) == 2
    assert ep["final"]["files"]["app.py"] == APP.replace("main", "run").replace("return 0", "return 1")


def test_edits_without_logged_contents_are_replayed_and_say_where_the_base_came_from(tmp_path: Path):
    chat = GeminiChat()
    chat.files = {"app.py": APP, "util.py": UTIL}
    chat.user("tidy up")
    chat.gemini("", [chat.read_file("app.py")])
    calls = [
        chat.replace("app.py", "return 0", "return 1"),
        chat.replace("util.py", "    return a - b", "    return b - a"),
    ]
    for call in calls:
        call["resultDisplay"] = "Edited"  # an older release: no contents in the result
    chat.gemini("", calls)
    (ep,), _ = _read(chat.write_jsonl(tmp_path / "session-o.jsonl"))
    assert [e.status for e in ep.edits] == ["applied", "applied"]
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.repo.file_confidence == {"app.py": "logged", "util.py": "reconstructed"}
    assert ep.repo.base_files["app.py"] == APP and ep.repo.base_files["util.py"] == "    return a - b\n"
    assert ep.final.files["util.py"] == "    return b - a\n" and _consistent(ep)
    assert any("rebuilt from the lines the edits showed" in w for w in ep.provenance.warnings)


def test_injected_messages_slash_commands_and_bad_lines(tmp_path: Path):
    chat = GeminiChat()
    chat.files = {"app.py": APP}
    chat.user("<session_context>\nThis is the Gemini CLI.\n</session_context>")
    chat.user("Analyze the project and write GEMINI.md", display="/init")
    chat.gemini("", [chat.write_file("GEMINI.md", "# Project\n")])
    chat.user("System: Please continue.")
    path = chat.write_jsonl(tmp_path / "session-i.jsonl")
    path.write_text(path.read_text() + "{not json\n" + json.dumps({"odd": 1}) + "\n")
    (ep,), report = _read(path)
    assert ep.task == "Analyze the project and write GEMINI.md"
    notes = [s.text for t in ep.turns for s in t.steps if s.kind == "note"]
    assert any("/init" in n for n in notes) and any("session_context" in n for n in notes)
    assert any("System: Please continue." in n for n in notes)
    assert report.counts["skipped_records"] == 1 and report.counts["unknown_records"] == 1
    assert ":" in report.problems[0] and "not JSON" in report.problems[0]


def test_detection_from_content(tmp_path: Path):
    chat = _session()
    for path in (chat.write_jsonl(tmp_path / "a.jsonl"), chat.write_json(tmp_path / "b.json")):
        assert detect(path, read_head(path)) == "gemini_cli"
    chat.user("x" * 40_000)  # one compact line longer than the 16 KB head
    compact = tmp_path / "d.json"
    compact.write_text(json.dumps(json.loads(chat.write_json(tmp_path / "e.json").read_text())))
    assert detect(compact, read_head(compact)) == "gemini_cli"
    other = tmp_path / "c.json"
    other.write_text(json.dumps({"sessionId": "x", "timeline": []}))
    assert not gemini.sniff(other, other.read_text())
