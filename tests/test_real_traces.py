"""Counts pinned on real public session logs (`../shared/real_traces/`, see its SOURCES.md), one row per file.

Each row goes through the real ingest path (detect, read, scrub) and pins what a change to a reader must
not move silently. `ROWS`: episodes, edits, gold and negative edits, rejected edits, and the user's
rejections with how many of them map to an edit. `PINNED` (the agents read since issue 19): the format
detected, episodes, edits, rejected edits and the feedback kinds; each such file ingests with no record
skipped or unknown, and every file of their folders must have a row. A session that made no edit gives no
episode. To add a format, add a row. The files are found by `real_traces.py` and read in place (never
copied here); each test skips when its file is absent.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from real_traces import REAL, real

from golddiff.episodes import read_episodes
from golddiff.traces import gemini
from golddiff.traces.copilot import cli
from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport, ReadOptions
from golddiff.traces.session.stats import stats_summary


def _ingest(path: Path, tmp_path: Path) -> tuple[dict, Path]:
    report = IngestReport(quiet=True)
    out = tmp_path / "episodes.jsonl"
    ingest([str(path)], out, report=report)
    return stats_summary(report), out


# file: (episodes, edits, gold_edits, negative_edits, rejected_edits, rejections, rejections_mapped)
ROWS = {
    # 2 cancels + 1 reject + 1 reject-with-reason: three are of Bash calls (not edits), one of an Edit;
    # the failed Edit of CLAUDE.md (its text is in nothing the log showed) is a negative too
    "claude_code_2.0.42_jssoundrecorder.jsonl": (1, 23, 20, 3, 1, 4, 1),
    # 2 rejections: one of an Edit of go.mod, one of an MCP call
    "claude_code/vct_claude_1.0.95.jsonl": (1, 6, 5, 1, 1, 2, 1),
    "codex/vct_codex_0.39.0_vscode.jsonl": (1, 4, 3, 1, 0, 0, 0),
    # the same `edit 287:295` four times: superseded negatives
    "swe_agent_pydicom-1458.traj": (1, 6, 1, 5, 0, 0, 0),
    "openhands_basic_gui_mode.json": (1, 2, 2, 0, 0, 0, 0),
}
KEYS = (
    "episodes",
    "edits",
    "gold_edits",
    "negative_edits",
    "rejected_edits",
    "rejections",
    "rejections_mapped",
)


@pytest.mark.parametrize("name", sorted(ROWS))
def test_real_trace_counts(name: str, tmp_path: Path):
    summary, _ = _ingest(real(name), tmp_path)
    assert tuple(summary[k] for k in KEYS) == ROWS[name], dict(zip(KEYS, (summary[k] for k in KEYS)))
    # every rejection maps to exactly one edit, or is counted as unmapped with its reason
    assert summary["rejections"] == summary["rejections_mapped"] + sum(
        summary["rejections_unmapped"].values()
    )
    assert summary["skipped_records"] == 0


# file -> (format, episodes, edits, rejected edits, feedback kinds)
PINNED: dict[str, tuple[str, int, int, int, dict[str, int]]] = {
    "gemini_cli/aim_matrix_flash.json": ("gemini_cli", 1, 12, 0, {}),
    "gemini_cli/vct_session-2025-10-11_legacy.json": ("gemini_cli", 0, 0, 0, {}),
    "gemini_cli/vct_session-2026-04-23.jsonl": ("gemini_cli", 1, 2, 0, {"interrupt": 1}),
    "copilot_cli/vct_copilot_session-2025-10-11_legacy.json": ("copilot_cli", 1, 7, 0, {}),
    "copilot_vscode/dealenx_chat_error_mcp_0.31.3.json": ("copilot_vscode", 0, 0, 0, {}),
    "copilot_vscode/dealenx_completed_chat_0.31.3.json": ("copilot_vscode", 0, 0, 0, {}),
    "pi/specstory_pi_real_world_trimmed.jsonl": ("pi", 0, 0, 0, {}),
}
# every file of these folders must have a row
PINNED_DIRS = ("gemini_cli", "copilot_cli", "copilot_vscode", "pi")


@pytest.mark.parametrize("name", sorted(PINNED))
def test_real_file_ingests_whole_with_pinned_counts(name: str, tmp_path: Path):
    fmt, episodes, edits, rejected, feedback = PINNED[name]
    stats, out = _ingest(real(name), tmp_path)
    assert stats["by_format"] == {fmt: 1}
    assert (stats["episodes"], stats["edits"], stats["rejected_edits"]) == (episodes, edits, rejected)
    assert stats["feedback"] == feedback
    assert stats["skipped_records"] == 0 and stats["unknown_records"] == 0 and stats["records"] > 0
    assert stats["per_format"][fmt] == {
        "files": 1,
        "episodes": episodes,
        "edits": edits,
        "rejected_edits": rejected,
    }
    for ep in read_episodes(out):  # every episode's gold diff takes its base files to its final files
        assert ep.source.tool == fmt and ep.final.diff


def test_every_real_file_of_the_new_formats_is_pinned():
    if REAL is None:
        pytest.skip("shared/real_traces is not here")
    present = {f"{d}/{p.name}" for d in PINNED_DIRS if (REAL / d).is_dir() for p in (REAL / d).iterdir()}
    assert present <= set(PINNED), f"pin these files too: {sorted(present - set(PINNED))}"


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
