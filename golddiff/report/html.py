"""The HTML of `golddiff report`: page layout, the summary tables and the held-out examples.

Everything is escaped (`html.escape`); images arrive as base64 PNG text and are inlined as data URIs, so
the page is one file with no external requests. Used by `golddiff.report`; no torch, no matplotlib.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from golddiff.report import Evaluation, Run

CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --bg:#f8fafc; --card:#fff; --accent:#2563eb; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--ink); background:var(--bg); }
main { max-width:1120px; margin:0 auto; padding:28px 24px 60px; }
h1 { font-size:26px; margin:0 0 4px; } h2 { font-size:20px; margin:36px 0 12px; border-bottom:2px solid var(--line); padding-bottom:6px; }
h3 { font-size:16px; margin:0 0 4px; }
.sub { color:var(--muted); margin:0 0 18px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; margin:14px 0; }
.what { color:var(--muted); margin:0 0 10px; font-size:14px; }
.note { background:#fffbeb; border:1px solid #fde68a; color:#92400e; border-radius:8px; padding:10px 12px; font-size:14px; }
img.plot { display:block; max-width:100%; height:auto; margin:6px auto 0; }
.imgs { display:flex; flex-wrap:wrap; gap:8px; } .imgs img.plot { flex:1 1 420px; max-width:49%; }
table { border-collapse:collapse; width:100%; font-size:14px; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top; }
th { background:#f1f5f9; font-weight:600; } td.num { text-align:right; font-variant-numeric:tabular-nums; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:10px; }
pre { background:#0f172a; color:#e2e8f0; padding:10px 12px; border-radius:8px; overflow:auto; font-size:12px;
      line-height:1.45; max-height:320px; margin:4px 0 0; white-space:pre-wrap; word-break:break-word; }
.tag { display:inline-block; font-size:12px; padding:1px 8px; border-radius:999px; background:#eef2ff; color:#3730a3; margin-left:6px; }
.bad { background:#fee2e2; color:#991b1b; } .good { background:#dcfce7; color:#166534; }
.add { color:#86efac; } .del { color:#fca5a5; } .hunk { color:#93c5fd; }
footer { color:var(--muted); font-size:12px; margin-top:40px; }
td:first-child { white-space:nowrap; }
"""


@dataclass
class Figure:
    title: str
    what: str  # the "what you are looking at" line
    images: list[str] | str | None  # base64 PNG(s); None = not available
    missing: str  # the note shown instead when images is None


def e(text: Any) -> str:
    return html.escape(str(text))


def fmt(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}" if abs(v) < 1000 else f"{v:,.0f}"
    return e(v)


def document(title: str, sections: Sequence[str]) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<meta name=viewport content='width=device-width,initial-scale=1'><title>{e(title)}</title>"
        f"<style>{CSS}</style></head><body><main>\n<h1>{e(title)}</h1>"
        f"<p class=sub>Written by <code>golddiff report</code> on {stamp}. Every plot is embedded in this file.</p>\n"
        + "\n".join(sections)
        + "\n<footer>golddiff: gold diffs from coding-agent sessions, Pipeline RL.</footer></main></body></html>\n"
    )


def _img(b64: str, alt: str) -> str:
    return f"<img class=plot alt='{e(alt)}' src='data:image/png;base64,{b64}'>"


def figure(fig: Figure) -> str:
    head = f"<div class=card><h3>{e(fig.title)}</h3><p class=what>{e(fig.what)}</p>"
    if not fig.images:
        return head + f"<div class=note>No plot: {e(fig.missing)}.</div></div>"
    images = [fig.images] if isinstance(fig.images, str) else fig.images
    body = "".join(_img(b, fig.title) for b in images)
    return head + (f"<div class=imgs>{body}</div>" if len(images) > 1 else body) + "</div>"


def figures_section(title: str, figs: Sequence[Figure]) -> str:
    return f"<section><h2>{e(title)}</h2>" + "".join(figure(f) for f in figs) + "</section>"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{c}</td>" if i >= numeric_from else f"<td>{c}</td>" for i, c in enumerate(r)
        )
        + "</tr>"
        for r in rows
    )
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _run_row(run: Run) -> list[str]:
    from golddiff.report import mean_of, values

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
        table = _table(["", "value"], rows, numeric_from=2)
        parts.append(f"<div class=card><h3>At a glance</h3>{table}</div>")
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
            + _table(head, [_run_row(r) for r in runs])
            + "</div>"
        )
    if evals:
        head = [
            "model",
            "tasks",
            "reward (95% CI)",
            "exact match",
            "applies",
            "format errors",
            "SWE-RL reward",
        ]
        rows = [
            [e(ev.name), fmt(ev.summary.get("n_tasks", len(ev.rows)))]
            + [_ci(ev.summary, k) for k in ("reward", "exact", "applied", "format_error", "swerl")]
            for ev in evals
        ]
        parts.append(
            "<div class=card><h3>Held-out evaluation</h3><p class=what>Per-task means over the sampled "
            "answers, then the mean over tasks ± the half-width of its 95% confidence interval.</p>"
            + _table(head, rows)
            + "</div>"
        )
    if len(parts) == 1:
        parts.append("<div class=note>Nothing to summarise: no run dir and no evaluation was given.</div>")
    return "".join(parts) + "</section>"


# -------------------------------------------------------------------------------------- examples


def colour_diff(diff: str) -> str:
    out = []
    for line in diff.splitlines():
        cls = (
            "hunk"
            if line.startswith("@@")
            else "add"
            if line.startswith("+")
            else "del"
            if line.startswith("-")
            else ""
        )
        if line.startswith(("+++", "---")):
            cls = "hunk"
        out.append(f"<span class={cls}>{e(line)}</span>" if cls else e(line))
    return "\n".join(out)


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
