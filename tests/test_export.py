"""`golddiff export`: ATIF trajectories, OpenAI-style messages and preference pairs from episodes."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ("claude_code", "codex", "aider")  # the shipped examples


def golddiff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "golddiff.cli", *args], capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def episodes(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ep") / "episodes.jsonl"
    res = golddiff("ingest", str(ROOT / "golddiff" / "examples"), "-o", str(out), "-q")
    assert res.returncode == 0, res.stderr
    return out


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_atif_trajectories(episodes: Path, tmp_path: Path):
    out = tmp_path / "atif.jsonl"
    assert golddiff("export", "atif", str(episodes), "-o", str(out)).returncode == 0
    rows = _rows(out)
    assert len(rows) == len(episodes.read_text().splitlines())
    for t in rows:
        assert t["schema_version"] == "ATIF-v1.4" and t["agent"]["name"] in TOOLS
        assert [s["step_id"] for s in t["steps"]] == list(range(1, len(t["steps"]) + 1))
        assert {s["source"] for s in t["steps"]} <= {"user", "agent", "system"}
        for s in t["steps"]:
            for call in s.get("tool_calls", []):
                assert isinstance(call["arguments"], dict)
                assert s["observation"]["results"][0]["source_call_id"] == call["tool_call_id"]
        assert t["extra"]["golddiff"]["gold_diff"]
    claude = next(t for t in rows if t["agent"]["name"] == "claude_code")
    assert any(s["source"] == "system" and "reject_with_reason" in s["message"] for s in claude["steps"])


def test_messages_pair_each_tool_call_with_its_result(episodes: Path, tmp_path: Path):
    out = tmp_path / "messages.jsonl"
    assert golddiff("export", "messages", str(episodes), "-o", str(out)).returncode == 0
    for row in _rows(out):
        msgs = row["messages"]
        assert msgs[0]["role"] == "user"
        calls = [c["id"] for m in msgs if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        results = [m["tool_call_id"] for m in msgs if m["role"] == "tool"]
        assert calls == results
        # Claude Code and Codex act through tool calls; Aider writes its edits into the reply text
        assert bool(calls) != row["episode_id"].startswith("aider-")
        for m in msgs:
            for c in m.get("tool_calls", []):
                json.loads(c["function"]["arguments"])


def test_pairs_put_the_gold_above_each_rejected_attempt(episodes: Path, tmp_path: Path):
    out = tmp_path / "pairs.jsonl"
    res = golddiff("export", "pairs", str(episodes), "-o", str(out))
    assert res.returncode == 0, res.stderr
    rows = _rows(out)
    assert rows, "the examples hold rejected edits, so there are pairs"
    for p in rows:
        assert p["prompt"] and p["chosen"] != p["rejected"]
        assert p["chosen"][-1]["role"] == "assistant" and "SEARCH" in p["chosen"][-1]["content"]
