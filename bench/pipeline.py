"""Benchmark: Pipeline RL vs the conventional sync loop, same task, model, seed and step budget, side by side.

Workload: the built-in tiny model (3.2M parameters, random init) on the synthetic charset task ("Write
letters.", reward = share of sampled characters that are letters, optimum 1.0) with heavy-tailed output
lengths: each sample's length is drawn log-normal (median 8, p99 192 tokens, so p99/p50 ≈ 20 ≥ 4), as a
model's would vary within a group. 8 prompts × 8 samples per step, one actor (continuous batching, 128
slots) and one learner process, weights through the Ray object store, on one local Ray instance.
- `sync`: generate the step's 64 samples with the current weights, wait for the last one, train, swap.
- `pipeline`: the actor keeps generating under the lag budget (max_off_policy_steps 1) while the learner
  trains; new weights are swapped in between decode steps, sequences in flight keep going.
Threads: one torch thread per process in both modes by default (`--threads`): on 2 cores pipeline runs
the two processes side by side, sync runs them in turn; `--sync-threads 2` lets sync's processes use both
cores while they have them (on a busy machine extra threads mostly add contention).

Measured per mode: time to target (`time/elapsed_s` at the first step where the mean reward of the last 3
steps reaches `--target`; the clock starts once the processes are up), generation tokens per wall second
(all tokens generated ÷ elapsed), the learner's idle share (1 − learner busy ÷ elapsed), mean lag, mean ESS,
output-length p50/p99 (every sample, from rollouts.jsonl).

With `--model smollm2-135m` the workload is the demo's instead, on the real pretrained model: the demo's
tasks (stated edits and bug fixes on standard-library functions, `golddiff.demo`), its short SFT warm
start (made once, shared by both modes), then its Pipeline RL recipe (`golddiff.demo.rl_config`: 2
prompts x 8 samples per step, top 12 layers trained) run once as `sync` and once as `pipeline`, reward =
the gold-diff reward of the training tasks' answers. Target reward default 0.0 there (answers that apply
on average; the SFT start is below it).

Run (CPU; 2-4 minutes on 2 cores, `--quick` ~1.5; `--model smollm2-135m` ~25 minutes):
    .venv/bin/python bench/pipeline.py [--quick] [--steps 30] [--target 0.8] [--out runs/bench-pipeline]
    .venv/bin/python bench/pipeline.py --model smollm2-135m --steps 16 [--target 0.0]
Prints both runs step by step, a table, and last one JSON line: time_to_target_ratio (sync ÷ pipeline),
gen_tokens_per_s_ratio (pipeline ÷ sync), lag_mean and ess_mean (pipeline), and the per-mode figures.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golddiff.checks import train_hooks  # noqa: E402
from golddiff.rl.config import load_train_config  # noqa: E402
from golddiff.rl.metrics import percentile  # noqa: E402
from golddiff.rl.trainer import train  # noqa: E402

WORKLOAD = [
    "--data.synthetic.lengths=sample",
    "--data.synthetic.len_median=8",
    "--data.synthetic.len_p99=192",
    "--data.synthetic.n_prompts=2048",
    "--rl.prompts_per_step=8",
    "--rl.group_size=8",
    "--rl.max_new_tokens=320",
    "--rl.max_off_policy_steps=1",
    "--rl.lr=1e-3",
    "--actors.max_len=352",
    "--actors.max_batch=128",
    "--learner.micro_batch_tokens=2048",
    "--run.checkpoint_every=0",
    "--run.rollouts_per_step=64",
    "--run.progress=off",
]


def time_to_target(rows: list[dict], target: float, window: int = 3) -> float | None:
    rewards = [r["reward/mean"] for r in rows]
    for i in range(window - 1, len(rows)):
        if sum(rewards[i - window + 1 : i + 1]) / window >= target:
            return rows[i]["time/elapsed_s"]
    return None


def real_model_recipe(args: argparse.Namespace, out: Path) -> Path:
    """The demo's tasks and SFT warm start for `args.model` (made once under out/prep), and its RL recipe
    written as a `golddiff train` config; returns the config's path."""
    import yaml

    from golddiff.demo import DemoSettings, rl_config
    from golddiff.demo.stages import ingest_stage, sft_stage, tasks_stage
    from golddiff.tasks import read_tasks_parquet

    s = DemoSettings(out=out / "prep", model=args.model, seed=args.seed, threads=2)
    s.out.mkdir(parents=True, exist_ok=True)
    if not (s.out / "sft" / "config.json").exists():
        print(f"preparing the demo's tasks and SFT warm start of {args.model} in {s.out}", flush=True)
        ingest_stage(s, print)
        tasks_stage(s, print)
        train = [t for t in read_tasks_parquet(s.out / "tasks.parquet") if t.split == "train"]
        sft_stage(s.model_copy(update={"quiet": True}), train)
    recipe = rl_config(s)
    recipe["run"] |= {"checkpoint_every": 0, "rollouts_per_step": 64, "progress": "off"}
    path = out / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe, sort_keys=False))
    return path


def run_mode(mode: str, args: argparse.Namespace, out: Path) -> dict:
    threads = args.sync_threads if mode == "sync" else args.threads
    common = [
        f"--mode={mode}", f"--run.steps={args.steps}", f"--run.seed={args.seed}", f"--model.seed={args.seed}",
        f"--actors.threads={threads}", f"--learner.threads={threads}", f"--run.dir={out / mode}",
    ]  # fmt: skip
    if args.model == "tiny":
        cfg = load_train_config("configs/demo.yaml", [*WORKLOAD, *common])
    else:
        cfg = load_train_config(real_model_recipe(args, out), common)
    rows = train(cfg, hooks=train_hooks()).rows  # as `golddiff train` runs it
    for r in rows:
        print(
            f"  {mode:8} step {r['step']:>2}  t {r['time/elapsed_s']:6.1f}s  reward {r['reward/mean']:.3f}"
            f"  lag {r['off_policy/lag_mean']:.2f}  ess {r['off_policy/ess']:.3f}  step {r['time/step_s']:.2f}s"
            f"  train {r['time/train_s']:.2f}s",
            flush=True,
        )
    lengths = [
        json.loads(line)["completion_len"]
        for line in (out / mode / "rollouts.jsonl").read_text().splitlines()
    ]
    elapsed = rows[-1]["time/elapsed_s"]
    busy = sum(r["time/train_s"] + r["time/weight_export_s"] for r in rows)
    return {
        "time_to_target_s": time_to_target(rows, args.target),
        "elapsed_s": elapsed,
        "steps": len(rows),
        "final_reward": sum(r["reward/mean"] for r in rows[-3:]) / 3,
        "gen_tokens_per_s": sum(r["gen/tokens"] for r in rows) / elapsed,
        "engine_tokens_per_s": sum(r["perf/gen_tokens_per_s"] for r in rows) / len(rows),
        "learner_idle_frac": max(0.0, 1 - busy / elapsed),
        "step_s_mean": sum(r["time/step_s"] for r in rows) / len(rows),
        "train_s_mean": sum(r["time/train_s"] for r in rows) / len(rows),
        "lag_mean": sum(r["off_policy/lag_mean"] for r in rows) / len(rows),
        "lag_max": max(r["off_policy/lag_max"] for r in rows),
        "ess_mean": sum(r["off_policy/ess"] for r in rows) / len(rows),
        "mismatch_kl_mean": sum(r["off_policy/mismatch_kl"] for r in rows) / len(rows),
        "stale_samples": sum(r["data/stale_dropped"] for r in rows),
        "len_p50": percentile(lengths, 50),
        "len_p99": percentile(lengths, 99),
        "threads": threads,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 steps, target 0.45")
    parser.add_argument(
        "--model", default="tiny", help="tiny (synthetic charset task) or smollm2-135m (the demo's workload)"
    )
    parser.add_argument(
        "--steps", type=int, default=None, help="RL steps per mode (default 30; real model 32, the demo's)"
    )
    parser.add_argument(
        "--target", type=float, default=None, help="reward (mean of 3 steps) to reach (default 0.8; real 0.0)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per process (pipeline)")
    parser.add_argument("--sync-threads", type=int, default=1, help="torch threads per process (sync)")
    parser.add_argument("--out", help="keep the two run dirs here (default: a temp dir)")
    args = parser.parse_args()
    real = args.model != "tiny"
    args.steps = args.steps or (32 if real else 30)  # real: the demo's RL length
    args.target = args.target if args.target is not None else (0.0 if real else 0.8)
    if args.quick:
        args.steps, args.target = min(args.steps, 16), min(args.target, 0.45)
    import ray

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    out = Path(args.out or tempfile.mkdtemp(prefix="bench-pipeline-"))
    out.mkdir(parents=True, exist_ok=True)
    task = "the demo's tasks" if real else "charset task"
    print(
        f"{args.model} model, {task}, {args.steps} steps each, target reward {args.target}; run dirs in {out}"
    )
    t0 = time.time()
    results = {mode: run_mode(mode, args, out) for mode in ("sync", "pipeline")}
    ray.shutdown()
    s, p = results["sync"], results["pipeline"]
    print(f"\n{'':22}{'sync':>10}{'pipeline':>10}")
    for key, fmt in (
        ("time_to_target_s", "{:10.1f}"), ("elapsed_s", "{:10.1f}"), ("final_reward", "{:10.3f}"),
        ("gen_tokens_per_s", "{:10.0f}"), ("engine_tokens_per_s", "{:10.0f}"), ("learner_idle_frac", "{:10.2f}"),
        ("step_s_mean", "{:10.2f}"), ("train_s_mean", "{:10.2f}"), ("lag_mean", "{:10.2f}"),
        ("lag_max", "{:10.0f}"), ("ess_mean", "{:10.3f}"), ("stale_samples", "{:10.0f}"),
        ("len_p50", "{:10.0f}"), ("len_p99", "{:10.0f}"),
    ):  # fmt: skip
        cells = "".join("      n/a " if r[key] is None else fmt.format(r[key]) for r in (s, p))
        print(f"{key:22}{cells}")
    reached = s["time_to_target_s"] is not None and p["time_to_target_s"] is not None
    summary = {
        "time_to_target_ratio": s["time_to_target_s"] / p["time_to_target_s"] if reached else None,
        "gen_tokens_per_s_ratio": p["gen_tokens_per_s"] / s["gen_tokens_per_s"],
        "lag_mean": p["lag_mean"],
        "ess_mean": p["ess_mean"],
        "model": args.model,
        "target": args.target,
        "steps": args.steps,
        "len_p99_over_p50": p["len_p99"] / p["len_p50"],
        "wall_s": time.time() - t0,
        "sync": s,
        "pipeline": p,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
