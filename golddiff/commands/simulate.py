"""`golddiff simulate`: sync vs one-step-off vs Pipeline RL on a simulated cluster, or calibrate the
simulator against measured runs.

    golddiff simulate configs/simulate-pipelinerl-7b-128xh100.yaml --out runs/sim
    golddiff simulate configs/simulate-laptop.yaml --rl.max_off_policy_steps=4 --steps=20
    golddiff simulate --calibrate runs/sync-1 runs/pipeline-1 [--predict runs/sync-2 runs/pipeline-2]

Any config key can be overridden as `--a.b=value` (value parsed as YAML: `--modes=[sync,pipeline]`).
Prints a table per mode and ends with one JSON line (summaries and the speed-ups against sync). With
`--out DIR`: summary.json, one run dir per mode (config.yaml + metrics.jsonl in the `golddiff train`
schema), and unless `--no-plots`, PNG plots and index.html. The model is in golddiff/sim/simulate.py.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from golddiff.config import accept_overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "config", nargs="?", help="simulator YAML (see configs/simulate-*.yaml); defaults if omitted"
    )
    p.add_argument(
        "--calibrate", nargs="+", metavar="RUN_DIR", help="fit the throughput models to these runs"
    )
    p.add_argument(
        "--predict", nargs="+", default=[], metavar="RUN_DIR",
        help="with --calibrate: predict these runs too, with the models fitted on the others (held out)",
    )  # fmt: skip
    p.add_argument(
        "--max-steps",
        type=int,
        default=200,
        help="calibration: at most this many steps re-simulated per run (200)",
    )
    p.add_argument("--out", help="write summary.json, per-mode run dirs, plots and index.html here")
    p.add_argument("--no-plots", action="store_true", help="with --out: skip the PNG plots and HTML page")
    p.epilog = (
        "Override any config key with --a.b=value (YAML value), e.g. --rl.max_off_policy_steps=2 --steps=20."
    )
    accept_overrides(p)


def run_simulation(args: argparse.Namespace) -> int:
    from golddiff.sim.config import load_sim_config
    from golddiff.sim.report import compare, print_table, summary, write_outputs
    from golddiff.sim.simulate import simulate

    cfg = load_sim_config(args.config, getattr(args, "overrides", []))
    results = simulate(cfg)
    print_table(cfg, results)
    if args.out:
        written = write_outputs(cfg, results, Path(args.out), plots=not args.no_plots)
        print(f"wrote {len(written)} files to {args.out}", file=sys.stderr)
    modes = {m: {k: v for k, v in summary(r).items() if k != "lag_tokens"} for m, r in results.items()}
    print(json.dumps({"name": cfg.name, "steps": cfg.steps, "modes": modes, **compare(results)}))
    return 0


def run_calibration(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from golddiff.sim.calibrate import calibrate, print_calibration

    cal = calibrate(args.calibrate, max_steps=args.max_steps, predict=args.predict)
    print_calibration(cal)
    print(json.dumps(asdict(cal)))
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        if args.calibrate:
            if args.config:
                print("golddiff simulate: give a CONFIG or --calibrate RUN_DIR..., not both", file=sys.stderr)
                return 2
            return run_calibration(args)
        if args.predict:
            print("golddiff simulate: --predict needs --calibrate RUN_DIR... to fit on", file=sys.stderr)
            return 2
        return run_simulation(args)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"golddiff simulate: {e}", file=sys.stderr)
        return 2
