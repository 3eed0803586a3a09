"""The figures of `golddiff report` and `golddiff simulate`: matplotlib (Agg) plots as base64 PNG text.

Each function takes plain series (label, xs, ys) and returns the PNG as base64 text (`png`), ready for a
`golddiff.report.html.Figure` (an inline data URI); none of them reads or writes files. Importing this
module selects the Agg backend, so it works without a display.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2")
plt.rcParams.update(
    {
        "figure.dpi": 100,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.grid": True,
        "grid.alpha": 0.25,
        "axes.titleweight": "bold",
        "axes.titlesize": 12,
        "axes.labelsize": 10,
        "legend.frameon": False,
        "font.size": 10,
    }
)


@dataclass
class Series:
    label: str
    xs: list[float]
    ys: list[float]


def png(fig) -> str:
    """The figure as base64 PNG text (and closed): what every plot function here returns."""
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def smooth(ys: Sequence[float], window: int) -> list[float]:
    """Trailing moving average over `window` points (the first points average what there is)."""
    out, acc = [], 0.0
    for i, y in enumerate(ys):
        acc += y
        if i >= window:
            acc -= ys[i - window]
        out.append(acc / min(i + 1, window))
    return out


def line_plot(
    series: Sequence[Series], title: str, xlabel: str, ylabel: str, smooth_window: int = 0, ylim=None
) -> str:
    """Lines, one per series; with `smooth_window`, the raw values faint and a moving average on top."""
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    for i, s in enumerate(series):
        color = PALETTE[i % len(PALETTE)]
        w = smooth_window if smooth_window and len(s.ys) > smooth_window else 0
        if w:
            ax.plot(s.xs, s.ys, color=color, alpha=0.25, linewidth=1)
            ax.plot(s.xs, smooth(s.ys, w), color=color, linewidth=2, label=f"{s.label} (mean of {w})")
        else:
            ax.plot(
                s.xs,
                s.ys,
                color=color,
                linewidth=2,
                marker="o" if len(s.xs) < 30 else None,
                ms=3,
                label=s.label,
            )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    if ylim:
        ax.set_ylim(*ylim)
    if len(series) > 1 or smooth_window:
        ax.legend(loc="best", fontsize=9)
    return png(fig)


def twin_plot(
    left: Sequence[Series], right: Sequence[Series], title: str, xlabel: str, ylabels: tuple[str, str]
) -> str:
    """Two quantities on one time axis: solid lines on the left axis, dashed on the right."""
    fig, ax = plt.subplots(figsize=(7.2, 3.4))
    ax2 = ax.twinx()
    handles = []
    for i, s in enumerate(left):
        handles += ax.plot(s.xs, s.ys, color=PALETTE[i % 6], linewidth=2, label=f"{ylabels[0]}: {s.label}")
    for i, s in enumerate(right):
        handles += ax2.plot(
            s.xs, s.ys, color=PALETTE[i % 6], linewidth=1.5, linestyle="--", label=f"{ylabels[1]}: {s.label}"
        )
    ax.set(title=title, xlabel=xlabel, ylabel=ylabels[0])
    ax2.set_ylabel(ylabels[1])
    ax2.grid(False)
    ax2.spines["right"].set_visible(True)
    ax.legend(handles=handles, loc="best", fontsize=8)
    return png(fig)


def histogram(
    samples: Sequence[tuple[str, list[float]]], title: str, xlabel: str, integer: bool = True
) -> str:
    """Overlaid histograms (share of values per bin), integer-centred bins for lags."""
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    values = [v for _, vs in samples for v in vs]
    lo, hi = math.floor(min(values)), math.ceil(max(values))
    bins = [b - 0.5 for b in range(lo, hi + 2)] if integer and hi - lo <= 60 else 30
    for i, (label, vs) in enumerate(samples):
        weights = [1 / len(vs)] * len(vs)
        ax.hist(
            vs, bins=bins, weights=weights, alpha=0.55, color=PALETTE[i % 6], label=label, edgecolor="white"
        )
    ax.set(title=title, xlabel=xlabel, ylabel="share")
    if len(samples) > 1:
        ax.legend(fontsize=9)
    return png(fig)


def bars(
    labels: Sequence[str],
    groups: Sequence[tuple[str, list[float], list[float] | None]],
    title: str,
    ylabel: str,
) -> str:
    """Grouped bars: per group (name, one value per label, optional CI half-widths), annotated."""
    fig, ax = plt.subplots(figsize=(7.2, 3.2))
    n = max(1, len(groups))
    width = 0.8 / n
    for g, (name, values, errs) in enumerate(groups):
        xs = [i + (g - (n - 1) / 2) * width for i in range(len(labels))]
        colors = [PALETTE[i % 6] for i in range(len(values))] if n == 1 else PALETTE[g % 6]
        drawn = ax.bar(xs, values, width=width * 0.92, color=colors, label=name, yerr=errs, capsize=4)
        ax.bar_label(drawn, labels=[f"{v:.3g}" for v in values], padding=2, fontsize=8)
    ax.set_xticks(range(len(labels)), labels)
    ax.set(title=title, ylabel=ylabel)
    ax.axhline(0, color="#444", linewidth=0.8)
    if len(groups) > 1:
        ax.legend(fontsize=9)
    return png(fig)


def eval_bars(names: Sequence[str], metrics: dict[str, list[tuple[float, float]]], title: str) -> str:
    """One panel per metric, one bar per evaluated model, with 95% CI error bars."""
    fig, axes = plt.subplots(1, len(metrics), figsize=(3.0 * len(metrics) + 0.6, 3.2), squeeze=False)
    for ax, (metric, rows) in zip(axes[0], metrics.items()):
        means = [m for m, _ in rows]
        drawn = ax.bar(
            range(len(names)), means, yerr=[h for _, h in rows], capsize=5, color=PALETTE[: len(names)]
        )
        ax.bar_label(drawn, labels=[f"{m:.3f}" for m in means], padding=3, fontsize=8)
        ax.set_xticks(range(len(names)), names, rotation=15)
        ax.set_title(metric, fontsize=11)
        ax.axhline(0, color="#444", linewidth=0.8)
    fig.suptitle(title, fontweight="bold")
    return png(fig)
