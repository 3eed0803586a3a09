"""The tables of `golddiff report`: the summary (runs and evaluations at a glance) and the held-out
examples (the gold diff beside each model's first answer). HTML text built with `golddiff.report.html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from golddiff.report.html import colour_diff, e, fmt, table
from golddiff.report.runs import Evaluation, Run, mean_of, values


def _run_row(run: Run) -> list[str]:
    steps, elapsed = values(run, "step"), values(run, "time/elapsed_s")
    return [
        f"{e(run.name)}<span class=tag>{e(run.mode)}</span>",
        fmt(int(max(steps)) if steps else None),
        fmt(elapsed[-1] if elapsed else None, 0),
        fmt(mean_of(run, "reward/mean", "first")) + " → " + fmt(mean_of(run, "reward/mean", "last")),
        fmt(mean_of(run, "reward/format_error_rate", "last")),
        fmt(mean_of(run, "perf/gen_tokens_per_s"), 0),
        fmt(mean_of(run, "perf/learner_idle_frac")),
        fmt(mean_of(run, "off_policy/lag_mean"), 2),
        fmt(mean_of(run, "off_policy/ess")),
    ]


def _ci(summary: dict[str, Any], key: str) -> str:
    s = summary.get(key) or {}
    if s.get("mean") is None:
        return "–"
    return f"{fmt(s.get('mean'))} <span style='color:#6b7280'>± {fmt(s.get('half_width'))}</span>"


def summary_section(runs: Sequence[Run], evals: Sequence[Evaluation], extra: dict[str, Any]) -> str:
    parts = ["<section><h2>Summary</h2>"]
    if extra:
        rows = [[e(k), fmt(v)] for k, v in extra.items()]
        glance = table(["", "value"], rows, numeric_from=2)
        parts.append(f"<div class=card><h3>At a glance</h3>{glance}</div>")
    if runs:
        head = [
            "run",
            "steps",
            "wall s",
            "reward first→last",
            "format err (last)",
            "gen tok/s",
            "learner idle",
            "lag",
            "ESS",
        ]
        parts.append(
            "<div class=card><h3>Training runs</h3><p class=what>First and last fifth of the logged steps; "
            "throughput, idle share, lag and ESS averaged over the run.</p>"
            + table(head, [_run_row(r) for r in runs])
            + "</div>"
        )
    if evals:
        head = [
            "model",
            "tasks",
            "reward (95% CI)",
            "exact match",
            "applies",
            "no edit",
            "format errors",
            "SWE-RL reward",
        ]
        rows = [
            [e(ev.name), fmt(ev.summary.get("n_tasks", len(ev.rows)))]
            + [_ci(ev.summary, k) for k in ("reward", "exact", "applied", "abstain", "format_error", "swerl")]
            for ev in evals
        ]
        parts.append(
            "<div class=card><h3>Held-out evaluation</h3><p class=what>Per-task means over the sampled "
            "answers, then the mean over tasks ± the half-width of its 95% confidence interval.</p>"
            + table(head, rows)
            + "</div>"
        )
    if len(parts) == 1:
        parts.append("<div class=note>Nothing to summarise: no run dir and no evaluation was given.</div>")
    return "".join(parts) + "</section>"


def pick_examples(evals: Sequence[Evaluation], n: int) -> list[str]:
    """Task ids every evaluation has: half with the last model's best mean reward, half with its worst."""
    common = set.intersection(*({r["task_id"] for r in ev.rows} for ev in evals)) if evals else set()
    last = {r["task_id"]: r.get("reward_mean", 0.0) for r in evals[-1].rows if r["task_id"] in common}
    ranked = sorted(last, key=lambda t: (-last[t], t))
    best = ranked[: (n + 1) // 2]
    rest = [t for t in reversed(ranked) if t not in best][: n - len(best)]
    return best + rest


def _answer_card(ev: Evaluation, row: dict[str, Any]) -> str:
    answers = row.get("answers") or []
    if not answers:
        return f"<div><b>{e(ev.name)}</b><div class=note>no answer</div></div>"
    a = answers[0]
    applied = a.get("applied", bool(a.get("diff")))
    ok = "good" if a.get("exact") else "bad" if a.get("format_error") else ""
    label = "exact" if a.get("exact") else "format error" if a.get("format_error") else "applies"
    label = label if a.get("format_error") or applied else "no change"
    text = a.get("text", "").removesuffix("<|eos|>")
    shown = colour_diff(a["diff"]) if a.get("diff") else e(text)
    why = f"<p class=what>{e(a.get('error'))}</p>" if a.get("error") else ""
    return (
        f"<div><b>{e(ev.name)}</b> answer 1 of {len(answers)}<span class='tag {ok}'>{label}</span>"
        f"<span class=tag>reward {fmt(a.get('reward'), 2)}</span>"
        f"<span class=tag>task mean {fmt(row.get('reward_mean'), 2)}</span><pre>{shown}</pre>{why}</div>"
    )


def examples_section(evals: Sequence[Evaluation], n: int) -> str:
    ids = pick_examples(evals, n)
    if not ids:
        return "<section><h2>Held-out examples</h2><div class=note>No task is in every evaluation.</div></section>"
    by = [{r["task_id"]: r for r in ev.rows} for ev in evals]
    cards = []
    for tid in ids:
        first = by[0][tid]
        gold = f"<div><b>gold diff</b><pre>{colour_diff(first.get('gold_diff', ''))}</pre></div>"
        answers = "".join(_answer_card(ev, rows[tid]) for ev, rows in zip(evals, by))
        cards.append(
            f"<div class=card><h3>{e(first.get('request', tid))}</h3><p class=what>task {e(tid)}</p>"
            f"<div class=grid>{gold}{answers}</div></div>"
        )
    what = (
        "<p class=what>A few held-out tasks (the best and the worst for the last model): the gold diff beside "
        "each model's first sampled answer, shown as the diff it makes when it applies, else as written.</p>"
    )
    return "<section><h2>Held-out examples</h2>" + what + "".join(cards) + "</section>"
