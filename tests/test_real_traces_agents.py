"""Real logs of Gemini CLI, GitHub Copilot, pi (and the other agents golddiff reads since issue 19), from
../shared/real_traces: each ingests with no record skipped or unknown, and its counts are pinned.

The files are third-party data (see ../shared/real_traces/SOURCES.md): read in place, never copied into
the project; the tests skip when the folder is absent. Each row: the format detected, episodes, edits,
rejected edits and the feedback kinds of the whole file. A session that made no edit gives no episode.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from golddiff.episodes import read_episodes
from golddiff.traces import gemini
from golddiff.traces.builder import IngestReport, ReadOptions
from golddiff.traces.copilot import cli
from golddiff.traces.ingest import ingest, stats_summary

# ../shared/real_traces from the project root (a checkout in a worktree folder looks further up)
REAL = next(
    (
        p / "shared" / "real_traces"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "real_traces").is_dir()
    ),
    Path(__file__).resolve().parents[2] / "shared" / "real_traces",
)
pytestmark = pytest.mark.skipif(not REAL.is_dir(), reason="../shared/real_traces not present")

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


def _ingest(path: Path, tmp_path: Path) -> tuple[dict, Path]:
    report = IngestReport(quiet=True)
    out = tmp_path / "episodes.jsonl"
    ingest([str(path)], out, report=report)
    return stats_summary(report), out


@pytest.mark.parametrize("name", sorted(PINNED))
def test_real_file_ingests_whole_with_pinned_counts(name: str, tmp_path: Path):
    fmt, episodes, edits, rejected, feedback = PINNED[name]
    stats, out = _ingest(REAL / name, tmp_path)
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
    present = {f"{d}/{p.name}" for d in PINNED_DIRS if (REAL / d).is_dir() for p in (REAL / d).iterdir()}
    assert present <= set(PINNED), f"pin these files too: {sorted(present - set(PINNED))}"


def test_gemini_flash_run_logs_whole_files_and_the_fix_is_the_gold():
    (ep,) = gemini.read(REAL / "gemini_cli/aim_matrix_flash.json", IngestReport(quiet=True), ReadOptions())
    assert ep.repo.cwd == "/home/kingb/aim_benchmarks/django_matrix_flash"  # its SHA-256 is projectHash
    assert Counter(e.status for e in ep.edits) == {"applied": 10, "superseded": 2}
    assert set(ep.repo.file_confidence.values()) == {"logged"}
    assert "+    ipv6_re = r'\\[[0-9a-fA-F:\\.]+\\]'" in ep.final.diff
    # validators.py was put back between edits by shell commands (git checkout): said, not hidden
    assert sum("changed outside the logged edits" in w for w in ep.provenance.warnings) == 2


def test_copilot_legacy_rebuilds_files_it_saw_in_part():
    (ep,) = cli.read(
        REAL / "copilot_cli/vct_copilot_session-2025-10-11_legacy.json",
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
