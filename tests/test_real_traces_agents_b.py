"""Real Cursor and OpenCode files (shared/real_traces, see its SOURCES.md) through `golddiff ingest`:
each one's counts pinned (episodes, edits, rejected edits, feedback kinds), nothing skipped.

Skipped when the shared folder is absent. There is no public Cline / Roo Code task folder: their reader
is tested on fixtures written from the extensions' sources (tests/test_cline.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces.builder import IngestReport
from golddiff.traces.ingest import ingest

SHARED = next(
    (
        p / "shared" / "real_traces"
        for p in Path(__file__).resolve().parents
        if (p / "shared" / "real_traces").is_dir()
    ),
    None,
)
needs_shared = pytest.mark.skipif(SHARED is None, reason="shared/real_traces not present")

CURSOR_DB = "cursor/slevin48_workspaceStorage_state.vscdb"
KIND_WIZARD = "opencode/darkfactory_export_kind-wizard_ses_39b2f9630ffewQksq2Ld8n4axU.json"
NIMBLE_PIXEL = "opencode/darkfactory_export_nimble-pixel_ses_39b4c1891ffezxPVc5OPmcqF33.json"

# what each real file gives: the ingest counters that matter, pinned
PINNED = {
    CURSOR_DB: {
        "files/cursor": 1,
        "records": 82,  # bubbles of 26 composers
        "episodes": 18,  # composers where the user decided on at least one suggestion
        "edits": 57,
        "gold_edits": 34,
        "rejected_edits": 23,  # 15 rejected by the user, 8 cancelled (dismissed before they were applied)
        "feedback/reject": 11,
        "feedback/reject_with_reason": 4,
        "cursor/undecided_code_blocks": 48,  # suggestions nobody accepted or rejected: not edits
        "cursor/lazy_blocks_not_placed": 11,  # accepted, but eliding code of a file the log never held
        "cursor/lazy_negatives_not_placed": 2,
    },
    KIND_WIZARD: {
        "files/opencode": 1,
        "records": 157,  # 24 messages and their parts
        "episodes": 0,  # the agent only read and searched; the 3 files that changed were changed by others
        "edits": 0,
        "opencode/files_changed_outside_tools": 3,
    },
    NIMBLE_PIXEL: {
        "files/opencode": 1,
        "records": 36,
        "episodes": 1,
        "edits": 1,
        "gold_edits": 1,
        "rejected_edits": 0,
        "feedback/interrupt": 1,  # the second turn ended in MessageAbortedError
        "interrupts": 1,
    },
}


def _ingest(rel: str, tmp_path: Path) -> tuple[IngestReport, list[dict]]:
    out = tmp_path / "episodes.jsonl"
    report = ingest([str(SHARED / rel)], out, report=IngestReport(quiet=True))
    return report, [json.loads(line) for line in out.read_text().splitlines()]


@needs_shared
@pytest.mark.parametrize("rel", sorted(PINNED))
def test_real_file_counts_are_pinned_and_nothing_is_skipped(rel: str, tmp_path: Path):
    report, episodes = _ingest(rel, tmp_path)
    got = {k: report.counts[k] for k in PINNED[rel]}
    assert got == PINNED[rel]
    assert report.counts["skipped_records"] == 0 and report.counts["unknown_records"] == 0, report.problems
    feedback = Counter(f["kind"] for ep in episodes for t in ep["turns"] for f in t["feedback"])
    assert {f"feedback/{k}": v for k, v in feedback.items()} == {
        k: v for k, v in PINNED[rel].items() if k.startswith("feedback/")
    }
    for ep in episodes:  # every gold diff takes the base to the accepted files
        base, files = ep["repo"]["base_files"], ep["final"]["files"]
        assert apply_unified_diff(base, ep["final"]["diff"]) == {**base, **files}


@needs_shared
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


@needs_shared
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
