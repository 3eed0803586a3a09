"""`golddiff demo` through the real command line: a wiring run with tiny budgets (every stage, RL included),
the slow shortened demo that checks the report in a browser, and the prompt compaction it relies on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golddiff.demo import DEMO_SYSTEM_PROMPT, compact_prompt, fits, verdict
from golddiff.models import ByteTokenizer
from golddiff.tasks import SYSTEM_PROMPT, make_task, read_tasks_parquet

TINY_BUDGETS = [
    "--bugs", "24", "--heldout", "0.25", "--sft-steps", "3", "--sft-batch", "4",
    "--rl-steps", "1", "--rl-group", "2", "--rl-prompts", "2", "--rl-max-new-tokens", "16",
    "--eval-samples", "1", "--eval-tasks", "3", "--eval-max-new-tokens", "16",
]  # fmt: skip


def _demo(out: Path, budgets: list[str], timeout: int) -> tuple[subprocess.CompletedProcess, dict]:
    cmd = [sys.executable, "-m", "golddiff.cli", "demo", "--out", str(out), *budgets]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def _check_outputs(out: Path, line: dict, rl: bool = True) -> None:
    for key in (
        "heldout_reward_sft",
        "heldout_n",
        "minutes",
        "heldout_reward_sft_ci95",
        "stage_seconds",
        "verdict",
    ):
        assert key in line, key
    stages = (
        ["ingest", "tasks", "sft", "rl", "eval", "report"]
        if rl
        else ["ingest", "tasks", "sft", "eval", "report"]
    )
    assert list(line["stage_seconds"]) == stages
    lo, hi = line["heldout_reward_sft_ci95"]
    assert lo <= line["heldout_reward_sft"] <= hi
    tasks = read_tasks_parquet(out / "tasks.parquet")
    tools = {t.source_tool for t in tasks}
    assert "stdlib_bugs" in tools and tools & {"aider", "codex", "claude_code"}
    assert {t.split for t in tasks} == {"train", "heldout"}
    assert all(t.prompt[0]["content"] == DEMO_SYSTEM_PROMPT for t in tasks)
    episodes = [json.loads(x)["source"]["tool"] for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert {"aider", "codex", "claude_code", "stdlib_bugs"} <= set(episodes)
    assert (out / "sft" / "model.safetensors").exists() and (out / "eval_sft.jsonl").exists()
    html = (out / "report.html").read_text()
    assert "Held-out evaluation" in html and "data:image/png;base64," in html
    assert json.loads((out / "demo_summary.json").read_text())["heldout_n"] == line["heldout_n"]
    if rl:
        for key in ("heldout_reward_rl", "heldout_reward_rl_ci95", "rl_minus_sft", "rl_minus_sft_ci95"):
            assert key in line, key
        assert (out / "rl" / "metrics.jsonl").exists() and (out / "rl.yaml").exists()
        assert (out / "eval_rl.jsonl").exists()
        assert "Reward over training steps" in html and "after RL" in html
        assert line["verdict"].split(" ")[0] == "RL" and "verdict" in html


def test_compact_prompt_keeps_request_and_files() -> None:
    task = make_task({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"}, request="Set x to 2.")
    assert task.prompt[0]["content"] == SYSTEM_PROMPT
    small = compact_prompt(task)
    assert small.prompt[0]["content"] == DEMO_SYSTEM_PROMPT
    assert small.prompt[1]["content"] == "Set x to 2.\n\na.py\n```\nx = 1\n```\n"
    assert small.gold == task.gold and small.task_id == task.task_id
    assert fits(small, ByteTokenizer(), 1024) and not fits(small, ByteTokenizer(), 64)


def test_verdict_reads_the_numbers() -> None:
    base = {"heldout_applied_sft": 0.0, "heldout_format_error_sft": 0.5, "heldout_exact_sft": 0.0}
    assert verdict(base).startswith("SFT only")
    same = base | {"heldout_reward_rl": 0.1, "rl_minus_sft": 0.02, "rl_minus_sft_ci95": [-0.01, 0.05]}
    assert verdict(same).startswith("RL did not beat SFT")
    fmt = same | {"rl_minus_sft_ci95": [0.4, 0.6], "heldout_applied_rl": 0.0, "heldout_format_error_rl": 0.0}
    assert "only on format" in verdict(fmt) and "55%" not in verdict(fmt)
    real = fmt | {"heldout_applied_rl": 0.3, "heldout_exact_rl": 0.1}
    assert "answers that apply 0% -> 30%" in verdict(real) and "only on format" not in verdict(real)


def test_demo_wiring_with_tiny_budgets(tmp_path: Path) -> None:
    """Every stage through the real command line, RL included, with budgets too small to learn anything."""
    out = tmp_path / "demo"
    proc, line = _demo(out, TINY_BUDGETS, timeout=300)
    _check_outputs(out, line)
    assert line["heldout_n"] == 3
    for stage in ("[1/6] ingest", "[3/6] sft", "[4/6] rl", "[6/6] report"):
        assert stage in proc.stderr
    assert "held-out results" in proc.stderr  # the closing table


def test_demo_without_rl(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    _, line = _demo(out, [*TINY_BUDGETS, "--no-rl", "-q"], timeout=240)
    _check_outputs(out, line, rl=False)
    assert "heldout_reward_rl" not in line


@pytest.mark.slow
def test_shortened_demo_and_its_report_in_chromium(tmp_path: Path) -> None:
    """A shortened demo (a few minutes): RL improves on SFT's held-out reward, and the page renders."""
    from test_report import CHROMIUM, check_in_chromium

    out = tmp_path / "demo"
    budgets = ["--sft-steps", "120", "--rl-steps", "12", "--eval-tasks", "40", "--eval-samples", "4"]
    _, line = _demo(out, budgets, timeout=1200)
    _check_outputs(out, line)
    assert line["heldout_n"] == 40
    assert line["heldout_reward_rl"] > line["heldout_reward_sft"]
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    html = (out / "report.html").read_text()
    n = html.count("data:image/png;base64,")
    assert check_in_chromium(out / "report.html", tmp_path) == f"{n}/{n}"
