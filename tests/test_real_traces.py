"""Counts pinned on real public session logs (`../shared/real_traces/`, see its SOURCES.md), one row per file.

Each row goes through the real ingest path (detect, read, scrub) and pins what a change to a reader must
not move silently: episodes, edits, gold and negative edits, rejected edits, and the user's rejections
with how many of them map to an edit. To add a format, add a row. The files are third-party data read in
place (never copied here); the test skips when they are absent. Where they are looked for: the folder in
$GOLDDIFF_REAL_TRACES, else `shared/real_traces` beside the project root or one level above it (a
worktree under `wt/`).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from golddiff.traces.ingest import ingest
from golddiff.traces.session import IngestReport
from golddiff.traces.session.stats import stats_summary

ROOT = Path(__file__).resolve().parents[1]


def _traces_dir() -> Path | None:
    candidates = [os.environ.get("GOLDDIFF_REAL_TRACES")]
    candidates += [str(up / "shared" / "real_traces") for up in (ROOT.parent, ROOT.parent.parent)]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


REAL = _traces_dir()

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
    if REAL is None or not (REAL / name).exists():
        pytest.skip(f"shared/real_traces/{name} is not here")
    report = IngestReport(quiet=True)
    ingest([str(REAL / name)], tmp_path / "episodes.jsonl", report=report)
    summary = stats_summary(report)
    assert tuple(summary[k] for k in KEYS) == ROWS[name], dict(zip(KEYS, (summary[k] for k in KEYS)))
    # every rejection maps to exactly one edit, or is counted as unmapped with its reason
    assert summary["rejections"] == summary["rejections_mapped"] + sum(
        summary["rejections_unmapped"].values()
    )
    assert summary["skipped_records"] == 0
