"""What a report reads: run dirs (`golddiff train`'s config.yaml and metrics.jsonl) and evaluations
(`golddiff eval`'s JSONL and its summary), and the series and means the figures and tables are made of.

    run = load_run("runs/pipeline")              # Run: mode, config, metric rows, per-token lags
    ev = load_eval("runs/eval_rl.jsonl")         # Evaluation: per-task rows, summary with 95% CIs
    series([run], "reward/mean", "time/elapsed_s")

A torn last line (a run still going) is skipped. No torch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from golddiff.report.plots import Series


@dataclass
class Run:
    name: str
    path: Path
    mode: str  # "pipeline" | "sync" | "?"
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    lags: list[float] = field(default_factory=list)  # per trained token (from lag_hist) when logged


@dataclass
class Evaluation:
    name: str
    path: Path
    rows: list[dict[str, Any]]
    summary: dict[str, Any]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    rows = []
    if not path.exists():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue  # a torn last line of a run still going
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _config(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "config.yaml"
    if not path.exists():
        return {}
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError:
        return {}
    return data if isinstance(data, dict) else {}


def _lags(rows: list[dict[str, Any]]) -> list[float]:
    """One value per trained token, from each step's `off_policy/lag_hist` (tokens at lag 0, 1, …)."""
    lags: list[float] = []
    for row in rows:
        hist = row.get("off_policy/lag_hist")
        if isinstance(hist, list):
            for lag, count in enumerate(hist):
                lags += [float(lag)] * int(count or 0)
    return lags


def load_run(run_dir: str | Path, name: str | None = None) -> Run:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: not a run dir (expected config.yaml and metrics.jsonl in it)")
    config = _config(run_dir)
    rows = sorted(_jsonl(run_dir / "metrics.jsonl"), key=lambda r: r.get("step", 0))
    mode = str(config.get("mode", "?"))
    return Run(name or run_dir.name, run_dir, mode, config, rows, _lags(rows))


def _eval_summary(path: Path, rows: list[dict[str, Any]]) -> dict[str, Any]:
    meta = Path(str(path) + ".summary.json")
    if meta.exists():
        return json.loads(meta.read_text(encoding="utf-8")).get("summary", {})
    from golddiff.evaluate import METRICS, mean_ci

    summary: dict[str, Any] = {
        m: mean_ci([r[f"{m}_mean"] for r in rows if f"{m}_mean" in r]) for m in METRICS
    }
    summary["n_tasks"] = len(rows)
    return summary


def load_eval(path: str | Path, name: str | None = None) -> Evaluation:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such evaluation file (write one with `golddiff eval --out`)")
    rows = _jsonl(path)
    label = name or path.stem.removeprefix("eval_").removeprefix("eval-")
    return Evaluation(label, path, rows, _eval_summary(path, rows))


def series(runs: Sequence[Run], y: str, x: str = "step") -> list[Series]:
    """Per run, the (x, y) points where both are finite numbers."""
    out = []
    for run in runs:
        pts = [(r[x], r[y]) for r in run.rows if is_number(r.get(x)) and is_number(r.get(y))]
        if pts:
            out.append(Series(run.name, [float(a) for a, _ in pts], [float(b) for _, b in pts]))
    return out


def is_number(v: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def values(run: Run, key: str) -> list[float]:
    return [float(r[key]) for r in run.rows if is_number(r.get(key))]


def mean_of(run: Run, key: str, part: str = "all", frac: float = 0.2) -> float | None:
    """Mean of a metric over the run, or over its first / last `frac` of logged values."""
    vals = values(run, key)
    if not vals:
        return None
    k = max(1, math.ceil(len(vals) * frac))
    chosen = vals[:k] if part == "first" else vals[-k:] if part == "last" else vals
    return sum(chosen) / len(chosen)
