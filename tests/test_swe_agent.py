"""The SWE-agent / mini-swe-agent reader on its own fixtures and on a real GPT-4 trajectory."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces import swe_agent
from golddiff.traces.session import IngestReport, ReadOptions
from golddiff.traces.swe_agent import lines as swe_agent_lines

FIXTURES = Path(__file__).parent / "fixtures" / "swe_agent"
PYDICOM = Path(__file__).parents[2] / "shared/real_traces/swe_agent_pydicom-1458.traj"


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(swe_agent.read(path, report, ReadOptions())), report


def _consistent(ep) -> bool:
    """final.files is the base with the submission applied."""
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


def _statuses(ep) -> list[tuple[str, str, str]]:
    return [(e.path, e.tool, e.status) for e in ep.edits]


@pytest.mark.skipif(not PYDICOM.exists(), reason="shared/real_traces not present")
def test_real_trajectory_superseded_edits_and_submission_gold():
    (ep,), report = _read(PYDICOM)
    submission = json.loads(PYDICOM.read_text())["info"]["submission"]
    assert ep.final.diff == submission and ep.final.source == "submission"
    assert ep.task.startswith("Pixel Representation attribute should be optional")
    calls = {s.call.call_id: s.call for t in ep.turns for s in t.steps if s.call}
    handler = "pydicom/pixel_data_handlers/numpy_handler.py"
    at_287 = [e for e in ep.edits if e.path == handler and calls[e.call_id].input.startswith("edit 287:")]
    assert len(at_287) == 4
    assert [e.status for e in at_287] == ["superseded", "superseded", "superseded", "applied"]
    assert all("SyntaxError" in (e.reason or "") for e in at_287[:3])
    # the replayed edit has the file's real line numbers: the same hunk as the submission
    assert "@@ -285,9 +285,10 @@" in at_287[3].diff and "@@ -285,9 +285,10 @@" in submission
    assert ep.labels.gold_edits == [at_287[3].edit_id]
    assert {e.status for e in ep.edits if e.path == "reproduce_bug.py"} == {"not_in_gold"}
    # the run saw lines 237-372 of 372: the base is partial, and says so; it still takes the submission
    assert ep.repo.cwd == "/pydicom__pydicom"
    assert ep.repo.base_state_confidence == "reconstructed"
    assert list(ep.repo.base_files) == [handler] and ep.repo.file_confidence == {handler: "reconstructed"}
    assert ep.final.accepted
    assert _consistent(ep)
    assert "    if 'PixelData' in ds:\n" in ep.final.files[handler]
    assert report.counts["records"] == 12 and not report.problems


def test_edit_lines_fates_and_a_complete_base():
    (ep,), report = _read(FIXTURES / "edit_lines.traj")
    assert ep.task == "add() and sub() must accept numeric strings"
    assert _statuses(ep) == [
        ("calc.py", "edit", "superseded"),  # refused by the linter, then redone
        ("calc.py", "edit", "superseded"),  # applied, then rewritten by the next edit
        ("calc.py", "edit", "applied"),
        ("calc.py", "edit", "applied"),
        ("scratch.py", "create", "not_in_gold"),
        ("scratch.py", "edit", "not_in_gold"),
    ]
    assert "SyntaxError" in (ep.edits[0].reason or "")
    assert ep.edits[3].diff.splitlines()[3:5] == ["@@ -3,4 +3,4 @@", " "]
    assert ep.repo.base_state_confidence == "logged"  # every line of calc.py was shown before any edit
    assert (
        ep.repo.base_files["calc.py"]
        == "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
    )
    assert _consistent(ep)
    assert report.counts["skipped/bad_record"] == 1
    assert report.problems == [
        f"{FIXTURES / 'edit_lines.traj'}:trajectory[3]: step without an `action` string"
    ]


def test_str_replace_editor_steps_with_query():
    (ep,), _ = _read(FIXTURES / "str_replace.traj")
    assert ep.task == "Cart.total should sum item prices times quantities"
    assert ep.source.version == "1.1.0"
    assert [e.status for e in ep.edits] == ["superseded", "failed", "applied", "applied", "not_in_gold"]
    assert "did not appear verbatim" in (ep.edits[1].reason or "")
    assert ep.repo.base_state_confidence == "logged"  # a full `view` showed the whole file
    insert = ep.edits[3].diff
    assert "+        self.discount = 0\n" in insert and "@@ -1,6 +1,7 @@" in insert
    assert ep.edits[4].path == "reproduce.py" and "new file mode" in ep.edits[4].diff
    assert _consistent(ep)


def test_history_only_layout_and_inferred_root():
    (ep,), _ = _read(FIXTURES / "history_only.traj")
    assert ep.task == "b should be 3"
    assert ep.repo.cwd == "/proj"  # no `state`: found where the submission's file was shown
    assert _statuses(ep) == [("x.py", "edit", "applied")]
    assert ep.repo.base_files == {"x.py": "a = 1\nb = 2\n"} and ep.final.files == {"x.py": "a = 1\nb = 3\n"}


def test_failed_run_has_no_gold_and_only_negatives():
    (ep,), report = _read(FIXTURES / "failed_run.traj")
    assert ep.final.diff == "" and ep.final.files == {}
    assert ep.provenance.warnings[0].startswith("no_gold:") and "exit_error" in ep.provenance.warnings[0]
    assert not ep.final.accepted and ep.final.source == "submission"
    assert [e.status for e in ep.edits] == ["not_in_gold", "failed"]
    assert ep.labels.gold_edits == [] and len(ep.labels.negative_edits) == 2
    assert report.counts["swe_agent/failed_runs"] == 1


def test_mini_swe_agent_gold_is_the_submission_with_a_logged_base():
    (ep,), report = _read(FIXTURES / "mini.traj.json")
    assert ep.task == "add() subtracts instead of adding"
    assert ep.source.version == "mini-swe-agent 1.9.0"
    assert [(e.path, e.tool, e.status) for e in ep.edits] == [("calc.py", "submission", "applied")]
    # `cat` before the `sed -i` showed the whole file; the `cat` after it is not the base
    assert ep.repo.base_files == {"calc.py": "def add(a, b):\n    return a - b\n"}
    assert ep.repo.base_state_confidence == "logged"
    assert _consistent(ep)
    calls = [s.call for t in ep.turns for s in t.steps if s.call]
    assert [c.input for c in calls][:2] == ["cat calc.py", "sed -i 's/a - b/a + b/' calc.py"]
    assert report.counts["records"] == 10


def test_failed_mini_run_yields_nothing():
    episodes, report = _read(FIXTURES / "mini_failed.traj.json")
    assert episodes == [] and report.counts["swe_agent/failed_runs"] == 1


def test_sniff_and_bad_json(tmp_path):
    for f in FIXTURES.iterdir():
        assert swe_agent.sniff(f, f.read_text()[:16384]), f.name
    assert not swe_agent.sniff(tmp_path / "x.json", '[{"id": 0, "source": "user", "action": "message"}]')
    assert not swe_agent.sniff(tmp_path / "x.jsonl", '{"type": "user", "sessionId": "abc"}\n')
    bad = tmp_path / "broken.traj"
    bad.write_text('{"trajectory": [')
    episodes, report = _read(bad)
    assert episodes == [] and report.counts["skipped/bad_json"] == 1


def test_ids_are_stable():
    first, _ = _read(FIXTURES / "edit_lines.traj")
    second, _ = _read(FIXTURES / "edit_lines.traj")
    assert first[0].episode_id == second[0].episode_id


@pytest.mark.parametrize(
    ("old", "new", "result"),
    [
        ("b = 2\n", "", ["a = 1", "c = 3"]),  # a whole line
        (" = 2", "", ["a = 1", "b", "c = 3"]),  # part of a line
        ("b = 2\nc = 3\n", "x\n", ["a = 1", "x"]),  # through the end of the file
        ("= 1\nb", "= 9\nB", ["a = 9", "B = 2", "c = 3"]),  # across a line break
        ("c = 3", "c = 3\nd = 4", ["a = 1", "b = 2", "c = 3", "d = 4"]),  # a line added
    ],
)
def test_str_replace_on_the_line_model(old, new, result):
    """`str_replace` placed on the lines the run saw; lines it leaves alone keep their identity."""
    model = swe_agent_lines.FileModel(itertools.count(swe_agent_lines.NEW_UID))
    model.observe({1: "a = 1", 2: "b = 2", 3: "c = 3"}, 3)
    start, end, texts = model.find(old, new)
    after = model.plan(start, end, texts, "e0")
    assert [ln.text for ln in after] == result
    original = ["a = 1", "b = 2", "c = 3"]
    assert [ln.uid for ln in after if ln.by is None] == [i for i, t in enumerate(original) if t in result]
