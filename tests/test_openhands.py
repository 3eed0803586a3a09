"""The OpenHands reader: v0 event streams (array, JSONL), v1 event folders, and a real export."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces import openhands
from golddiff.traces.session import IngestReport, ReadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "openhands"
REAL = Path(__file__).parents[2] / "shared/real_traces/openhands_basic_gui_mode.json"
V1 = FIXTURES / "v1_conversation"


def _read(path: Path) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(openhands.read(path, report, ReadOptions())), report


def _calls(ep) -> list:
    return [s.call for t in ep.turns for s in t.steps if s.call]


def _consistent(ep) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {**ep.repo.base_files, **ep.final.files}


@pytest.mark.skipif(not REAL.exists(), reason="shared/real_traces not present")
def test_real_export_run_and_edit_actions():
    (ep,), report = _read(REAL)
    events = json.loads(REAL.read_text())
    assert ep.task.startswith("I want to create a VueJS app")
    calls = _calls(ep)
    assert [c.name for c in calls] == [
        "execute_bash",
        "str_replace_editor",
        "str_replace_editor",
        "execute_bash",
    ]
    assert calls[0].input["command"] == "mkdir -p /workspace/todo-app" and not calls[0].is_error
    assert calls[3].is_error and "Serving HTTP on 0.0.0.0 port 8000" in (calls[3].output or "")
    new = {e["extras"]["path"]: e["extras"]["new_content"] for e in events if e.get("observation") == "edit"}
    assert [(e.path, e.status, e.call_id) for e in ep.edits] == [
        ("todo-app/index.html", "applied", calls[1].call_id),
        ("todo-app/app.js", "applied", calls[2].call_id),
    ]
    assert ep.repo.base_files == {"todo-app/index.html": None, "todo-app/app.js": None}
    assert ep.final.files == {p.removeprefix("/workspace/"): c for p, c in new.items()}
    assert ep.final.source == "last_state" and _consistent(ep)
    assert report.counts["records"] == 18 and not report.problems


def test_v0_edits_rejections_failures_and_bad_lines():
    (ep,), report = _read(FIXTURES / "v0_events.jsonl")
    assert ep.repo.cwd == "/workspace/proj"
    assert [(t.user_kind, t.user) for t in ep.turns] == [
        ("task", "Add a square function to calc.py"),
        ("followup", "Also add a cube function, and a test"),
    ]
    assert [(e.path, e.status, e.call_id) for e in ep.edits] == [
        ("calc.py", "applied", "call_e1"),
        ("calc.py", "rejected", "call_e2"),  # a user_rejected observation
        ("calc.py", "failed", "call_e3"),  # an error observation
        ("test_calc.py", "applied", "call_e4"),  # no contents in the observation: the create is replayed
        ("calc.py", "rejected", "call_e5"),  # confirmation_state "rejected", no observation
    ]
    assert "x ** 2" in ep.edits[1].diff and "No replacement was performed" in (ep.edits[2].reason or "")
    feedback = [(f.kind, f.call_id) for t in ep.turns for f in t.feedback]
    assert feedback == [("reject", "call_e2"), ("reject", "call_e5")]
    assert ep.repo.base_files == {"calc.py": "def add(a, b):\n    return a + b\n", "test_calc.py": None}
    assert ep.final.files["calc.py"].endswith("def square(x):\n    return x * x\n")
    assert _consistent(ep)
    assert report.problems[0].startswith(f"{FIXTURES / 'v0_events.jsonl'}:10: not JSON")
    assert report.counts["unknown/observation:teleport"] == 1
    assert _calls(ep)[0].output == "calc.py\n"


def test_v0_json_array_reads_like_jsonl(tmp_path):
    events = [
        json.loads(ln) for ln in (FIXTURES / "v0_events.jsonl").read_text().splitlines() if ln.endswith("}")
    ]
    array = tmp_path / "trajectory.json"
    array.write_text(json.dumps(events))
    assert openhands.sniff(array, array.read_text()[:16384])
    (ep,), report = _read(array)
    assert [e.status for e in ep.edits] == ["applied", "rejected", "failed", "applied", "rejected"]
    assert not report.problems


def test_v1_folder_events():
    (ep,), report = _read(V1)
    assert ep.repo.cwd == "/home/dev/shop" and ep.source.version == "v1"
    assert ep.source.session_id == "v1_conversation"
    assert ep.task == "Add a discount field to the cart"
    assert [(e.path, e.status, e.call_id) for e in ep.edits] == [
        ("cart.py", "rejected", "tc2"),
        ("cart.py", "applied", "tc3"),
    ]
    assert ep.edits[0].reason == "Use an integer percentage, not a float"
    assert "+    discount = 0.0" in ep.edits[0].diff
    feedback = [(f.kind, f.text) for t in ep.turns for f in t.feedback]
    assert feedback == [
        ("reject_with_reason", "Use an integer percentage, not a float"),
        ("interrupt", "paused by the user"),
    ]
    assert ep.repo.base_files == {"cart.py": "class Cart:\n    items = []\n"}
    assert ep.final.files == {"cart.py": "class Cart:\n    items = []\n    discount_percent = 0\n"}
    assert _calls(ep)[0].output == "class Cart:\n    items = []\n"
    assert report.counts["unknown/HologramEvent"] == 1
    assert report.counts["skipped/bad_json"] == 1  # the truncated last event file
    assert report.counts["skipped/outside_cwd"] == 1  # the create of /etc/passwd


def test_v1_any_event_file_names_the_folder_and_the_rest_are_attached():
    files = sorted((V1 / "events").iterdir())
    assert not openhands.is_attached(files[0]) and all(openhands.is_attached(f) for f in files[1:])
    assert openhands.sniff(files[1], files[1].read_text())
    (by_dir,), _ = _read(V1)
    (by_file,), _ = _read(files[0])
    assert by_dir.episode_id == by_file.episode_id
    assert by_dir.model_dump() == by_file.model_dump()


def test_v1_events_as_a_jsonl_file(tmp_path):
    lines = []
    for f in sorted((V1 / "events").iterdir()):
        try:
            lines.append(json.dumps(json.loads(f.read_text())))
        except ValueError:
            continue
    export = tmp_path / "events.jsonl"
    export.write_text("\n".join(lines) + "\n")
    (ep,), _ = _read(export)
    assert [e.status for e in ep.edits] == ["rejected", "applied"]


def test_a_copied_folder_keeps_its_ids(tmp_path):
    shutil.copytree(V1, tmp_path / "v1_conversation")
    (here,), _ = _read(V1)
    (there,), _ = _read(tmp_path / "v1_conversation")
    assert here.episode_id == there.episode_id


def test_sniff_rejects_other_formats(tmp_path):
    assert not openhands.sniff(tmp_path / "a.traj", '{"environment": "swe_main", "trajectory": []}')
    assert not openhands.sniff(tmp_path / "a.jsonl", '{"type": "user", "message": {"role": "user"}}')
    assert not openhands.sniff(tmp_path / "a.md", "# aider chat started at 2024-01-01 00:00:00\n")
