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
    "--model", "tiny", "--bugs", "24", "--edits", "12", "--heldout", "0.25", "--sft-steps", "3", "--sft-batch", "4",
    "--rl-steps", "1", "--rl-group", "2", "--rl-prompts", "2", "--rl-max-new-tokens", "16",
    "--eval-samples", "1", "--eval-tasks", "3", "--eval-max-new-tokens", "16",
]  # fmt: skip


def _demo(out: Path, budgets: list[str], timeout: int) -> tuple[subprocess.CompletedProcess, dict]:
    cmd = [sys.executable, "-m", "golddiff.cli", "demo", "--out", str(out), *budgets]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc, json.loads(proc.stdout.strip().splitlines()[-1])


def _check_outputs(
    out: Path, line: dict, rl: bool = True, base: bool = True, tools: set[str] | None = None
) -> None:
    for key in ("heldout_n", "minutes", "stage_seconds", "verdict", "model"):
        assert key in line, key
    assert ("sft_minus_base_applied_ci95" in line) == base and (out / "eval_base.jsonl").exists() == base
    for name in ["base"] * base + ["sft"] + ["rl"] * rl:
        for metric in ("applied", "exact", "abstain", "reward"):
            lo, hi = line[f"heldout_{metric}_{name}_ci95"]
            assert lo <= line[f"heldout_{metric}_{name}"] <= hi, (metric, name)
        shares = [line[f"heldout_{m}_{name}"] for m in ("applied", "abstain", "format_error")]
        assert sum(shares) == pytest.approx(1.0, abs=1e-3)  # every answer is exactly one of the three
    stages = (
        ["ingest", "tasks", "sft", "rl", "eval", "report"]
        if rl
        else ["ingest", "tasks", "sft", "eval", "report"]
    )
    assert list(line["stage_seconds"]) == stages
    tasks = read_tasks_parquet(out / "tasks.parquet")
    found = {t.source_tool for t in tasks}
    assert (tools or {"stdlib_bugs", "stdlib_edits"}) <= found and found & {"aider", "codex", "claude_code"}
    assert [t.task_id for t in tasks] == sorted(t.task_id for t in tasks)
    assert {t.split for t in tasks} == {"train", "heldout"}
    assert all(t.prompt[0]["content"] == DEMO_SYSTEM_PROMPT for t in tasks)
    episodes = [json.loads(x)["source"]["tool"] for x in (out / "episodes.jsonl").read_text().splitlines()]
    assert {"aider", "codex", "claude_code", *(tools or {"stdlib_bugs", "stdlib_edits"})} <= set(episodes)
    assert (out / "sft" / "model.safetensors").exists() and (out / "eval_sft.jsonl").exists()
    assert ("base model" in (out / "report.html").read_text()) == base
    html = (out / "report.html").read_text()
    assert "Held-out evaluation" in html and "data:image/png;base64," in html
    assert json.loads((out / "demo_summary.json").read_text())["heldout_n"] == line["heldout_n"]
    if rl:
        for key in (
            "rl_minus_sft",
            "rl_minus_sft_ci95",
            "rl_minus_sft_applied_ci95",
            "rl_minus_sft_exact_ci95",
        ):
            assert key in line, key
        assert (out / "rl" / "metrics.jsonl").exists() and (out / "rl.yaml").exists()
        assert (out / "eval_rl.jsonl").exists()
        assert "Reward over training steps" in html and "after RL" in html
        assert "RL" in line["verdict"] and "verdict" in html


def test_compact_prompt_keeps_request_and_files() -> None:
    task = make_task({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"}, request="Set x to 2.")
    assert task.prompt[0]["content"] == SYSTEM_PROMPT
    small = compact_prompt(task)
    assert small.prompt[0]["content"] == DEMO_SYSTEM_PROMPT
    assert small.prompt[1]["content"] == "Set x to 2.\n\na.py\n```\nx = 1\n```\n"
    assert small.gold == task.gold and small.task_id == task.task_id
    assert fits(small, ByteTokenizer(), 1024) and not fits(small, ByteTokenizer(), 64)


def _line(base: float, sft: float, rl: float, ci_lo: float, abstain_rl: float = 0.0) -> dict:
    line = {"heldout_abstain_base": 1.0, "heldout_abstain_sft": 0.05, "heldout_abstain_rl": abstain_rl}
    for name, applied in (("base", base), ("sft", sft), ("rl", rl)):
        line |= {f"heldout_applied_{name}": applied, f"heldout_exact_{name}": applied / 2}
    for key, lo in (("sft_minus_base", 0.1), ("rl_minus_sft", ci_lo)):
        line |= {f"{key}_applied_ci95": [lo, lo + 0.2], f"{key}_exact_ci95": [lo - 0.1, lo + 0.1]}
    return line


def test_verdict_says_which_stage_improved() -> None:
    good = verdict(_line(0.0, 0.3, 0.5, 0.05))
    assert "SFT improved on the base model" in good and "answers that apply 0% -> 30%" in good
    assert "RL improved on SFT (applies)" in good and "answers that apply 30% -> 50%" in good
    flat = verdict(_line(0.0, 0.3, 0.35, -0.05))
    assert "RL did not improve on SFT beyond the 95% CI" in flat and "-5 to +15 points" in flat
    assert "no edit more often" in verdict(_line(0.0, 0.3, 0.5, 0.05, abstain_rl=0.2))
    sft_only = {k: v for k, v in _line(0.0, 0.3, 0.5, 0.05).items() if "rl" not in k}
    assert verdict(sft_only).endswith("SFT only (the RL stage was skipped).")


def test_settings_take_the_models_budgets_unless_given() -> None:
    from golddiff.demo import PROFILES, DemoSettings

    real, tiny = DemoSettings(), DemoSettings(model="tiny")
    assert real.model == "smollm2-135m" and real.sft_lr == PROFILES["pretrained"]["sft_lr"]
    assert tiny.sft_lr == PROFILES["tiny"]["sft_lr"] and tiny.max_len == 1024
    assert DemoSettings(model="tiny", sft_lr=0.01).sft_lr == 0.01
    assert DemoSettings(model="some/dir").rl_lr == real.rl_lr  # any pretrained model: the real budgets


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
    budgets = ["--model", "tiny", "--sft-steps", "120", "--rl-steps", "12", "--eval-tasks", "40"]
    budgets += ["--eval-samples", "4", "--no-base-eval"]
    _, line = _demo(out, budgets, timeout=1200)
    _check_outputs(out, line, base=False, tools={"stdlib_bugs"})
    assert line["heldout_n"] == 40
    assert line["heldout_reward_rl"] > line["heldout_reward_sft"]
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install -y chromium)")
    html = (out / "report.html").read_text()
    n = html.count("data:image/png;base64,")
    assert check_in_chromium(out / "report.html", tmp_path) == f"{n}/{n}"


@pytest.mark.slow
def test_shortened_real_model_demo(tmp_path: Path) -> None:
    """SmolLM2-135M end to end with short budgets (~8 minutes on 2 cores): the real model through every
    stage (ingest, tasks with its tokenizer, SFT, Pipeline RL, three evaluations, report). SFT teaches the
    answer format: its loss falls and its held-out answers apply where the base model's never do. (That RL
    then raises the reward is what the full demo measures, docs/demo.md; 8 steps are too few to show it.)"""
    from golddiff.pretrained import ModelNotInstalled, builtin_dir

    try:
        builtin_dir("smollm2-135m")
    except ModelNotInstalled as e:
        pytest.skip(str(e))
    out = tmp_path / "demo"
    budgets = ["--edits", "60", "--bugs", "0", "--heldout", "0.3", "--sft-steps", "10", "--rl-steps", "8"]
    budgets += ["--eval-tasks", "8", "--eval-samples", "4", "-q"]
    _, line = _demo(out, budgets, timeout=2400)
    _check_outputs(out, line, tools={"stdlib_edits"})
    assert line["model"] == "smollm2-135m" and line["heldout_n"] == 8
    first, last = line["sft_loss"]
    assert last < first / 2
    assert line["heldout_applied_base"] == 0.0 and line["heldout_abstain_base"] > 0.9  # no blocks before SFT
    assert line["heldout_applied_sft"] > 0.0 and line["heldout_abstain_sft"] < 0.5
    rows = [json.loads(x) for x in (out / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, 9))
    assert all(-1.0 <= r["reward/mean"] <= 1.0 for r in rows)
