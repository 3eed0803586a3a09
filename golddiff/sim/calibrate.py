"""`golddiff simulate --calibrate RUN_DIR... [--predict RUN_DIR...]`: fit the simulator's component models to
measured runs, re-simulate each run with them, and say how well the simulation predicts what was measured.

Nothing is fitted to a step time or to the pipeline/sync ratio: the components are fitted, each from the
metric that measures it, and the simulation produces the step times and the ratio. `--predict` runs are
re-simulated with the models fitted on the `--calibrate` runs only (held out: a check against overfitting).

Components and what they are fitted from (metrics.jsonl, one row per optimizer step; the first step is
warm-up and left out):
  engine     decode step = a + b·active + c·context: least squares of gen/decode_step_s (engine seconds per
             step, prefill included) on gen/active_seqs_mean (and gen/ctx_tokens_mean when logged; without it
             c = 0 and the context's cost is folded into b, right while sequences are as long as in these
             runs). A coefficient that comes out negative is dropped and the rest refitted.
  learner    time/train_s = overhead + tokens ÷ (rate × learner GPUs), tokens = perf/train_tokens_per_s ×
             time/train_s (prompt + completion tokens the learner saw); a negative overhead is dropped
             (rate through the origin). Runs without time/train_s: samples × (prompt + gen/len_mean) ÷ rate.
  broadcast  median of time/weight_sync_s (export + transfer + load).
  lengths    each run's own: every completion_len in rollouts.jsonl when it holds every sample of each step,
             else one log-normal from the steps' gen/len_p50 and gen/len_mean under the cap.

Each run's settings come from the run, defaults only where it says nothing (each default is warned about):
  prompt tokens    mean prompt_len in rollouts.jsonl, else trained tokens ÷ samples − gen/len_mean, else
                   rl.prompt_tokens (default 256)
  parameters       the newest checkpoints/step_*/model.safetensors header, else model.params_b (only
                   recorded: every figure that would derive from it is fitted)
  batch            rl.samples_per_step, or rl.prompts_per_step × rl.group_size, or batch_size
  engines          cluster.gen_gpus ÷ engine.gpus_per_engine, or actors.count (`golddiff train`)
  learner GPUs     cluster.train_gpus, or learner.processes
  colocated sync   sync.colocated; false for a `golddiff train` run (its sync mode keeps actors and learner
                   apart and takes turns)
  slots, cap       engine.max_active_seqs or actors.max_batch; sampling.max_new_tokens or rl.max_new_tokens
  mode, bound      mode (default pipeline), rl.max_off_policy_steps (default 1), rl.group_size (default 1)
The report gives, per run, measured vs predicted time per step with the learner and generation parts, and
for each sync/pipeline pair (same parent directory) the speed-up per sample, measured vs predicted.
"""

from __future__ import annotations

import json
import math
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from golddiff.sim.config import Z99, SimConfig

REQUIRED = ("time/step_s",)
WARMUP_STEPS = 1
MIN_SIM_STEPS = 100  # re-simulate at least this many steps: the prediction is the long-run mean


@dataclass
class Run:
    path: Path
    config: dict
    rows: list[dict]
    rollouts: list[dict]
    mode: str
    k: int
    batch: int
    group: int
    prompt_tokens: float
    gen_gpus: int
    train_gpus: int
    colocated: bool
    sync_steps: int
    gpu: str
    max_active: int
    gpus_per_engine: int
    max_tokens: int
    params_b: float | None

    @property
    def engines(self) -> int:
        gpus = self.gen_gpus + self.train_gpus if self.mode == "sync" and self.colocated else self.gen_gpus
        return max(1, gpus // self.gpus_per_engine)

    @property
    def train_gpu_count(self) -> int:
        return self.gen_gpus + self.train_gpus if self.mode == "sync" and self.colocated else self.train_gpus


@dataclass
class Calibration:
    a: float
    b: float
    c: float
    tokens_per_s_per_gpu: float
    step_overhead_s: float
    broadcast_s: float
    fitted: list[str]
    warnings: list[str] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    ratio: dict | None = None  # the first pair's
    ratios: list[dict] = field(default_factory=list)


def _get(d: dict, dotted: str, default=None):
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return default
        d = d[part]
    return d


def _jsonl(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def read_run(path: Path, warnings: list[str]) -> Run:
    """A run dir's settings and measurements; a setting the run does not record gets a default, warned."""
    if not (path / "metrics.jsonl").is_file():
        raise ValueError(f"{path}: no metrics.jsonl (is this a `golddiff train` run dir?)")
    rows = _jsonl(path / "metrics.jsonl")
    missing = [k for k in REQUIRED if not any(k in r for r in rows)]
    if not rows or missing:
        raise ValueError(
            f"{path / 'metrics.jsonl'}: {'no rows' if not rows else 'no ' + ', '.join(missing)}: cannot calibrate"
        )
    config_path = path / "config.yaml"
    config = (yaml.safe_load(config_path.read_text()) or {}) if config_path.is_file() else {}
    if not config_path.is_file():
        warnings.append(f"{path}: no config.yaml; every setting below is a default")

    def setting(key: str, default, *alternatives):
        for k in (key, *alternatives):
            value = _get(config, k)
            if value is not None:
                return value
        warnings.append(f"{path.name}: config.yaml has no {key}; using {default}")
        return default

    group = int(setting("rl.group_size", 1))
    batch = _get(config, "rl.samples_per_step") or _get(config, "batch_size")
    if batch is None and _get(config, "rl.prompts_per_step") is not None:
        batch = int(_get(config, "rl.prompts_per_step")) * group
    if batch is None:
        batch = int(max(r.get("samples", 0) for r in rows)) or 64
        warnings.append(f"{path.name}: config.yaml has no rl.samples_per_step; using {batch}")
    rollouts = _jsonl(path / "rollouts.jsonl")
    prompt_tokens = _measured_prompt_tokens(rows, rollouts, int(batch))
    if prompt_tokens is None:
        prompt_tokens = float(setting("rl.prompt_tokens", 256))
    trained_by_golddiff = isinstance(config.get("actors"), dict)  # a `golddiff train` config.yaml
    return Run(
        path=path, config=config, rows=rows, rollouts=rollouts, mode=str(setting("mode", "pipeline")),
        k=int(setting("rl.max_off_policy_steps", 1)), batch=int(batch), group=group, prompt_tokens=prompt_tokens,
        gen_gpus=int(setting("cluster.gen_gpus", 1, "actors.count")),
        train_gpus=int(setting("cluster.train_gpus", 1, "learner.processes")),
        colocated=bool(_get(config, "sync.colocated", not trained_by_golddiff)),
        sync_steps=int(_get(config, "sync.optimizer_steps_per_batch", 1)),
        gpu=str(_get(config, "cluster.gpu", "h100")),
        max_active=int(setting("engine.max_active_seqs", 256, "actors.max_batch")),
        gpus_per_engine=int(_get(config, "engine.gpus_per_engine", 1)),
        max_tokens=int(setting("sampling.max_new_tokens", 8192, "rl.max_new_tokens", "lengths.max_tokens")),
        params_b=_checkpoint_params_b(path) or _get(config, "model.params_b"),
    )  # fmt: skip


def _measured_prompt_tokens(rows: list[dict], rollouts: list[dict], batch: int) -> float | None:
    """Mean prompt tokens per sample: from rollouts.jsonl, else from what the learner trained on."""
    lens = [r["prompt_len"] for r in rollouts if isinstance(r.get("prompt_len"), int | float)]
    if lens:
        return sum(lens) / len(lens)
    per_step = [
        r["perf/train_tokens_per_s"] * r["time/train_s"] / r.get("samples", batch) - r["gen/len_mean"]
        for r in rows
        if all(k in r for k in ("perf/train_tokens_per_s", "time/train_s", "gen/len_mean"))
    ]
    return max(0.0, sorted(per_step)[len(per_step) // 2]) if per_step else None


def _checkpoint_params_b(path: Path) -> float | None:
    """Parameters (billions) in the newest checkpoint's model.safetensors, from its JSON header alone."""
    step = lambda p: int(p.parent.name[5:]) if p.parent.name[5:].isdigit() else -1  # noqa: E731
    files = sorted((path / "checkpoints").glob("step_*/model.safetensors"), key=step)
    if not files:
        return None
    with files[-1].open("rb") as f:
        (size,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(size))
    return sum(math.prod(t["shape"]) for k, t in header.items() if k != "__metadata__") / 1e9


# ---------------------------------------------------------------- component fits


def decode_observations(run: Run) -> list[tuple[float, float | None, float]]:
    """(active sequences, context tokens or None, decode-step seconds) for each step that has them."""
    out = []
    for row in run.rows[WARMUP_STEPS:]:
        n, tau = row.get("gen/active_seqs_mean"), row.get("gen/decode_step_s")
        if tau is None and n and row.get("perf/gen_tokens_per_s"):
            tau = run.engines * n / row["perf/gen_tokens_per_s"]  # engine-seconds per decode step
        if n and tau:
            out.append((float(n), row.get("gen/ctx_tokens_mean"), float(tau)))
    return out


def fit_decode(observations: list, warnings: list[str]) -> tuple[dict, list[str]]:
    """Least squares τ = a + b·n (+ c·ctx when every step measured its context); a coefficient that comes out
    negative is dropped and the rest refitted."""
    import numpy as np

    if len(observations) < 3:
        raise ValueError(
            f"only {len(observations)} steps with gen/active_seqs_mean and gen/decode_step_s (or "
            "perf/gen_tokens_per_s): need at least 3 to fit the decode model"
        )
    n = np.array([o[0] for o in observations])
    tau = np.array([o[2] for o in observations])
    columns = {"a": np.ones(len(n)), "b": n}
    if all(o[1] is not None for o in observations):
        columns["c"] = np.array([o[1] for o in observations], dtype=float)
    else:
        warnings.append(
            "no gen/ctx_tokens_mean in some steps: the context's cost is folded into b (per active sequence)"
        )
    keep = list(columns)
    while True:
        design = np.stack([columns[k] for k in keep], axis=1)
        coef, *_ = np.linalg.lstsq(design, tau, rcond=None)
        negative = [k for k, v in zip(keep, coef) if v < 0]
        if not negative:
            break
        warnings.append(
            f"decode fit: {negative[0]} came out negative; dropped (the runs do not vary it enough)"
        )
        keep.remove(negative[0])
    fitted = {"a": 0.0, "b": 0.0, "c": 0.0} | {k: float(v) for k, v in zip(keep, coef)}
    return fitted, keep


def learner_observations(run: Run) -> list[tuple[float, float]]:
    """(tokens per learner GPU, learner seconds) for each step."""
    out = []
    for row in run.rows[WARMUP_STEPS:]:
        rate, train_s = row.get("perf/train_tokens_per_s"), row.get("time/train_s")
        if rate and train_s:
            tokens = rate * train_s
        elif rate and row.get("gen/len_mean") is not None:
            tokens = row.get("samples", run.batch) * (run.prompt_tokens + row["gen/len_mean"])
            train_s = tokens / rate
        else:
            continue
        out.append((tokens / run.train_gpu_count, train_s))
    return out


def fit_learner(runs: list[Run], warnings: list[str]) -> tuple[float, float]:
    """(tokens/s per learner GPU, fixed seconds per step): train seconds regressed on tokens per GPU."""
    import numpy as np

    points = np.array([p for run in runs for p in learner_observations(run)])
    if not len(points):
        raise ValueError("no step has time/train_s or perf/train_tokens_per_s: cannot fit the learner")
    work, seconds = points[:, 0], points[:, 1]
    if work.max() > 1.2 * work.min():
        slope, intercept = np.polyfit(work, seconds, 1)
        if slope > 0 and intercept >= 0:
            return float(1 / slope), float(intercept)
        warnings.append(
            f"learner fit: the fixed step cost came out {intercept:.3g} s; fitted through the origin instead"
        )
    else:
        warnings.append("learner fit: tokens per step too alike to separate a fixed step cost; none fitted")
    return float(work.sum() / seconds.sum()), 0.0


def fit_broadcast(runs: list[Run], warnings: list[str]) -> float:
    syncs = sorted(r["time/weight_sync_s"] for run in runs for r in run.rows if "time/weight_sync_s" in r)
    if not syncs:
        warnings.append("no time/weight_sync_s in any run: broadcast time set to 0")
        return 0.0
    return syncs[len(syncs) // 2]


def _clipped_lognormal_mean(mu: float, sigma: float, cap: float) -> float:
    """E[min(L, cap)] for log-normal L."""
    phi = lambda x: 0.5 * (1 + math.erf(x / math.sqrt(2)))  # noqa: E731
    z = (math.log(cap) - mu) / sigma
    return math.exp(mu + sigma**2 / 2) * phi(z - sigma) + cap * (1 - phi(z))


def fit_lengths(run: Run) -> dict:
    """The run's output lengths: its rollouts.jsonl when that holds every sample of every step; else one
    log-normal, the median of the steps' medians and the spread that reproduces the mean length under the cap
    (a step's p99 over a few dozen samples is nearly its maximum); else the per-step p50/p99 (empirical)."""
    steps = {r.get("step") for r in run.rollouts}
    lens = [r for r in run.rollouts if isinstance(r.get("completion_len"), int | float)]
    if lens and len(lens) >= run.batch * len(steps):
        return {"kind": "empirical", "path": str(run.path / "rollouts.jsonl")}
    medians = sorted(r["gen/len_p50"] for r in run.rows if r.get("gen/len_p50"))
    means = [r["gen/len_mean"] for r in run.rows if r.get("gen/len_mean")]
    if not medians or not means:
        has_p99 = any("gen/len_p99" in r for r in run.rows)
        return {"kind": "empirical", "path": str(run.path / "metrics.jsonl")} if has_p99 and medians else {}
    median, mean, cap = medians[len(medians) // 2], sum(means) / len(means), float(run.max_tokens)
    mu, lo, hi = math.log(median), 1e-3, 4.0
    if _clipped_lognormal_mean(mu, lo, cap) >= mean:
        return {"median": median, "p99": median * math.exp(Z99 * lo)}
    for _ in range(60):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _clipped_lognormal_mean(mu, mid, cap) < mean else (lo, mid)
    return {"kind": "lognormal", "median": median, "p99": median * math.exp(Z99 * lo)}


# ---------------------------------------------------------------- fit, re-simulate, compare


def calibrate(
    paths: list[str | Path], max_steps: int = 200, predict: list[str | Path] | tuple = ()
) -> Calibration:
    """Fit the components on `paths`; re-simulate those runs and the held-out `predict` runs with them."""
    warnings: list[str] = []
    runs = [read_run(Path(p), warnings) for p in paths]
    held_out = [read_run(Path(p), warnings) for p in predict]
    decode, fitted = fit_decode([o for run in runs for o in decode_observations(run)], warnings)
    rate, overhead = fit_learner(runs, warnings)
    cal = Calibration(
        decode["a"], decode["b"], decode["c"], rate, overhead, fit_broadcast(runs, warnings), fitted, warnings
    )
    cal.runs = [predict_run(cal, run, max_steps) for run in runs]
    cal.runs += [predict_run(cal, run, max_steps) | {"held_out": True} for run in held_out]
    cal.ratios = _ratios(cal.runs)
    cal.ratio = cal.ratios[0] if cal.ratios else None
    return cal


def sim_config_for(cal: Calibration, run: Run, steps: int) -> SimConfig:
    """The run's own settings and lengths with the fitted component models."""
    model = {"params_b": run.params_b} if run.params_b else {}
    return SimConfig.model_validate(
        {
            "name": run.path.name,
            "steps": steps,
            "modes": [run.mode],
            "model": model,
            "cluster": {"gpu": run.gpu, "gen_gpus": run.gen_gpus, "train_gpus": run.train_gpus},
            "sync": {"colocated": run.colocated, "optimizer_steps_per_batch": run.sync_steps},
            "engine": {"gpus_per_engine": run.gpus_per_engine, "max_active_seqs": run.max_active,
                       "step_base_s": cal.a, "step_per_seq_s": cal.b, "step_per_ctx_token_s": cal.c,
                       "prefill_per_token_s": 0.0},
            "learner": {"tokens_per_s_per_gpu": cal.tokens_per_s_per_gpu, "step_overhead_s": cal.step_overhead_s},
            "weights": {"broadcast_s": cal.broadcast_s},
            "rl": {"samples_per_step": run.batch, "group_size": run.group,
                   "prompt_tokens": round(run.prompt_tokens), "max_off_policy_steps": run.k},
            "lengths": {**fit_lengths(run), "max_tokens": run.max_tokens},
        }
    )  # fmt: skip


def _mean(rows: list[dict], key: str) -> float | None:
    body = [r[key] for r in (rows[WARMUP_STEPS:] or rows) if key in r]
    return sum(body) / len(body) if body else None


def _parts(rows: list[dict]) -> dict:
    """Mean seconds per step: the whole step, learner training, one engine's generation, weight sync."""
    gen = [
        r["gen/tokens"] / r["perf/gen_tokens_per_s"]
        for r in rows[WARMUP_STEPS:]
        if r.get("gen/tokens") is not None and r.get("perf/gen_tokens_per_s")
    ]
    return {
        "step_s": _mean(rows, "time/step_s"),
        "train_s": _mean(rows, "time/train_s"),
        "gen_s": sum(gen) / len(gen) if gen else None,
        "sync_s": _mean(rows, "time/weight_sync_s"),
    }


def predict_run(cal: Calibration, run: Run, max_steps: int) -> dict:
    from golddiff.sim.report import step_metrics
    from golddiff.sim.simulate import Simulation

    steps = max(WARMUP_STEPS + 2, min(max_steps, max(len(run.rows), MIN_SIM_STEPS)))
    cfg = sim_config_for(cal, run, steps)
    predicted = _parts(step_metrics(Simulation(cfg, run.mode).run()))  # type: ignore[arg-type]
    measured = _parts(run.rows)
    out = {
        "run": str(run.path), "mode": run.mode, "samples_per_step": run.batch, "engines": run.engines,
        "learner_gpus": run.train_gpu_count, "prompt_tokens": run.prompt_tokens, "params_b": run.params_b,
        "lengths": cfg.lengths.kind, "measured_step_s": measured["step_s"], "predicted_step_s": predicted["step_s"],
        "error_pct": 100 * (predicted["step_s"] - measured["step_s"]) / measured["step_s"],
    }  # fmt: skip
    for part in ("train_s", "gen_s"):
        out[f"measured_{part}"], out[f"predicted_{part}"] = measured[part], predicted[part]
    if run.mode == "sync" and None not in measured.values():  # sync's parts take turns: the rest is overhead
        out["measured_other_s"] = (
            measured["step_s"] - measured["train_s"] - measured["gen_s"] - measured["sync_s"]
        )
    return out


def _ratios(runs: list[dict]) -> list[dict]:
    """Pipeline/sync speed-up per sample, measured and predicted, for each sync and pipeline run that share a
    parent directory (as `bench/pipeline.py --out DIR` writes them); else the first of each mode."""
    pairs = {}
    for r in runs:
        pairs.setdefault(str(Path(r["run"]).parent), {}).setdefault(r["mode"], r)
    matched = [p for p in pairs.values() if "sync" in p and "pipeline" in p]
    if not matched:
        first = {r["mode"]: r for r in reversed(runs)}
        matched = [first] if "sync" in first and "pipeline" in first else []
    out = []
    for pair in matched:
        sync, pipe = pair["sync"], pair["pipeline"]

        def speedup(key: str) -> float:
            return (sync[key] / sync["samples_per_step"]) / (pipe[key] / pipe["samples_per_step"])  # noqa: B023

        measured, predicted = speedup("measured_step_s"), speedup("predicted_step_s")
        out.append({
            "sync": sync["run"], "pipeline": pipe["run"], "measured": measured, "predicted": predicted,
            "error_pct": 100 * (predicted - measured) / measured,
            "held_out": bool(sync.get("held_out") and pipe.get("held_out")),
        })  # fmt: skip
    return out


def print_calibration(cal: Calibration) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    for w in cal.warnings:
        console.print(f"[yellow]warning:[/] {w}")
    console.print(
        f"decode step = {cal.a * 1e3:.3g} ms + {cal.b * 1e6:.3g} µs·active + {cal.c * 1e9:.3g} ns·context token "
        f"(fitted: {', '.join(cal.fitted)}); learner {cal.tokens_per_s_per_gpu:,.0f} tokens/s per GPU + "
        f"{cal.step_overhead_s:.3g} s per step; broadcast {cal.broadcast_s:.3g} s"
    )
    table = Table(title="time per optimizer step, measured → predicted (s)")
    for col in ("run", "mode", "prompt", "step", "error", "learner", "generation", "other"):
        table.add_column(col, justify="left" if col in ("run", "mode") else "right")
    fmt = lambda m, p: "-" if m is None or p is None else f"{m:.3g} → {p:.3g}"  # noqa: E731
    for r in cal.runs:
        name = (
            Path(r["run"]).parent.name
            + "/"
            + Path(r["run"]).name
            + (" (held out)" if r.get("held_out") else "")
        )
        other = r.get("measured_other_s")
        table.add_row(
            name, r["mode"], f"{r['prompt_tokens']:.0f}", fmt(r["measured_step_s"], r["predicted_step_s"]),
            f"{r['error_pct']:+.1f}%", fmt(r["measured_train_s"], r["predicted_train_s"]),
            fmt(r["measured_gen_s"], r["predicted_gen_s"]), "-" if other is None else f"{other:.3g} → 0",
        )  # fmt: skip
    console.print(table)
    console.print(
        "learner: training seconds; generation: one engine's decode seconds; other (sync runs): the step's "
        "measured time outside training, generation and weight sync (driver and actor loop), not modelled"
    )
    for ratio in cal.ratios:
        console.print(
            f"pipeline/sync speed-up per sample{' (held out)' if ratio['held_out'] else ''}, "
            f"{Path(ratio['sync']).parent.name}: measured {ratio['measured']:.2f}x, predicted "
            f"{ratio['predicted']:.2f}x ({ratio['error_pct']:+.1f}%)"
        )
