"""What `golddiff simulate` reports: per-step metrics in the `golddiff train` metrics.jsonl schema (the
generation lengths by `golddiff.rl.metrics.length_stats`, as a real run logs them), a summary per mode
(samples/s, utilisation, lag distribution, time to N steps), a rich table, and plots with an HTML page
embedding them, made with the run report's helpers (`golddiff.report.plots`, `golddiff.report.html`;
matplotlib is imported only when plots are written).

`write_run_dir` lays a simulated run out like a `golddiff train` run dir (config.yaml + metrics.jsonl), so
`golddiff simulate --calibrate` can read simulated and measured runs alike.
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import yaml

from golddiff.rl.metrics import length_stats
from golddiff.sim.config import SimConfig
from golddiff.sim.simulate import SimResult


def _weighted_percentile(counts: dict[int, float], q: float) -> float:
    """The smallest value whose cumulative count reaches q of the total (a histogram's quantile: lags)."""
    total, running = sum(counts.values()), 0.0
    for value in sorted(counts):
        running += counts[value]
        if running >= q * total:
            return float(value)
    return 0.0


def step_metrics(result: SimResult) -> list[dict]:
    """One row per optimizer step with the keys `golddiff train` writes (see golddiff/sim/calibrate.py)."""
    rows, prev_end, prev_fleet, prev_idle, prev_dropped = [], 0.0, (0.0, 0.0, 0.0, 0.0), 0.0, 0
    for r in result.steps:
        tokens, steps, busy, ctx = (now - before for now, before in zip(r.fleet, prev_fleet))
        lag_total = sum(r.lag_tokens.values()) or 1
        interval = r.end_s - prev_end
        rows.append(
            {
                "step": r.step,
                "time/step_s": interval,
                "time/elapsed_s": r.end_s,
                "time/weight_sync_s": result.broadcast_s,
                "perf/gen_tokens_per_s": tokens / (busy / result.engines) if busy else 0.0,
                "perf/train_tokens_per_s": r.tokens / r.train_s,
                "time/train_s": r.train_s,
                "gen/tokens": tokens,
                "perf/learner_idle_frac": min(1.0, (r.learner_idle_s - prev_idle) / interval)
                if interval
                else 0.0,
                "off_policy/lag_mean": sum(k * v for k, v in r.lag_tokens.items()) / lag_total,
                "off_policy/lag_max": max(r.group_lags, default=0),
                **length_stats(r.lengths),  # gen/len_mean, gen/len_p50, gen/len_p99
                "gen/active_seqs_mean": tokens / steps if steps else 0.0,
                "gen/ctx_tokens_mean": ctx / steps if steps else 0.0,
                "gen/decode_step_s": busy / steps if steps else 0.0,
                "data/stale_trained": r.stale,
                "data/stale_dropped": r.dropped - prev_dropped,
                "samples": r.samples,
            }
        )
        prev_end, prev_fleet, prev_idle, prev_dropped = r.end_s, r.fleet, r.learner_idle_s, r.dropped
    return rows


def summary(result: SimResult) -> dict:
    lag = result.lag_tokens
    total = sum(lag.values()) or 1
    return {
        "mode": result.mode,
        "steps": len(result.steps),
        "time_to_steps_s": result.wall_s,
        "samples_per_s": result.trained / result.wall_s,
        "trained_tokens_per_s": sum(r.tokens for r in result.steps) / result.wall_s,
        "gen_util": result.gen_util,
        "gen_busy": result.gen_busy,
        "gen_weight_sync": result.gen_weight_sync,
        "learner_util": result.learner_util,
        "lag_mean": sum(k * v for k, v in lag.items()) / total,
        "lag_p50": _weighted_percentile(lag, 0.5),
        "lag_p90": _weighted_percentile(lag, 0.9),
        "lag_p99": _weighted_percentile(lag, 0.99),
        "lag_max": max(lag, default=0),
        "lag_tokens": {str(k): v for k, v in sorted(lag.items())},
        "engines": result.engines,
        "gen_gpus": result.gen_gpus,
        "train_gpus": result.train_gpus,
        "max_off_policy_steps": result.spec.max_off_policy_steps,
        "admitted": result.admitted,
        "completed": result.completed,
        "trained": result.trained,
        "dropped": result.dropped,
        "stale_trained": result.stale_trained,
        "buffered_at_end": result.buffered_at_end,
        "partial_at_end": result.partial_at_end,
        "in_flight_at_end": result.in_flight_at_end,
    }


def compare(results: dict[str, SimResult]) -> dict:
    """Speed-ups to the same number of optimizer steps (so the same number of samples) against sync."""
    out = {}
    if "sync" in results:
        base = results["sync"].wall_s
        for mode, r in results.items():
            if mode != "sync":
                out[f"{mode}_vs_sync"] = base / r.wall_s
    return out


def print_table(cfg: SimConfig, results: dict[str, SimResult]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    table = Table(title=f"{cfg.name}: {cfg.steps} optimizer steps of {cfg.rl.samples_per_step} samples")
    for col in ("mode", "GPUs gen/train", "samples/s", f"time to {cfg.steps} steps", "gen util", "gen busy",
                "learner util", "lag mean", "lag p99", "lag max", "stale", "dropped"):  # fmt: skip
        table.add_column(col, justify="left" if col == "mode" else "right", no_wrap=True)
    for mode, r in results.items():
        s = summary(r)
        gpus = f"{r.gen_gpus} shared" if r.spec.colocated else f"{r.gen_gpus}/{r.train_gpus}"
        table.add_row(
            mode, gpus, f"{s['samples_per_s']:.2f}", f"{s['time_to_steps_s']:.0f} s", f"{s['gen_util']:.0%}",
            f"{s['gen_busy']:.0%}", f"{s['learner_util']:.0%}", f"{s['lag_mean']:.2f}", f"{s['lag_p99']:.0f}",
            str(s["lag_max"]), str(s["stale_trained"]), str(s["dropped"]),
        )  # fmt: skip
    console.print(table)
    for key, value in compare(results).items():
        mode = key.removesuffix("_vs_sync")
        console.print(
            f"{mode}: {value:.2f}x the speed of sync to {cfg.steps} steps "
            f"({results[mode].wall_s:,.0f} s vs {results['sync'].wall_s:,.0f} s)"
        )


def write_run_dir(cfg: SimConfig, result: SimResult, path: Path) -> Path:
    """config.yaml + metrics.jsonl as `golddiff train` writes them (the keys calibration reads)."""
    path.mkdir(parents=True, exist_ok=True)
    config = {
        "mode": result.mode,
        "rl": {
            "max_off_policy_steps": result.spec.max_off_policy_steps,
            "samples_per_step": cfg.rl.samples_per_step,
            "group_size": cfg.rl.group_size,
            "prompt_tokens": cfg.rl.prompt_tokens,
        },
        "cluster": {
            "gpu": cfg.cluster.gpu,
            "gen_gpus": cfg.cluster.gen_gpus,
            "train_gpus": cfg.cluster.train_gpus,
        },
        "sync": cfg.sync.model_dump(),
        "engine": {
            "max_active_seqs": cfg.engine.max_active_seqs,
            "gpus_per_engine": cfg.engine.gpus_per_engine,
        },
        "sampling": {"max_new_tokens": cfg.lengths.max_tokens},
        "model": {"params_b": cfg.model.params_b},
        "simulated_from": cfg.model_dump(),
    }
    (path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with (path / "metrics.jsonl").open("w", encoding="utf-8") as f:
        f.writelines(json.dumps(row) + "\n" for row in step_metrics(result))
    return path


def write_outputs(
    cfg: SimConfig, results: dict[str, SimResult], out_dir: Path, plots: bool = True
) -> list[Path]:
    """summary.json, one run dir per mode, and (with plots) PNGs plus index.html embedding them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    doc = {"name": cfg.name, "config": cfg.model_dump(), "modes": {m: summary(r) for m, r in results.items()}}
    doc["compare"] = compare(results)
    written = [out_dir / "summary.json"]
    written[0].write_text(json.dumps(doc, indent=1))
    written += [write_run_dir(cfg, r, out_dir / mode) / "metrics.jsonl" for mode, r in results.items()]
    if plots:
        written += write_plots(cfg, results, out_dir)
    return written


def write_plots(cfg: SimConfig, results: dict[str, SimResult], out_dir: Path) -> list[Path]:
    """samples_vs_time.png, occupancy.png, lag.png and index.html (the figures inlined, the summary table,
    the config)."""
    from golddiff.report import html, plots

    figures = {
        "samples_vs_time": (
            "Samples trained over time",
            "Samples the learner has trained on against simulated seconds: the mode whose curve rises "
            "soonest reaches the step count first.",
            plots.line_plot(_samples_series(results), "samples trained over time", "seconds", "samples trained"),
        ),
        "occupancy": (
            "Engine batch occupancy",
            "Share of an engine's continuous-batching slots occupied while decoding, per optimizer step.",
            plots.line_plot(
                _occupancy_series(cfg, results), "engine batch occupancy", "optimizer step",
                "occupied slots while decoding", ylim=(0, 1.05),
            ),
        ),
        "lag": (
            "Off-policy lag per token",
            "Share of trained tokens by how many optimizer steps behind the learner their weights were.",
            plots.bars(*_lag_bars(results), "off-policy lag per token", "share of trained tokens"),
        ),
    }  # fmt: skip
    paths = []
    for name, (_, _, png) in figures.items():
        paths.append(out_dir / f"{name}.png")
        paths[-1].write_bytes(base64.b64decode(png))
    cards = [html.Figure(title, what, png, "") for title, what, png in figures.values()]
    sections = [_summary_section(results), html.figures_section("Plots", cards), _config_section(cfg)]
    index = out_dir / "index.html"
    index.write_text(html.document(cfg.name, sections, tool="golddiff simulate"), encoding="utf-8")
    return [*paths, index]


def _samples_series(results: dict[str, SimResult]) -> list:
    from golddiff.report.plots import Series

    out = []
    for mode, r in results.items():
        trained = [0]
        for s in r.steps:
            trained.append(trained[-1] + s.samples)
        out.append(Series(mode, [0.0] + [s.end_s for s in r.steps], [float(n) for n in trained]))
    return out


def _occupancy_series(cfg: SimConfig, results: dict[str, SimResult]) -> list:
    from golddiff.report.plots import Series

    slots = cfg.engine.max_active_seqs
    rows = {mode: step_metrics(r) for mode, r in results.items()}
    return [
        Series(mode, [float(x["step"]) for x in rs], [x["gen/active_seqs_mean"] / slots for x in rs])
        for mode, rs in rows.items()
    ]


def _lag_bars(results: dict[str, SimResult]) -> tuple[list[str], list[tuple[str, list[float], None]]]:
    """(lags as labels, per mode its share of trained tokens at each lag)."""
    lags = sorted({lag for r in results.values() for lag in r.lag_tokens})
    groups = []
    for mode, r in results.items():
        total = sum(r.lag_tokens.values()) or 1
        groups.append((mode, [r.lag_tokens.get(lag, 0) / total for lag in lags], None))
    return [str(lag) for lag in lags], groups


def _summary_section(results: dict[str, SimResult]) -> str:
    from golddiff.report.html import e, table

    head = ["mode", "samples/s", "time to steps (s)", "gen util", "learner util", "lag mean"]
    rows = [
        [e(m), f"{s['samples_per_s']:.2f}", f"{s['time_to_steps_s']:.0f}", f"{s['gen_util']:.0%}",
         f"{s['learner_util']:.0%}", f"{s['lag_mean']:.2f}"]
        for m, s in ((m, summary(r)) for m, r in results.items())
    ]  # fmt: skip
    ratios = "".join(f"<p>{e(k)}: {v:.2f}x</p>" for k, v in compare(results).items())
    return f"<section><h2>Summary</h2><div class=card>{table(head, rows)}{ratios}</div></section>"


def _config_section(cfg: SimConfig) -> str:
    from golddiff.report.html import e

    config = yaml.safe_dump(cfg.model_dump(), sort_keys=False)
    return f"<section><h2>Config</h2><div class=card><pre>{e(config)}</pre></div></section>"
