"""`golddiff doctor [--model PATH | --tiny] [--config CONFIG] [--dtype fp32|bf16|fp16] [--device cpu|cuda]
[--engine builtin|vllm]`: check a model and a training config for the failures that silently ruin runs (see
`golddiff.checks`).

    golddiff doctor --tiny                                   # CPU, fp32, a few seconds
    golddiff doctor --tiny --engine vllm                     # the causality and drift checks against vLLM
    golddiff doctor --tiny --dtype bf16                      # the engine and learner computing in bf16
    golddiff doctor --model Qwen/Qwen2.5-1.5B --config configs/qwen-1.5b.yaml --device cuda
    golddiff doctor --tiny --only drift --rl.temperature=0.7 # any config key as --a.b=value

Prints a table (check, status, the measured figure, what it means, what to do) and, last, one JSON line
(per check: status, figures, thresholds); `--json` prints only the JSON line. Exit code 0 when nothing
fails (warnings allowed), 1 when a check fails, 2 on a bad config or model.
"""

from __future__ import annotations

import argparse
import sys

from golddiff.checks import CHECKS  # no torch until a check runs
from golddiff.config import accept_overrides


def add_arguments(p: argparse.ArgumentParser) -> None:
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--model",
        help="'smollm2-135m', 'tiny', 'small', a model directory, a .gguf file or a cached hub id "
        "(default: the config's)",
    )
    which.add_argument("--tiny", action="store_true", help="the built-in tiny model")
    p.add_argument("--config", help="a `golddiff train` YAML recipe (default: the built-in defaults)")
    p.add_argument("--dtype", choices=("fp32", "bf16", "fp16"), help="engine and learner compute dtype")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument(
        "--engine", choices=("builtin", "vllm"), help="the actors' engine to check (default: the config's)"
    )
    p.add_argument("--only", help=f"comma-separated checks to run ({','.join(CHECKS)})")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print only the JSON line")
    p.epilog = "Override any config key with --a.b=value, e.g. --rl.temperature=0.7."
    accept_overrides(p)


def _setup(args: argparse.Namespace):
    """(config, model name, checks) from the arguments; ValueError with a message when they are wrong."""
    from golddiff.rl.config import load_train_config

    cfg = load_train_config(args.config, list(getattr(args, "overrides", [])))
    name = "tiny" if args.tiny else (args.model or cfg.model.name)
    only = tuple(c.strip() for c in args.only.split(",")) if args.only else CHECKS
    unknown = [c for c in only if c not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; choose from {', '.join(CHECKS)}")
    if (args.engine or cfg.actors.engine) == "vllm":
        from golddiff.engine.vllm.install import VLLMUnavailable, import_vllm

        try:
            import_vllm()
        except VLLMUnavailable as e:
            raise ValueError(str(e)) from None
    return cfg, name, only


def _load(name: str, device: str, seed: int):
    """(model, tokenizer): the learner's fp32 master weights on `device`; ValueError when they cannot be had."""
    import torch

    from golddiff.models import load_model

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda but no CUDA device is visible")
    try:
        return load_model(name, torch.float32, device, seed)
    except OSError as e:
        raise ValueError(f"cannot load model {name!r}: {e}") from None


def run(args: argparse.Namespace) -> int:
    try:
        cfg, name, only = _setup(args)
        model, tokenizer = _load(name, args.device, cfg.model.seed)
    except ValueError as e:  # ConfigError included
        print(f"golddiff doctor: {e}", file=sys.stderr)
        return 2
    from golddiff.checks import run_checks, worst
    from golddiff.checks.common import dtype_name
    from golddiff.checks.report import render_table, results_json
    from golddiff.config import torch_dtype

    engine_dtype = dtype_name(torch_dtype(args.dtype or cfg.model.dtype))
    learner_dtype = dtype_name(torch_dtype(args.dtype or cfg.model.learner_dtype))
    dtypes = {"engine_dtype": engine_dtype, "learner_dtype": learner_dtype}
    engine = args.engine or cfg.actors.engine
    results = run_checks(model, tokenizer, cfg, only=only, seed=args.seed, engine=engine, **dtypes)
    if not args.json:
        title = (
            f"golddiff doctor: {name} on {args.device}, {engine} engine {engine_dtype}, "
            f"learner {learner_dtype}"
        )
        render_table(results, title=title)
    print(results_json(results, model=name, device=args.device, engine=engine, **dtypes))
    return 1 if worst([r.status for r in results]) == "fail" else 0
