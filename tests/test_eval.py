"""Evaluation: the confidence-interval math on known cases, scoring and counting format errors, and the
`golddiff eval` command end to end on the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golddiff.evaluate import (
    Answer,
    EvalResult,
    EvalSettings,
    TaskResult,
    mean_ci,
    paired_diff_ci,
    read_eval,
    score_answer,
    summarise,
    t_quantile,
    write_eval,
)
from golddiff.reward import prepare
from golddiff.tasks import make_task, write_tasks_parquet

BASE = {"calc.py": "def area(r):\n    return 3.14 * r * r\n"}
FIXED = {"calc.py": "def area(r):\n    return 3.14159 * r * r\n"}


@pytest.mark.parametrize(
    ("df", "expected"), [(1, 12.7062), (4, 2.7764), (10, 2.2281), (30, 2.0423), (1000, 1.9623)]
)
def test_t_quantiles_match_the_tables(df: int, expected: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(expected, abs=2e-4)


def test_mean_ci_on_a_known_case() -> None:
    ci = mean_ci([1, 2, 3, 4, 5])
    # mean 3, s = sqrt(2.5), half-width = t(0.975, 4) * s / sqrt(5) = 2.7764 * 0.7071
    assert ci["mean"] == 3 and ci["n"] == 5
    assert ci["half_width"] == pytest.approx(1.9632, abs=1e-3)
    assert (ci["lo"], ci["hi"]) == pytest.approx((3 - 1.9632, 3 + 1.9632), abs=1e-3)
    assert mean_ci([0.5])["half_width"] == 0.0
    assert mean_ci([2.0] * 7)["half_width"] == 0.0


def _answer(reward: float, fmt: bool = False, exact: bool = False) -> Answer:
    return Answer(
        "x", reward, exact, not fmt and reward != 0, not fmt and reward == 0, fmt, "bad" if fmt else None,
        reward, "stop", 3, None,
    )  # fmt: skip


def _result(per_task: dict[str, list[Answer]]) -> EvalResult:
    tasks = [
        TaskResult(tid, "heldout", "t", "req", "gold", "diff", answers) for tid, answers in per_task.items()
    ]
    result = EvalResult("m", EvalSettings(), tasks, [], 1.0)
    result.summary = summarise(result)
    return result


def test_summary_averages_per_task_then_over_tasks_and_counts_format_errors() -> None:
    result = _result(
        {
            "a": [_answer(-1, fmt=True), _answer(-1, fmt=True), _answer(0.5), _answer(1, exact=True)],
            "b": [_answer(0.0), _answer(0.0), _answer(0.0), _answer(0.0)],
        }
    )
    s = result.summary
    assert s["reward"]["mean"] == pytest.approx((-0.125 + 0.0) / 2)
    assert s["format_error"]["mean"] == pytest.approx((0.5 + 0.0) / 2)
    assert s["exact"]["mean"] == pytest.approx(0.125)
    assert s["applied"]["mean"] == pytest.approx(0.25)
    assert s["n_tasks"] == 2 and s["n_answers"] == 8


def test_paired_difference_uses_the_tasks_both_have() -> None:
    before = _result({"a": [_answer(0.0)], "b": [_answer(0.2)], "c": [_answer(-1, fmt=True)]})
    after = _result({"a": [_answer(0.5)], "b": [_answer(0.6)], "d": [_answer(1.0)]})
    d = paired_diff_ci(after, before)
    assert d["n"] == 2 and d["mean"] == pytest.approx(0.45)
    assert d["half_width"] == pytest.approx(t_quantile(0.975, 1) * 0.0707107 / 2**0.5, rel=1e-3)


def test_score_answer_counts_format_errors_and_exact_matches() -> None:
    task = make_task(BASE, FIXED)
    target = prepare(task)
    gold = score_answer(task.gold[0].answer, task, target)
    assert gold.exact and gold.applied and gold.reward == 1.0 and not gold.format_error and gold.swerl == 1.0
    assert gold.diff and "+    return 3.14159 * r * r" in gold.diff
    broken = score_answer(
        "calc.py\n<<<<<<< SEARCH\n    return 2 * r\n=======\n    return r\n>>>>>>> REPLACE\n", task, target
    )
    assert broken.format_error and broken.reward == -1.0 and broken.swerl == -1.0 and broken.error
    assert broken.diff is None and not broken.applied
    silent = score_answer("I am not sure.", task, target)
    assert not silent.format_error and not silent.applied and silent.reward == 0.0


def test_eval_command_end_to_end_on_the_tiny_model(tmp_path: Path) -> None:
    tasks = [make_task(BASE, FIXED, task_id=f"t{i}", request=f"Use a precise pi ({i}).") for i in range(3)]
    tasks = [t.model_copy(update={"split": "heldout"}) for t in tasks]
    write_tasks_parquet(tasks, tmp_path / "tasks.parquet")
    out = tmp_path / "eval.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "golddiff.cli",
        "eval",
        "--model",
        "tiny",
        "--tasks",
        str(tmp_path / "tasks.parquet"),
    ]
    cmd += ["--samples", "2", "--max-new-tokens", "12", "--max-len", "2048", "--out", str(out), "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["n_tasks"] == 3 and line["n_answers"] == 6
    assert line["reward_ci95"][0] <= line["reward"] <= line["reward_ci95"][1]
    rows = read_eval(out)
    assert [r["task_id"] for r in rows] == ["t0", "t1", "t2"]
    assert all(len(r["answers"]) == 2 and "gold_diff" in r for r in rows)
    assert json.loads(Path(str(out) + ".summary.json").read_text())["summary"]["n_tasks"] == 3


def test_prompts_that_leave_no_room_are_skipped_and_listed() -> None:
    from golddiff.evaluate import evaluate
    from golddiff.models import load_model

    task = make_task(BASE, FIXED)  # the full system prompt: ~1,400 tokens
    result = evaluate(load_model("tiny"), [task], EvalSettings(samples=1, max_new_tokens=4, max_len=1024))
    assert result.skipped_too_long == [task.task_id] and result.tasks == []
    assert result.summary["skipped_too_long"] == 1


def test_write_eval_round_trips(tmp_path: Path) -> None:
    result = _result({"a": [_answer(0.25)], "b": [_answer(-1, fmt=True)]})
    write_eval(result, tmp_path / "e.jsonl")
    rows = read_eval(tmp_path / "e.jsonl")
    assert [r["reward_mean"] for r in rows] == [0.25, -1.0]
    assert rows[1]["format_error_mean"] == 1.0
