"""The demo's verdict, its JSON line and its report: three checkpoints side by side.

Checkpoints are named `base` (the model before training), `sft` and `rl`. Per checkpoint the JSON line has
`heldout_{reward,applied,exact,abstain,format_error,swerl}_<name>` (means over held-out tasks of the
per-task mean over K answers) and `_ci95` for reward, applied, exact and abstain; paired by task,
`rl_minus_sft` (reward), `rl_minus_sft_{applied,exact,abstain}` and `sft_minus_base_applied`, each with
its 95% CI. "Improved" always means: the paired 95% CI of the difference lies above zero.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

NAMES = {"base": "base model", "sft": "after SFT", "rl": "after RL"}
SHARES = ("applied", "exact", "abstain")


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _points(ci: list[float]) -> str:
    return f"{100 * ci[0]:+.0f} to {100 * ci[1]:+.0f} points"


def _compare(summary: dict[str, Any], after: str, before: str) -> str:
    """One sentence: did `after` improve on `before`, read off the paired CIs of applied and exact."""
    label = {"base": "the base model", "sft": "SFT", "rl": "RL"}
    key = f"{after}_minus_{before}"
    moves = ", ".join(
        f"{what} {_pct(summary[f'heldout_{m}_{before}'])} -> {_pct(summary[f'heldout_{m}_{after}'])}"
        for m, what in (("applied", "answers that apply"), ("exact", "exact fixes"), ("abstain", "no edit"))
    )
    lo_applied = summary[f"{key}_applied_ci95"][0]
    lo_exact = summary[f"{key}_exact_ci95"][0]
    better = [m for m, lo in (("applies", lo_applied), ("exact", lo_exact)) if lo > 0]
    ci = f"paired 95% CI of applies {_points(summary[f'{key}_applied_ci95'])}"
    if better:
        return f"{label[after]} improved on {label[before]} ({' and '.join(better)}): {moves} ({ci})."
    return f"{label[after]} did not improve on {label[before]} beyond the 95% CI: {moves} ({ci})."


def verdict(summary: dict[str, Any]) -> str:
    """Which stages improved the held-out results, read off the numbers."""
    parts = []
    if "heldout_applied_base" in summary:
        parts.append(_compare(summary, "sft", "base"))
    if "heldout_applied_rl" in summary:
        parts.append(_compare(summary, "rl", "sft"))
        if summary["heldout_abstain_rl"] > summary["heldout_abstain_sft"]:
            parts.append("RL answers with no edit more often than SFT.")
    else:
        parts.append("SFT only (the RL stage was skipped).")
    return " ".join(parts)


def demo_summary(
    evals: dict[str, Any], sft: dict[str, float], seconds: dict[str, float], total_s: float, model: str
) -> dict[str, Any]:
    """The demo's JSON line (stage seconds and minutes are updated once the report is written)."""
    from golddiff.evaluate import paired_diff_ci

    out: dict[str, Any] = {"model": model, "heldout_n": evals["sft"].summary["n_tasks"]}
    for name, ev in evals.items():
        s = ev.summary
        for metric in ("reward", *SHARES, "format_error", "swerl"):
            out[f"heldout_{metric}_{name}"] = round(s[metric]["mean"], 4)
            if metric in ("reward", *SHARES):
                out[f"heldout_{metric}_{name}_ci95"] = [round(s[metric]["lo"], 4), round(s[metric]["hi"], 4)]
    for after, before in (("sft", "base"), ("rl", "sft")):
        if after not in evals or before not in evals:
            continue
        for metric in ("reward", *SHARES):
            d = paired_diff_ci(evals[after], evals[before], metric)
            key = f"{after}_minus_{before}" + ("" if metric == "reward" else f"_{metric}")
            out[key] = round(d["mean"], 4)
            out[f"{key}_ci95"] = [round(d["lo"], 4), round(d["hi"], 4)]
    if "rl" in evals:
        out["rl_beats_sft"] = bool(out["rl_minus_sft_applied_ci95"][0] > 0)
    out["verdict"] = verdict(out)
    out["sft_loss"] = [round(sft["sft_first_loss"], 3), round(sft["sft_last_loss"], 3)]
    out["sft_tokens_per_s"] = round(sft["sft_tokens_per_s"], 1)
    out["eval_tokens_per_s"] = {name: round(ev.summary["tokens_per_s"], 1) for name, ev in evals.items()}
    out["stage_seconds"] = dict(seconds)
    out["minutes"] = round(total_s / 60, 2)
    return out


def rl_figures(run_dir: Path) -> dict[str, Any]:
    """From the RL run's metrics: its training reward at the start and the end (mean of the first and of
    the last quarter of steps) and its speeds (engine and learner tokens per busy second, medians)."""
    import statistics

    from golddiff.report.runs import load_run, mean_of, values

    if not (run_dir / "metrics.jsonl").exists():
        return {}
    run = load_run(run_dir)
    if not run.rows:
        return {}
    first, last = (mean_of(run, "reward/mean", part, frac=0.25) for part in ("first", "last"))
    return {
        "rl_train_reward_first": round(first, 4),
        "rl_train_reward_last": round(last, 4),
        "rl_gen_tokens_per_s": round(statistics.median(values(run, "perf/gen_tokens_per_s")), 1),
        "rl_train_tokens_per_s": round(statistics.median(values(run, "perf/train_tokens_per_s")), 1),
    }


def write_report(out: Path, evals: dict[str, Any], summary: dict[str, Any]) -> Path:
    """report.html: the RL run's curves, the checkpoints side by side, held-out examples beside the gold."""
    from golddiff.report import build_report

    runs = [out / "rl"] if (out / "rl" / "metrics.jsonl").exists() else []
    files = [out / f"eval_{name}.jsonl" for name in evals]
    extra = {"model": summary["model"], "verdict": summary["verdict"]}
    for name in evals:
        for metric in ("applied", "exact", "abstain", "reward"):
            lo, hi = summary[f"heldout_{metric}_{name}_ci95"]
            value = summary[f"heldout_{metric}_{name}"]
            extra[f"{NAMES[name]}: {metric}"] = f"{value:.3f} (95% CI {lo:.3f} to {hi:.3f})"
    for after, before in (("sft", "base"), ("rl", "sft")):
        for metric in ("applied", "exact", "abstain"):
            key = f"{after}_minus_{before}_{metric}"
            if key in summary:
                lo, hi = summary[f"{key}_ci95"]
                extra[f"{after.upper()} − {before}, {metric}, paired by task"] = (
                    f"{summary[key]:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})"
                )
    extra["held-out tasks"] = str(summary["heldout_n"])
    extra |= {f"{k} stage": f"{v:.0f} s" for k, v in summary["stage_seconds"].items()}
    return build_report(
        runs,
        files,
        out / "report.html",
        title="golddiff demo",
        extra=extra,
        eval_names=[NAMES[n] for n in evals],
    )
