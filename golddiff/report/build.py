"""`golddiff report`: one self-contained HTML page from run dirs and evaluations.

    from golddiff.report import build_report
    build_report(["runs/pipeline", "runs/sync"], ["runs/eval_rl.jsonl"], "report.html")

or `golddiff report runs/pipeline runs/sync --eval runs/eval_rl.jsonl -o report.html`. A run dir is what
`golddiff train` writes (`config.yaml`, `metrics.jsonl`, `rollouts.jsonl`); an evaluation is the JSONL of
`golddiff eval` (its `.summary.json` beside it is used when present). The page has a summary table, then
one section per figure (reward over steps and over wall-clock time, lag histogram, ESS and mismatch KL,
generation tokens/s, learner idle share; sync vs pipeline when both kinds of run are given; held-out
results and examples with the model's answer beside the gold diff). A metric a run did not log gives a
note instead of its figure. Plots are PNGs embedded as base64 (matplotlib Agg): the file needs nothing
else. CPU only; no torch.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from golddiff.report import html as page
from golddiff.report import plots, sections
from golddiff.report.plots import Series
from golddiff.report.runs import Evaluation, Run, is_number, load_eval, load_run, mean_of, series

# -------------------------------------------------------------------------------------- figures


def _window(ss: Sequence[Series]) -> int:
    longest = max((len(s.ys) for s in ss), default=0)
    return max(3, longest // 15) if longest >= 12 else 0


def _missing(runs: Sequence[Run], keys: Sequence[str]) -> str:
    if not runs:
        return "no run dir was given"
    return "not logged by " + ", ".join(r.name for r in runs) + ": " + ", ".join(f"`{k}`" for k in keys)


def _line_figure(
    runs: Sequence[Run], title: str, text: str, y: str, x: str, labels: tuple[str, str, str], **kw: Any
) -> page.Figure:
    """A figure of metric `y` against `x` for every run (a moving mean over long runs), or a note."""
    s = series(runs, y, x)
    plot = plots.line_plot(s, *labels, _window(s), **kw) if s else None
    return page.Figure(title, text, plot, _missing(runs, [y] if x == "step" else [y, x]))


def run_figures(runs: Sequence[Run]) -> list[page.Figure]:
    """The per-run figures, in reading order; each a plot or a note saying what was missing."""
    elapsed = "time/elapsed_s"
    figs = [
        _line_figure(
            runs,
            "Reward over training steps",
            "Mean gold-diff reward of the answers each optimizer step trained on (−1 = format error, 1 = the "
            "gold). Rising means the policy is learning; the faint line is per step, the bold a moving mean.",
            "reward/mean",
            "step",
            ("Reward per step", "optimizer step", "mean reward"),
        ),
        _line_figure(
            runs,
            "Reward over wall-clock time",
            "The same reward against seconds since the run started: what a faster pipeline buys is a curve "
            "that rises sooner.",
            "reward/mean",
            elapsed,
            ("Reward over time", "seconds", "mean reward"),
        ),
        _format_errors(runs),
        _lag_figure(runs),
    ]
    ess, kl = series(runs, "off_policy/ess", elapsed), series(runs, "off_policy/mismatch_kl", elapsed)
    figs.append(
        page.Figure(
            "Off-policy health: ESS and mismatch KL",
            "Effective sample size of the token importance weights ((Σw)²/(nΣw²), 1 = on-policy) on the left, "
            "and the k3 KL between the sampler's and the learner's log-probs (dashed) on the right. ESS "
            "falling or KL climbing means the samples are getting too stale for the learner.",
            plots.twin_plot(ess, kl, "ESS and mismatch KL", "seconds", ("ESS", "mismatch KL"))
            if ess or kl
            else None,
            _missing(runs, ["off_policy/ess", "off_policy/mismatch_kl"]),
        )
    )
    figs.append(
        _line_figure(
            runs,
            "Generation throughput",
            "Tokens generated per second by all actors together: Pipeline RL keeps this flat because "
            "generation never waits for the learner.",
            "perf/gen_tokens_per_s",
            elapsed,
            ("Generation tokens/s", "seconds", "tokens / s"),
        )
    )
    figs.append(
        _line_figure(
            runs,
            "Learner idle share",
            "Share of each step the learner spent waiting for samples (0 = always busy). The sync loop idles "
            "while the batch is generated; the pipeline should not.",
            "perf/learner_idle_frac",
            elapsed,
            ("Learner idle share", "seconds", "idle share"),
            ylim=(0, 1.02),
        )
    )
    return figs


def _format_errors(runs: Sequence[Run]) -> page.Figure:
    s = series(runs, "reward/format_error_rate")
    return page.Figure(
        "Format errors over steps",
        "Share of answers that did not parse or apply (scored −1). A model that learns the answer format "
        "drives this down first.",
        plots.line_plot(s, "Format-error rate", "optimizer step", "share", _window(s), ylim=(0, 1.02))
        if s
        else None,
        _missing(runs, ["reward/format_error_rate"]),
    )


def _lag_figure(runs: Sequence[Run]) -> page.Figure:
    samples = [(r.name, r.lags) for r in runs if r.lags]
    what = (
        "How many optimizer steps behind the learner each trained token's weights were (0 = on-policy). "
        "The admission bound caps it at `max_off_policy_steps`."
    )
    if samples:
        return page.Figure("Lag histogram", what, plots.histogram(samples, "Token lag", "lag (versions)"), "")
    per_step = [(s.label, s.ys) for s in series(runs, "off_policy/lag_mean")]
    if per_step:
        what += " This run logged no per-token histogram, so these are the per-step mean lags."
        return page.Figure(
            "Lag histogram", what, plots.histogram(per_step, "Mean lag per step", "lag", False), ""
        )
    return page.Figure(
        "Lag histogram", what, None, _missing(runs, ["off_policy/lag_hist", "off_policy/lag_mean"])
    )


def comparison_figures(runs: Sequence[Run]) -> list[page.Figure]:
    """Sync vs pipeline, when both kinds of run are given: reward over time, tokens/s and idle share."""
    chosen = [r for r in runs if r.mode == "sync"][:1] + [r for r in runs if r.mode == "pipeline"][:1]
    if len(chosen) < 2:
        return []
    pair = [r for r in runs if any(r is c for c in chosen)]  # in the order given, so colours match
    labeled = [Run(f"{r.name} ({r.mode})", r.path, r.mode, r.config, r.rows) for r in pair]
    s = series(labeled, "reward/mean", "time/elapsed_s")
    tps = [mean_of(r, "perf/gen_tokens_per_s") or 0.0 for r in pair]
    idle = [mean_of(r, "perf/learner_idle_frac") or 0.0 for r in pair]
    names = [r.name for r in labeled]
    return [
        page.Figure(
            "Sync vs pipeline: reward over wall-clock time",
            "Both runs on one time axis. The same number of steps finishing earlier, or a higher reward at "
            "the same second, is the pipeline's gain.",
            plots.line_plot(s, "Reward over time", "seconds", "mean reward", _window(s)) if s else None,
            "neither run logged `reward/mean` with `time/elapsed_s`",
        ),
        page.Figure(
            "Sync vs pipeline: throughput and idle share",
            "Mean generation tokens/s (left) and mean learner idle share (right) over each run.",
            [
                plots.bars(names, [("gen tokens/s", tps, None)], "Generation tokens/s", "tokens / s"),
                plots.bars(names, [("learner idle share", idle, None)], "Learner idle share", "share"),
            ],
            "",
        ),
    ]


def eval_figures(evals: Sequence[Evaluation]) -> list[page.Figure]:
    if not evals:
        return []
    metrics = {}
    for key, label in (
        ("reward", "gold-diff reward"),
        ("exact", "exact match"),
        ("applied", "applies"),
        ("abstain", "no edit"),
        ("format_error", "format errors"),
        ("swerl", "SWE-RL reward"),
    ):
        rows = [(e.summary.get(key, {}).get("mean"), e.summary.get(key, {}).get("half_width")) for e in evals]
        if all(is_number(m) for m, _ in rows):
            metrics[label] = [(float(m), float(h) if is_number(h) else 0.0) for m, h in rows]
    n = evals[0].summary.get("n_tasks", len(evals[0].rows))
    return [
        page.Figure(
            "Held-out evaluation",
            f"Each model's answers on the {n} held-out tasks, averaged per task, then over tasks; error bars "
            "are 95% confidence intervals (Student's t over tasks).",
            plots.eval_bars([e.name for e in evals], metrics, "Held-out results") if metrics else None,
            "the evaluation files have no summary metrics",
        )
    ]


# ------------------------------------------------------------------------------------------ page


def build_report(
    run_dirs: Sequence[str | Path],
    eval_files: Sequence[str | Path] = (),
    out: str | Path = "report.html",
    title: str = "golddiff training report",
    extra: dict[str, Any] | None = None,
    eval_names: Sequence[str] | None = None,
    examples: int = 4,
) -> Path:
    """Write the report; `extra` adds rows to the summary table (e.g. the demo's stage times)."""
    runs = [load_run(d) for d in run_dirs]
    evals = [load_eval(p, n) for p, n in zip(eval_files, eval_names or [None] * len(eval_files))]
    parts = [sections.summary_section(runs, evals, extra or {})]
    if runs or not evals:  # an eval-only report has no training section
        parts.append(page.figures_section("Training", run_figures(runs)))
    if comparison := comparison_figures(runs):
        parts.append(page.figures_section("Sync vs Pipeline RL", comparison))
    if evals:
        parts.append(page.figures_section("Held-out evaluation", eval_figures(evals)))
        parts.append(sections.examples_section(evals, examples))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page.document(title, parts), encoding="utf-8")
    return out
