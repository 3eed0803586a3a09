"""Counts pinned on every real public session log in `../shared/real_traces/` (see its SOURCES.md).

Each file goes through the real ingest path (detect, read, scrub) and its row in `ROWS` pins what a
change to a reader must not move silently: the format detected, episodes, edits, gold and negative edits,
rejected edits, the user's rejections with how many of them map to an edit, and the feedback kinds;
`COUNTERS` pins what else a reader counts of a file. Every file ingests with no record skipped or unknown,
every rejection maps to one edit or is counted as unmapped with its reason, every episode's gold diff
takes its base files to its final files, and every file of the folder has a row: to add a log, add a row.
A session that made no edit gives no episode. There is no public Cline / Roo Code task folder: that reader
is tested on fixtures written from the extensions' sources (tests/test_cline.py).

The files are found by `real_traces.py` and read in place (never copied here); each test skips when its
file is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from real_traces import REAL, real

from golddiff.diffs import apply_unified_diff
from golddiff.traces import gemini
from golddiff.traces.copilot import cli
from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport, ReadOptions
from golddiff.traces.session.stats import stats_summary

CURSOR_DB = "cursor/slevin48_workspaceStorage_state.vscdb"
KIND_WIZARD = "opencode/darkfactory_export_kind-wizard_ses_39b2f9630ffewQksq2Ld8n4axU.json"
NIMBLE_PIXEL = "opencode/darkfactory_export_nimble-pixel_ses_39b4c1891ffezxPVc5OPmcqF33.json"

KEYS = (
    "episodes",
    "edits",
    "gold_edits",
    "negative_edits",
    "rejected_edits",
    "rejections",
    "rejections_mapped",
)
# file: (format, (episodes, edits, gold, negative, rejected edits, rejections, rejections mapped), feedback)
ROWS: dict[str, tuple[str, tuple[int, ...], dict[str, int]]] = {
    # 2 cancels + 1 reject + 1 reject-with-reason: three are of Bash calls (not edits), one of an Edit;
    # the failed Edit of CLAUDE.md (its text is in nothing the log showed) is a negative too
    "claude_code_2.0.42_jssoundrecorder.jsonl": (
        "claude_code",
        (1, 23, 20, 3, 1, 4, 1),
        {"cancel": 2, "interrupt": 1, "reject": 1, "reject_with_reason": 1},
    ),
    # 2 rejections: one of an Edit of go.mod, one of an MCP call
    "claude_code/vct_claude_1.0.95.jsonl": (
        "claude_code",
        (1, 6, 5, 1, 1, 2, 1),
        {"interrupt": 2, "reject": 2},
    ),
    "codex/vct_codex_0.39.0_vscode.jsonl": ("codex", (1, 4, 3, 1, 0, 0, 0), {}),
    # the same `edit 287:295` four times: superseded negatives
    "swe_agent_pydicom-1458.traj": ("swe_agent", (1, 6, 1, 5, 0, 0, 0), {}),
    "openhands_basic_gui_mode.json": ("openhands", (1, 2, 2, 0, 0, 0, 0), {}),
    "gemini_cli/aim_matrix_flash.json": ("gemini_cli", (1, 12, 10, 2, 0, 0, 0), {}),
    "gemini_cli/vct_session-2025-10-11_legacy.json": ("gemini_cli", (0, 0, 0, 0, 0, 0, 0), {}),
    "gemini_cli/vct_session-2026-04-23.jsonl": ("gemini_cli", (1, 2, 2, 0, 0, 0, 0), {"interrupt": 1}),
    "copilot_cli/vct_copilot_session-2025-10-11_legacy.json": ("copilot_cli", (1, 7, 7, 0, 0, 0, 0), {}),
    "copilot_vscode/dealenx_chat_error_mcp_0.31.3.json": ("copilot_vscode", (0, 0, 0, 0, 0, 0, 0), {}),
    "copilot_vscode/dealenx_completed_chat_0.31.3.json": ("copilot_vscode", (0, 0, 0, 0, 0, 0, 0), {}),
    "pi/specstory_pi_real_world_trimmed.jsonl": ("pi", (0, 0, 0, 0, 0, 0, 0), {}),
    # composers where the user decided on at least one suggestion; 15 edits rejected by the user, 8
    # cancelled (dismissed before they were applied)
    CURSOR_DB: ("cursor", (18, 57, 34, 23, 23, 15, 15), {"reject": 11, "reject_with_reason": 4}),
    # the agent only read and searched; the 3 files that changed were changed by others
    KIND_WIZARD: ("opencode", (0, 0, 0, 0, 0, 0, 0), {}),
    # the second turn ended in MessageAbortedError
    NIMBLE_PIXEL: ("opencode", (1, 1, 1, 0, 0, 0, 0), {"interrupt": 1}),
}
# file: what else its reader counts (IngestReport.counts)
COUNTERS: dict[str, dict[str, int]] = {
    CURSOR_DB: {
        "records": 82,  # bubbles of 26 composers
        "cursor/undecided_code_blocks": 48,  # suggestions nobody accepted or rejected: not edits
        "cursor/lazy_blocks_not_placed": 11,  # accepted, but eliding code of a file the log never held
        "cursor/lazy_negatives_not_placed": 2,
    },
    KIND_WIZARD: {"records": 157, "opencode/files_changed_outside_tools": 3},  # 24 messages and their parts
    NIMBLE_PIXEL: {"records": 36},
}


def _ingest(rel: str, tmp_path: Path) -> tuple[IngestReport, list[dict]]:
    out = tmp_path / "episodes.jsonl"
    report = ingest([str(real(rel))], out, report=IngestReport(quiet=True))
    return report, [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []


@pytest.mark.parametrize("name", sorted(ROWS))
def test_real_trace_counts(name: str, tmp_path: Path):
    fmt, counts, feedback = ROWS[name]
    report, episodes = _ingest(name, tmp_path)
    summary = stats_summary(report)
    assert summary["by_format"] == {fmt: 1}
    assert tuple(summary[k] for k in KEYS) == counts, dict(zip(KEYS, (summary[k] for k in KEYS)))
    assert summary["feedback"] == feedback
    assert {k: report.counts[k] for k in COUNTERS.get(name, {})} == COUNTERS.get(name, {})
    assert summary["skipped_records"] == 0 and summary["unknown_records"] == 0, report.problems
    assert summary["records"] > 0
    assert summary["per_format"][fmt] == {
        "files": 1,
        "episodes": counts[0],
        "edits": counts[1],
        "rejected_edits": counts[4],
    }
    # every rejection maps to exactly one edit, or is counted as unmapped with its reason
    assert summary["rejections"] == summary["rejections_mapped"] + sum(
        summary["rejections_unmapped"].values()
    )
    for ep in episodes:  # every gold diff takes the base files to the accepted files
        base, files = ep["repo"]["base_files"], ep["final"]["files"]
        assert apply_unified_diff(base, ep["final"]["diff"]) == {**base, **files}
        assert ep["final"]["diff"] or not ep["final"]["accepted"]


def test_every_real_trace_has_a_row():
    if REAL is None:
        pytest.skip("shared/real_traces is not here")
    present = {p.relative_to(REAL).as_posix() for p in REAL.rglob("*") if p.is_file() and p.suffix != ".md"}
    assert present <= set(ROWS), f"pin these files too: {sorted(present - set(ROWS))}"


def test_gemini_flash_run_logs_whole_files_and_the_fix_is_the_gold():
    (ep,) = gemini.read(real("gemini_cli/aim_matrix_flash.json"), IngestReport(quiet=True), ReadOptions())
    assert ep.repo.cwd == "/home/kingb/aim_benchmarks/django_matrix_flash"  # its SHA-256 is projectHash
    assert Counter(e.status for e in ep.edits) == {"applied": 10, "superseded": 2}
    assert set(ep.repo.file_confidence.values()) == {"logged"}
    assert "+    ipv6_re = r'\\[[0-9a-fA-F:\\.]+\\]'" in ep.final.diff
    # validators.py was put back between edits by shell commands (git checkout): said, not hidden
    assert sum("changed outside the logged edits" in w for w in ep.provenance.warnings) == 2


def test_copilot_legacy_rebuilds_files_it_saw_in_part():
    (ep,) = cli.read(
        real("copilot_cli/vct_copilot_session-2025-10-11_legacy.json"),
        IngestReport(quiet=True),
        ReadOptions(),
    )
    assert ep.repo.cwd == "/home/wei/repo/VibeCodingTracker"
    assert ep.repo.file_confidence == {
        "src/cli.rs": "reconstructed",
        "Cargo.toml": "reconstructed",
        "README.md": "logged",  # viewed whole before the edits
        "CHANGELOG_DEMO.md": "logged",  # created
    }
    assert [e.status for e in ep.edits] == ["applied"] * 7
    assert ep.final.diff.count("-# Vibe Coding Tracker") == 1 and "+# Vibe Code Tracker" in ep.final.diff


def test_real_cursor_episodes_say_where_their_base_came_from(tmp_path: Path):
    _, episodes = _ingest(CURSOR_DB, tmp_path)
    assert {ep["repo"]["cwd"] for ep in episodes} == {
        "c:/Users/user/Documents/mobilechat"
    }  # user names scrubbed
    with_base = [
        ep for ep in episodes if ep["repo"]["base_files"]
    ]  # (the others: rejected edits on unseen files)
    assert len(with_base) == 16
    assert sum(not ep["final"]["accepted"] for ep in episodes) == 5  # everything in them was rejected
    assert all(
        ep["repo"]["base_state_confidence"] == "reconstructed" for ep in with_base
    )  # 0.42 logs no file before
    first = episodes[0]
    assert first["task"].startswith("create a dedicated page for the copilot icon")
    assert [(e["path"], e["status"]) for e in first["edits"]] == [("src/app/app.routes.ts", "applied")]
    reasons = [
        f["text"]
        for ep in episodes
        for t in ep["turns"]
        for f in t["feedback"]
        if f["kind"] == "reject_with_reason"
    ]
    assert any("menu item" in r for r in reasons)  # the user's next words after rejecting everything


def test_real_opencode_apply_patch_with_logged_base(tmp_path: Path):
    _, (ep,) = _ingest(NIMBLE_PIXEL, tmp_path)
    assert ep["source"]["tool"] == "opencode" and ep["source"]["version"] == "1.2.5"
    assert ep["repo"]["cwd"] == "/Users/user/repos/vfp/dark-factory"  # user names scrubbed
    assert [(e["path"], e["status"], e["tool"]) for e in ep["edits"]] == [
        ("TODO.md", "applied", "apply_patch")
    ]
    assert ep["repo"]["base_state_confidence"] == "logged" and ep["repo"]["file_confidence"] == {
        "TODO.md": "logged"
    }
    assert ep["final"]["diff"].count("\n+- [ ] Core / Re-enable real protobuf") == 1
    assert [t["user"] for t in ep["turns"]][1] == "Whats broken with it ?"
