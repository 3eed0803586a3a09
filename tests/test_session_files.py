"""Edits that did not reach the file, in logs that show files only in part (`session.file_book.FileBook`
for Gemini CLI, Copilot and pi; `session.replay.EditReplay` for Cursor, OpenCode and Cline): each negative
says how far its hunk can be trusted (`Edit.confidence`, schema 2), as Claude Code's and Codex's do."""

from __future__ import annotations

from golddiff.traces.session import IngestReport, SessionBuilder
from golddiff.traces.session.file_book import FileBook
from golddiff.traces.session.replay import EditReplay

APP = "import sys\n\n\ndef main():\n    return 0\n"


def _builder() -> SessionBuilder:
    b = SessionBuilder("pi", "s.jsonl", None, IngestReport(quiet=True), cwd="/w")
    b.user("tidy up", "task")
    return b


def test_file_book_negatives_exact_located_or_unlocated():
    b = _builder()
    book = FileBook(b)
    book.learn("app.py", APP)
    book.apply(book.replace("app.py", "def main():", "def run():"), "edit", "c1")
    book.apply(book.replace("util.py", "    return a - b", "    return b - a"), "edit", "c2")  # partial
    book.propose(
        book.replace("app.py", "return 0", "return 7", mode="scratch"), "edit", "rejected", None, "c3"
    )
    book.propose(
        book.replace("util.py", "    return b - a", "    return 0", mode="scratch"),
        "edit",
        "rejected",
        None,
        "c4",
    )
    book.propose(book.replace("new.py", "a = 1", "a = 2", mode="scratch"), "edit", "failed", "no match", "c5")
    book.propose_fragment("app.py", "return 9", "return 1", "edit", "failed", "No match found", "c6")
    book.finish()
    (ep,) = b.finish()
    assert [(e.call_id, e.status, e.confidence) for e in ep.edits] == [
        ("c1", "applied", "exact"),
        ("c2", "applied", "exact"),
        ("c3", "rejected", "exact"),  # app.py was read whole
        ("c4", "rejected", "located"),  # util.py is known by what its applied edit's diff showed
        ("c5", "failed", "unlocated"),  # new.py: nothing of it was ever shown
        ("c6", "failed", "unlocated"),  # its text is nowhere: only old -> new
    ]
    assert "\n-return 9\n" in ep.edits[5].diff and "\n+return 1\n" in ep.edits[5].diff


def test_edit_replay_negatives_exact_located_or_unlocated():
    b = _builder()
    replay = EditReplay(b)
    replay.learn("app.py", APP)
    replay.replace("app.py", [("def main():", "def run():")], "edit", "c1")
    replay.replace("util.py", [("    return a - b", "    return b - a")], "edit", "c2")  # partial
    replay.replace("app.py", [("return 0", "return 7")], "edit", "c3", status="rejected")
    replay.replace("util.py", [("    return b - a", "    return 0")], "edit", "c4", status="rejected")
    replay.replace("new.py", [("a = 1", "a = 2")], "edit", "c5", status="rejected")
    replay.finish()
    (ep,) = b.finish()
    assert [(e.call_id, e.status, e.confidence) for e in ep.edits] == [
        ("c1", "applied", "exact"),
        ("c2", "applied", "exact"),
        ("c3", "rejected", "exact"),
        ("c4", "rejected", "located"),
        ("c5", "rejected", "unlocated"),
    ]
