"""`golddiff train CONFIG.yaml [--a.b=value ...]`: Pipeline RL (or the sync baseline) from a YAML recipe.

    golddiff train configs/demo.yaml                               # CPU: tiny model, synthetic task
    golddiff train configs/demo.yaml --mode=sync --run.dir=runs/demo-sync
    golddiff train configs/qwen-1.5b.yaml --data.tasks=tasks.parquet   # GPUs (see the recipe's header)
    golddiff train --resume runs/demo --run.steps=200              # continue from the last checkpoint
    golddiff train configs/demo.yaml --check                       # print the resolved config and exit

The run dir gets config.yaml, metrics.jsonl, rollouts.jsonl, ledger.jsonl and checkpoints/step_N/.
Exit codes: 0 done, 1 the run failed (learner, actors, stall), 2 bad config or run dir, 130 interrupted.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from golddiff.config import accept_overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", nargs="?", help="YAML recipe (configs/demo.yaml); omit with --resume")
    p.add_argument("--resume", metavar="RUN_DIR", help="continue RUN_DIR from its last complete checkpoint")
    p.add_argument("--ray-address", help="join this Ray cluster (same as --run.ray_address=...)")
    p.add_argument("--check", action="store_true", help="print the resolved config and exit")
    p.epilog = "Override any config key with --a.b=value, e.g. --rl.max_off_policy_steps=2 --run.steps=20."
    accept_overrides(p)


def _load(args: argparse.Namespace):
    from golddiff.rl.config import load_train_config

    overrides = list(getattr(args, "overrides", []))
    if args.ray_address:
        overrides.append(f"--run.ray_address={args.ray_address}")
    if args.resume:
        saved = Path(args.resume) / "config.yaml"
        if not saved.is_file():
            raise ValueError(f"{args.resume}: no config.yaml (is this a `golddiff train` run dir?)")
        if args.config:
            raise ValueError("give either a config or --resume RUN_DIR (its config.yaml is used), not both")
        return load_train_config(saved, [*overrides, f"--run.dir={args.resume}"])
    if not args.config:
        raise ValueError("give a config (e.g. configs/demo.yaml) or --resume RUN_DIR")
    return load_train_config(args.config, overrides)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = _load(args)
    except ValueError as e:  # ConfigError included
        print(f"golddiff train: {e}", file=sys.stderr)
        return 2
    if args.check:
        import yaml

        print(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), end="")
        return 0
    from golddiff.checks import train_hooks
    from golddiff.rl.trainer import LearnerFailed, train

    try:
        summary = train(cfg, resume=bool(args.resume), hooks=train_hooks())
    except LearnerFailed as e:
        print(f"golddiff train: {e}", file=sys.stderr)
        return 1
    except RuntimeError as e:
        print(f"golddiff train: {e}", file=sys.stderr)
        return 2 if "already holds a run" in str(e) else 1
    where = f"; last checkpoint {summary.last_checkpoint}" if summary.last_checkpoint else ""
    print(f"golddiff train: {summary.run_dir} at step {summary.step}{where}", file=sys.stderr)
    return 130 if summary.interrupted else 0
