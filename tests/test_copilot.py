"""The GitHub Copilot readers on their own fixtures (tests/agent_logs.py): Copilot CLI events.jsonl and
the legacy timeline JSON, VS Code Copilot Chat sessions (.json, the .jsonl mutation log) and exports."""

from __future__ import annotations

import json
from pathlib import Path

from agent_logs import APP, UTIL, CopilotEvents, CopilotLegacy, VscodeChat

from golddiff.diffs import apply_unified_diff
from golddiff.traces.copilot import cli, vscode
from golddiff.traces.detect import detect, read_head
from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport, ReadOptions


def _read(mod, path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(mod.read(path, report, ReadOptions())), report


def _feedback(ep) -> list[tuple[str, str | None]]:
    return [(f.kind, f.text) for t in ep.turns for f in t.feedback]


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


# ------------------------------------------------------------------------------------ Copilot CLI


def test_cli_events_fates_words_interrupt_and_resume(tmp_path: Path):
    log = CopilotEvents()
    log.files = {"app.py": APP, "util.py": UTIL}
    log.user("rename main to run, fix util, add a constants module")
    log.view("app.py")
    log.edit("app.py", "def main():", "def run():")
    log.edit("util.py", "    return a - b", "    return b - a")  # never viewed: rebuilt from the logged diff
    log.create("consts.py", "LIMIT = 3\n")
    log.edit("app.py", "return 0", "return 7", permission="denied-interactively-by-user", ok=False)
    log.user("use a constant instead")
    log.edit("app.py", "return 9", "return 1", ok=False, result="No match found for old_str")
    log.edit("consts.py", "LIMIT = 3", "LIMIT = 4", complete=False)
    log.abort()
    log.resume()
    log.user("now add a docstring")
    log.edit("app.py", "def run():", 'def run():\n    """Run."""')
    (ep,), report = _read(cli, log.write(tmp_path / "4ea18a78" / "events.jsonl"))
    assert ep.source.tool == "copilot_cli" and ep.source.version == "1.0.95-2" and ep.repo.cwd == "/work/app"
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [
        ("app.py", "edit", "applied"),
        ("util.py", "edit", "applied"),
        ("consts.py", "create", "applied"),
        ("app.py", "edit", "rejected"),
        ("app.py", "edit", "failed"),
        ("consts.py", "edit", "rejected"),
        ("app.py", "edit", "applied"),
    ]
    assert "use a constant instead" in ep.edits[3].reason and "No match found" in ep.edits[4].reason
    assert _feedback(ep) == [
        ("reject_with_reason", "use a constant instead"),
        ("interrupt", "now add a docstring"),
    ]
    # util.py is known by the lines its edit's diff showed: the change and three lines of context
    assert ep.repo.base_files == {
        "app.py": APP,
        "util.py": "\n\ndef sub(a, b):\n    return a - b\n",
        "consts.py": None,
    }
    assert ep.repo.file_confidence == {"app.py": "logged", "util.py": "reconstructed", "consts.py": "logged"}
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.final.files == {
        "app.py": APP.replace("def main():", 'def run():\n    """Run."""'),
        "util.py": "\n\ndef sub(a, b):\n    return b - a\n",
        "consts.py": "LIMIT = 3\n",
    }
    assert _consistent(ep)
    assert any(s.kind == "note" and "resumed" in (s.text or "") for t in ep.turns for s in t.steps)
    assert report.counts["skipped_records"] == 0 and report.counts["unknown_records"] == 0


def test_cli_injected_messages_and_subagent_edits(tmp_path: Path):
    log = CopilotEvents()
    log.user("<system_notification>agent done</system_notification>")
    log.user("Use the skill", source="skill-pdf")
    log.user("write a notes file")
    log.user("List the directory", source="agent-7")
    call = log.tool("task", {"prompt": "write notes"})
    log.create("notes.md", "# Notes\n")
    log.events[-3]["data"]["parentToolCallId"] = call  # the subagent's own tool request
    log.events.append({"type": "brand.new.kind", "data": {}, "id": "x", "timestamp": "t", "parentId": None})
    (ep,), report = _read(cli, log.write(tmp_path / "events.jsonl"))
    assert ep.task == "write a notes file"
    assert [(e.path, e.subagent) for e in ep.edits] == [("notes.md", call)]
    assert report.counts["copilot/injected_messages"] == 2 and report.counts["unknown/brand.new.kind"] == 1


def test_cli_legacy_timeline_reconstructs_partly_viewed_files(tmp_path: Path):
    log = CopilotLegacy()
    log.files = {
        "README.md": "# Tool\n\nA tool.\n",
        "src/cli.rs": "// Tool\nfn main() {}\n" + "// pad\n" * 20,
    }
    log.user("rename Tool to Gadget")
    log.view("README.md")
    log.view("src/cli.rs", [1, 5])
    log.str_replace("README.md", "# Tool", "# Gadget")
    log.str_replace("src/cli.rs", "// Tool", "// Gadget")
    log.str_replace("README.md", "A tool.", "A gadget!", kind="rejected")
    log.create("CHANGELOG.md", "- renamed\n")
    log.bash("cd /work/app && grep -rn Gadget .")
    (ep,), report = _read(cli, log.write(tmp_path / "session_0b2a81da.json"))
    assert ep.repo.cwd == "/work/app" and ep.source.session_id == log.session
    assert [(e.path, e.status) for e in ep.edits] == [
        ("README.md", "applied"),
        ("src/cli.rs", "applied"),
        ("README.md", "rejected"),
        ("CHANGELOG.md", "applied"),
    ]
    assert ep.repo.file_confidence == {
        "README.md": "logged",
        "src/cli.rs": "reconstructed",
        "CHANGELOG.md": "logged",
    }
    assert ep.repo.base_files["src/cli.rs"].startswith("// Tool\nfn main() {}\n")
    assert ep.final.files["README.md"] == "# Gadget\n\nA tool.\n" and _consistent(ep)
    assert [f.kind for t in ep.turns for f in t.feedback] == ["reject"]
    assert report.counts["records"] == 1 + len(log.timeline) and not report.problems


# ------------------------------------------------------------------------------- VS Code Copilot Chat


def _vscode_session() -> VscodeChat:
    chat = VscodeChat()
    chat.files = {"app.py": APP}
    chat.request("add a util module and rename main")
    chat.say("I'll create util.py and rename main.")
    chat.create("util.py", UTIL)
    chat.files["app.py"] = APP  # the agent saw it through the editor: not in the log
    chat.replace("app.py", "def main():", "def run():")
    chat.request("undo the rename, and make add safer", events=[("app.py", 2), ("util.py", 1)])
    chat.replace("util.py", "    return a + b", "    return int(a) + int(b)", declined=True)
    chat.replace("util.py", "    return a - b", "    return int(a) - int(b)")
    chat.request("also sub", cancelled=True)
    chat.replace("util.py", "def sub(a, b):", "def subtract(a, b):")
    return chat


def test_vscode_keep_undo_declined_and_cancelled_requests(tmp_path: Path):
    chat = _vscode_session()
    (ep,), report = _read(vscode, chat.write_json(tmp_path / "chatSessions" / f"{chat.session}.json"))
    assert ep.source.tool == "copilot_vscode" and ep.source.session_id == chat.session
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [
        ("util.py", "create_file", "applied"),
        ("app.py", "replace_string_in_file", "rejected"),  # undone by the user (Undo)
        ("util.py", "replace_string_in_file", "rejected"),  # the tool call was declined
        ("util.py", "replace_string_in_file", "applied"),
        ("util.py", "replace_string_in_file", "rejected"),  # its request was cancelled
    ]
    assert "Undo" in ep.edits[1].reason and "cancelled" in ep.edits[4].reason
    # the Undo arrives with the next request, whose text is the user's words for it
    assert _feedback(ep) == [
        ("reject_with_reason", "undo the rename, and make add safer"),
        ("reject_with_reason", "also sub"),
        ("cancel", None),
    ]
    assert ep.final.files["util.py"] == UTIL.replace("    return a - b", "    return int(a) - int(b)")
    assert "app.py" not in ep.final.diff and _consistent(ep)
    assert ep.repo.file_confidence == {"util.py": "logged", "app.py": "reconstructed"}
    assert report.counts["skipped_records"] == 0


def test_vscode_mutation_log_reads_like_the_json_and_replaces_it(tmp_path: Path):
    chat = _vscode_session()
    sessions = tmp_path / "workspaceStorage" / "abc123" / "chatSessions"
    old = chat.write_json(sessions / f"{chat.session}.json")
    log = chat.write_jsonl(sessions / f"{chat.session}.jsonl")
    (sessions.parent / "workspace.json").write_text(json.dumps({"folder": "file:///work/app"}))
    (a,), _ = _read(vscode, old)
    (b,), report = _read(vscode, log)
    assert [(e.path, e.status, e.diff) for e in a.edits] == [(e.path, e.status, e.diff) for e in b.edits]
    assert report.counts["records"] == 5 + 3  # 5 log lines, 3 requests
    assert vscode.is_attached(old) and not vscode.is_attached(log)
    report = IngestReport(quiet=True)
    ingest([str(tmp_path)], tmp_path / "episodes.jsonl", report=report)
    assert report.counts["files/copilot_vscode"] == 1 and report.counts["episodes"] == 1


def test_vscode_export_streamed_edits_and_detection(tmp_path: Path):
    chat = VscodeChat(folder="/home/dev/site")
    chat.request("create the page and fix its title")
    chat.say("Creating it.")
    chat.create("index.html", "<html>\n<title>x</title>\n</html>\n")
    chat.request("title should be Home")
    chat.say("Done.")
    chat.stream_edit("index.html", 2, "<title>Home</title>")
    chat.request("and the footer")
    chat.files["footer.html"] = "<div/>\n"  # a file the log never showed
    chat.stream_edit("footer.html", 1, "<footer/>")
    path = chat.write_export(tmp_path / "chat.json")
    (ep,), report = _read(vscode, path)
    assert report.counts["skipped/unknown_base"] == 1 and "footer.html" in report.problems[0]
    assert ep.repo.cwd == "/home/dev/site" and ep.source.session_id is None
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [
        ("index.html", "create_file", "applied"),
        ("index.html", "textEditGroup", "applied"),
    ]
    assert ep.final.files == {"index.html": "<html>\n<title>Home</title>\n</html>\n"}
    for p in (path, chat.write_json(tmp_path / "s.json"), chat.write_jsonl(tmp_path / "s.jsonl")):
        assert detect(p, read_head(p)) == "copilot_vscode"
    events = CopilotEvents().write(tmp_path / "events.jsonl")
    legacy = CopilotLegacy().write(tmp_path / "session_x.json")
    assert detect(events, read_head(events)) == detect(legacy, read_head(legacy)) == "copilot_cli"


def test_vscode_bad_mutations_are_skipped_and_counted(tmp_path: Path):
    chat = _vscode_session()
    log = chat.write_jsonl(tmp_path / "s.jsonl")
    lines = log.read_text().splitlines()
    lines.insert(1, json.dumps({"kind": 1, "k": ["requests", 99, "x"], "v": 1}))
    lines.insert(2, "{oops")
    log.write_text("\n".join(lines) + "\n")
    (ep,), report = _read(vscode, log)
    assert len(ep.edits) == 5 and report.counts["skipped_records"] == 2
    assert all(str(log) in p for p in report.problems)
