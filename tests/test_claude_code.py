"""The Claude Code reader on small hand-made transcripts (one construct each) and on a real 2.0.42 session
(property tests: test_claude_code_properties.py).

Fixtures: tests/fixtures/claude_code/ (regenerate with its make_fixtures.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.episodes import Episode
from golddiff.traces import claude_code
from golddiff.traces.claude_code.text import classify_tool_result, split_wrappers
from golddiff.traces.session import IngestReport, ReadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "claude_code"
REAL = Path(__file__).parents[2] / "shared/real_traces/claude_code_2.0.42_jssoundrecorder.jsonl"
GREET = 'def greet(name):\n    return "hello " + name\n'
HI = 'def greet(name):\n    return "hi " + name\n'


def read(name: str | Path, **opts) -> tuple[list[Episode], IngestReport]:
    report = IngestReport(quiet=True)
    path = name if isinstance(name, Path) else FIXTURES / name
    return list(claude_code.read(path, report, ReadOptions(**opts))), report


def read_one(name: str, **opts) -> tuple[Episode, IngestReport]:
    episodes, report = read(name, **opts)
    assert len(episodes) == 1, [e.task for e in episodes]
    return episodes[0], report


def feedback(ep: Episode) -> list[tuple[str, str | None, str | None]]:
    return [(f.kind, f.text, f.call_id) for t in ep.turns for f in t.feedback]


def notes(ep: Episode) -> list[str]:
    return [
        s.text or "" for t in ep.turns for s in t.steps if s.kind == "note" and (s.text or "").startswith("[")
    ]


def gold_diff_applies(ep: Episode) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == ep.final.files


# --------------------------------------------------------------------------- detection


def test_sniff_claims_claude_code_by_content_and_nothing_else(tmp_path):
    for name in ("grouped_response.jsonl", "queue.jsonl", "record_types.jsonl", "compaction.jsonl"):
        head = (FIXTURES / name).read_text()[:16384]
        assert claude_code.sniff(tmp_path / "renamed.log", head), name
    codex = json.dumps({"timestamp": "t", "type": "session_meta", "payload": {"id": "x", "cwd": "/w"}})
    assert not claude_code.sniff(tmp_path / "x.jsonl", codex + "\n")
    assert not claude_code.sniff(tmp_path / "x.jsonl", '{"type": "user", "text": "hi"}\n')
    assert not claude_code.sniff(tmp_path / "x.jsonl", "not json at all\n")
    summary_first = '{"type":"summary","summary":"Fix","leafUuid":"abc"}\n{"type":"user","uuid'  # cut line
    assert claude_code.sniff(tmp_path / "x.jsonl", summary_first)


def test_subagent_transcripts_are_attached_in_both_layouts():
    assert claude_code.is_attached(Path("/p/proj/5ub21/subagents/agent-a1b2c3d.jsonl"))
    assert claude_code.is_attached(Path("/p/proj/5ub21/subagents/workflows/wf1/agent-x.jsonl"))
    assert claude_code.is_attached(Path("/p/proj/agent-1a2b3c4d.jsonl"))
    assert not claude_code.is_attached(Path("/p/proj/5ub21000-0000-4000-8000-000000000001.jsonl"))
    assert not claude_code.is_attached(Path("/p/proj/agent-notes.jsonl"))


# ----------------------------------------------------------------------- edits rebuilt


def test_one_api_response_over_several_lines_is_read_once():
    ep, report = read_one("grouped_response.jsonl")
    steps = [(s.kind, s.text or (s.call.name if s.call else None)) for t in ep.turns for s in t.steps]
    assert steps == [
        ("thinking", "Small change."),
        ("text", "I'll change the greeting."),
        ("tool_call", "Edit"),
        ("text", "Done."),
    ]
    assert steps.count(("text", "I'll change the greeting.")) == 1
    assert ep.task == "make greet say hi"
    assert ep.repo.base_files == {"greet.py": GREET} and ep.final.files == {"greet.py": HI}
    assert report.counts["patch_checked"] == 1 and report.counts["patch_mismatch"] == 0
    assert (ep.source.tool, ep.source.version, ep.source.session_id) == (
        "claude_code",
        "2.0.42",
        "sess-group",
    )
    assert (ep.repo.cwd, ep.repo.branch) == ("/work/app", "main")


def test_write_create_and_update():
    ep, report = read_one("write_create_update.jsonl")
    assert ep.repo.base_files == {"src/util.py": None, "README.md": "# App\n\nOld text.\n"}
    assert ep.final.files["src/util.py"] == "def add(a, b):\n    return a + b\n"
    assert ep.final.files["README.md"] == "# App\n\nNew text, with util.\n"
    assert [e.status for e in ep.edits] == ["applied", "applied"]
    assert "new file mode" in ep.edits[0].diff and "+New text, with util." in ep.edits[1].diff
    assert report.counts["patch_checked"] == 2 and report.counts["patch_mismatch"] == 0
    assert gold_diff_applies(ep)


def test_multiedit_applies_its_edits_in_order():
    ep, report = read_one("multiedit.jsonl")
    assert ep.final.files == {"app.py": "import sys\n\n\ndef main():\n    print('begin')\n    return 1\n"}
    assert ep.edits[0].tool == "MultiEdit" and ep.source.version == "1.0.80"
    assert report.counts["patch_checked"] == 1 and report.counts["patch_mismatch"] == 0


def test_replace_all_replaces_every_occurrence():
    ep, report = read_one("replace_all.jsonl")
    assert ep.final.files == {"calc.py": "total = 0\nfor i in range(3):\n    total += i\nprint(total)\n"}
    assert report.counts["patch_mismatch"] == 0


def test_a_human_change_between_edits_trusts_the_log_and_a_patch_mismatch_is_counted():
    ep, report = read_one("human_change.jsonl")
    assert any("changed outside the logged edits" in w for w in ep.provenance.warnings)
    assert report.counts["patch_checked"] == 3 and report.counts["patch_mismatch"] == 1
    assert any("toolu_h3" in w and "logged patch" in w for w in ep.provenance.warnings)
    assert "# edited by hand" in ep.final.files["greet.py"]  # the logged originalFile won
    assert "assert name is not None" in ep.final.files["greet.py"]  # and so did the logged patch


# --------------------------------------------------------------------------- feedback


def test_rejections_cancels_and_interrupts():
    ep, _ = read_one("rejections.jsonl")
    assert feedback(ep) == [
        ("reject", None, "toolu_j1"),
        ("reject_with_reason", "use 'hi', not 'hey'", "toolu_j2"),
        ("cancel", None, "toolu_j3"),
        ("reject_with_reason", "never delete build", "toolu_j4"),  # a Bash call: feedback, no edit
        ("reject", None, "toolu_j5"),  # an Edit of a file never seen: feedback, no edit
        ("interrupt", None, None),
        ("interrupt", None, None),
    ]
    edits = {e.call_id: e for e in ep.edits}
    assert set(edits) == {"toolu_j1", "toolu_j2", "toolu_j3", "toolu_j6"}
    assert edits["toolu_j2"].status == "rejected" and edits["toolu_j2"].reason == "use 'hi', not 'hey'"
    assert '+    return "hey " + name' in edits["toolu_j2"].diff
    assert edits["toolu_j3"].status == "rejected" and edits["toolu_j3"].path == "notes.md"
    assert edits["toolu_j6"].status == "applied"
    assert set(ep.labels.negative_edits) == {edits[c].edit_id for c in ("toolu_j1", "toolu_j2", "toolu_j3")}
    # a file only a rejected edit touched ends as it began: no gold change for it
    assert ep.final.files == {"greet.py": HI, "notes.md": None} and "notes.md" not in ep.final.diff
    assert ep.task == "tidy up greet.py"
    assert [t.user for t in ep.turns if t.user] == ["tidy up greet.py", "why did you shout", "ok, use hi"]


def test_failed_edit_is_a_negative_only_when_its_change_can_be_formed():
    ep, _ = read_one("failed_edits.jsonl")
    assert [(e.call_id, e.status) for e in ep.edits] == [("toolu_f1", "applied"), ("toolu_f3", "failed")]
    assert ep.edits[1].reason.startswith("File has been modified since read")
    call = next(s.call for t in ep.turns for s in t.steps if s.call and s.call.call_id == "toolu_f2")
    assert call.is_error and "String to replace not found" in call.output
    assert feedback(ep) == []


def test_plan_rejections_and_question_answers_are_not_edit_rejections():
    ep, _ = read_one("plan_and_question.jsonl")
    assert feedback(ep) == [
        ("plan_rejected", None, "toolu_p1"),
        ("plan_rejected", "smaller plan please", "toolu_p2"),
    ]
    assert "[feedback] hi, lowercase" in notes(ep)  # the question's answer
    assert [e.status for e in ep.edits] == ["applied"]


def test_verdict_texts():
    assert classify_tool_result("Error: The user doesn't want to take this action right now. STOP") is None
    assert classify_tool_result("String to replace not found in file.") is None
    reason = classify_tool_result(
        "Permission for this tool use was denied. The tool use was rejected (eg. if it was a file edit, the "
        "new_string was NOT written to the file). The user said:\nnot in a subagent"
    )
    assert reason is not None and (reason.kind, reason.reason) == ("reject_with_reason", "not in a subagent")
    words, wrapped = split_wrappers("<command-name>/clear</command-name>\n<command-args></command-args>")
    assert words == "" and [k for k, _ in wrapped] == ["command"]


# ----------------------------------------------------------------------- tree, branches


def test_rewound_branch_edits_are_negatives_off_the_main_line():
    ep, _ = read_one("rewind_branch.jsonl")
    by_call = {e.call_id: e for e in ep.edits}
    shout = by_call["toolu_b2"]
    assert (shout.status, shout.on_main_line) == ("reverted", False)
    assert shout.reason.startswith("abandoned branch:") and "HELLO" in shout.diff
    assert by_call["toolu_b3"].status == "applied" and by_call["toolu_b3"].on_main_line
    assert ("rewind", "make it shout", None) in feedback(ep)
    assert shout.edit_id in ep.labels.negative_edits
    assert ep.final.files == {"greet.py": HI}
    assert [t.user for t in ep.turns if t.user] == ["add a greet module", "make it say hi instead"]


def test_rewind_to_the_first_prompt():
    ep, _ = read_one("rewind_first_prompt.jsonl")
    assert ep.task == "write hello.txt saying hi"
    assert [(e.status, e.on_main_line) for e in ep.edits] == [("reverted", False), ("applied", True)]
    assert ep.final.files == {"hello.txt": "hi\n"}


def test_parallel_tool_results_on_side_lines_are_not_branches():
    ep, _ = read_one("parallel_tools.jsonl")
    assert [(e.path, e.status, e.on_main_line) for e in ep.edits] == [
        ("a.py", "applied", True),
        ("b.py", "applied", True),
    ]
    assert feedback(ep) == []


def test_compaction_is_crossed_and_its_replay_skipped():
    ep, report = read_one("compaction.jsonl")
    assert [e.call_id for e in ep.edits] == ["toolu_k1", "toolu_k2"]  # not the replayed toolu_kr
    assert ep.final.files == {"greet.py": 'def greet(name):\n    assert name\n    return "hi " + name\n'}
    assert report.counts["compactions"] == 1 and report.counts["replayed_records"] == 3
    kinds = [n.split("]")[0] + "]" for n in notes(ep)]
    assert "[compact_summary]" in kinds and "[meta]" in kinds
    assert ep.task == "make greet say hi"
    assert report.counts["unknown_records"] == 0 and report.counts["skipped_records"] == 0


def test_queued_messages_are_notes():
    ep, _ = read_one("queue.jsonl")
    assert [n for n in notes(ep) if n.startswith("[queued]")] == [
        "[queued] also update the docs",
        "[queued] and add a test",
        "[queued] run the linter too",
    ]
    assert ep.task == "make greet say hi"


def test_clear_starts_a_new_episode():
    first, second = read("clear_split.jsonl")[0]
    assert (first.task, second.task) == ("task one: say hi", "task two: bump the version")
    assert (first.source.segment, second.source.segment) == (0, 1)
    assert first.final.files == {"greet.py": HI} and second.repo.base_files == {"version.txt": "1.0\n"}
    assert any(n.startswith("[command] <command-name>/clear") for n in notes(second))
    assert len(read("clear_split.jsonl", split_on_clear=False)[0]) == 1


def test_commands_and_meta_messages_are_not_the_task():
    ep, _ = read_one("commands_meta.jsonl")
    assert ep.task == "make greet say hi"
    kinds = Counter(n.split("]")[0][1:] for n in notes(ep))
    # /init, the caveat, bash input and output (an empty stderr is not noted); the expansion, IDE, reminder
    assert (kinds["command"], kinds["meta"]) == (4, 3)
    assert [t.user for t in ep.turns if t.user] == ["make greet say hi"]
    asked = next(t for t in ep.turns if t.user)  # the IDE context and reminder sit with the request
    assert [s.text[:22] for s in asked.steps[:2]] == ["[meta] <ide_opened_fil", "[meta] <system-reminde"]


def test_every_record_type_is_known():
    ep, report = read_one("record_types.jsonl")
    assert report.counts["unknown_records"] == 0 and report.counts["skipped_records"] == 0
    assert ep.final.files == {"greet.py": HI}
    assert "[queued] later" in notes(ep) and any(
        n.startswith("[command] <command-name>/model") for n in notes(ep)
    )


# --------------------------------------------------------------------------- subagents


def test_subagent_2_1_layout_is_attached_at_its_task_result():
    ep, report = read_one(next((FIXTURES / "subagents_21").glob("*.jsonl")).relative_to(FIXTURES).as_posix())
    assert [(e.call_id, e.subagent, e.status) for e in ep.edits] == [
        ("toolu_s2", "a1b2c3d", "applied"),
        ("toolu_s3", None, "applied"),
    ]
    assert "def run():" in ep.edits[0].diff  # rebuilt on the file the parent read
    assert ep.provenance.warnings == []  # the parent's next originalFile agrees with the rebuilt file
    assert report.counts["subagent_files"] == 1


def test_subagent_2_0_layout_is_placed_by_time_and_other_sessions_agents_ignored():
    name = "subagents_20/5ub20000-0000-4000-8000-000000000002.jsonl"
    ep, report = read_one(name)
    assert [(e.call_id, e.subagent) for e in ep.edits] == [
        ("toolu_t1", None),
        ("toolu_t3", "1a2b3c4d"),
        ("toolu_t4", None),
    ]
    assert ep.final.files == {"util.py": "K = 2  # doubled\n"} and ep.provenance.warnings == []
    assert report.counts["subagent_files"] == 1


def test_ingest_reads_subagents_with_their_session_not_alone(tmp_path):
    from golddiff.traces.ingest import ingest

    report = ingest([str(FIXTURES / "subagents_21"), str(FIXTURES / "subagents_20")], tmp_path / "e.jsonl")
    assert report.counts["files/claude_code"] == 2 and report.counts["episodes"] == 2


def test_inline_sidechain_records_are_a_subagent():
    ep, _ = read_one("sidechain_inline.jsonl")
    assert [(e.subagent, e.status) for e in ep.edits] == [("sidechain", "applied")]
    assert ep.final.files == {"greet.py": HI} and ep.task == "have an agent fix the greeting"


# --------------------------------------------------------------------------- bad input


def test_bad_lines_are_reported_with_their_line_and_skipped():
    ep, report = read_one("bad_input.jsonl")
    c = report.counts
    assert (
        c["skipped/bad_json"],
        c["skipped/not_a_record"],
        c["skipped/bad_record"],
        c["skipped/truncated"],
    ) == (1, 1, 1, 1)
    assert c["unknown/telepathy"] == 1 and c["records"] == 8
    assert any(
        p.endswith("bad_input.jsonl:2: not JSON (Expecting value): 'this line is not JSON {'")
        for p in report.problems
    )
    assert any(":8: truncated last line" in p for p in report.problems)
    assert ep.final.files == {"greet.py": HI}


def test_empty_file_is_reported_once_and_gives_nothing():
    episodes, report = read("empty.jsonl")
    assert episodes == [] and report.counts["skipped/empty_file"] == 1 and len(report.problems) == 1


def test_paths_outside_the_working_directory_are_refused():
    ep, report = read_one("outside_cwd.jsonl")
    assert report.counts["skipped/outside_cwd"] == 2
    assert [e.path for e in ep.edits] == ["greet.py"] and set(ep.repo.base_files) == {"greet.py"}


def test_tool_use_result_of_unexpected_shape_is_reported_and_the_input_reapplied():
    ep, report = read_one("bad_tool_result.jsonl")
    assert report.counts["skipped/bad_tool_result"] == 2
    assert ep.final.files == {"greet.py": 'def greet(name):\n    return "hey " + name\n'}


# --------------------------------------------------------------------------- real trace


def test_real_claude_code_2_0_42_session():
    if not REAL.exists():
        pytest.skip(f"{REAL} is not here")
    ep, report = read_one(REAL)  # type: ignore[arg-type]
    calls = {s.call.call_id: s.call for t in ep.turns for s in t.steps if s.call}
    assert Counter(c.name for c in calls.values() if c.name in ("Edit", "Write")) == {"Edit": 18, "Write": 5}
    # every edit that reached a file rebuilt, and each agrees with its structuredPatch
    assert report.counts["patch_checked"] == 21 and report.counts["patch_mismatch"] == 0
    fb = feedback(ep)
    rejected_bash = [f for f in fb if f[0].startswith("reject") and calls[f[2]].name == "Bash"]
    assert len(rejected_bash) == 2
    # the 2.0.x wording of a rejection with the user's reason keeps the reason
    assert ("reject_with_reason", "use pnpm", "toolu_011v8qQUhd84LQXKGc9RVofA") in fb
    cancelled_edit = [e for e in ep.edits if e.status == "rejected"]
    assert len(cancelled_edit) == 1 and ("cancel", None, cancelled_edit[0].call_id) in fb
    assert ("interrupt", None, None) in fb
    assert sum(n.startswith("[queued]") for n in notes(ep)) == 6
    assert ep.task.startswith("OK, so this was just so you know what there is now")
    assert ep.repo.base_files["CLAUDE.md"] is None and ep.final.files["CLAUDE.md"].startswith("# CLAUDE.md")
    assert report.counts["skipped_records"] == 0 and report.counts["unknown_records"] == 0
    assert gold_diff_applies(ep)


def test_feedback_text_doctests():
    import doctest

    from golddiff.traces.claude_code import text as claude_code_text

    assert doctest.testmod(claude_code_text).failed == 0
