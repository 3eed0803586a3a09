"""`golddiff demo [--out DIR] [--model smollm2-135m|tiny|PATH]`: logs → tasks → SFT → Pipeline RL →
held-out eval of the base, SFT and RL checkpoints → report.html, on CPU.

Every stage budget is a flag (see
`golddiff.demo.DemoSettings`; unset budgets take the model's defaults). Ends with a table and one JSON
line (`golddiff.demo.summary`): per checkpoint `heldout_{applied,exact,abstain,reward}_<name>` with CIs,
`rl_minus_sft_applied_ci95`, `rl_minus_sft_exact_ci95`, `model`, `verdict`, `heldout_n`, `minutes`,
stage seconds. `--no-rl` stops after SFT (the JSON line then has no RL figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from golddiff.demo import PROFILES, DemoSettings

    d = DemoSettings()
    p.add_argument("--out", type=Path, default=d.out, help=f"output folder (default {d.out})")
    p.add_argument(
        "--model",
        default=d.model,
        help="model to train: smollm2-135m (default), tiny (the byte-level test model), a directory, a .gguf "
        "file or a hub id; budgets left unset take the model's defaults",
    )
    budgets = p.add_argument_group("stage budgets (defaults: smollm2-135m / tiny)")
    helps = {
        "edits": "stated-edit requests mined from the standard library",
        "bugs": "bug-fix episodes mined from the standard library",
        "fn_lines": "longest function to mine, in lines",
        "fn_chars": "longest function to mine, in characters",
        "threads": "torch threads of SFT and evaluation (1 on a busy machine)",
        "heldout": "share of functions held out for evaluation",
        "max_len": "tokens of prompt + answer everywhere (tasks longer are left out)",
        "answer_tokens": "tasks whose gold answer is longer (tokens) are left out",
        "sft_steps": "SFT optimizer steps",
        "sft_lr": "SFT peak learning rate",
        "sft_batch": "SFT batch size",
        "sft_autocast": "SFT bf16 autocast: auto (where the CPU has bf16), bf16 or off",
        "sft_train_layers": "SFT trains the top N decoder layers (0: all)",
        "rl_steps": "Pipeline RL optimizer steps",
        "rl_lr": "RL learning rate",
        "rl_group": "RL samples per prompt (G)",
        "rl_prompts": "RL prompts per step (P)",
        "rl_max_new_tokens": "RL answer length cap",
        "rl_temperature": "RL sampling temperature",
        "rl_train_layers": "RL trains the top N decoder layers (0: all)",
        "rl_no_edit": "RL reward of an answer with no edit (-1: fails like a broken one)",
        "rl_unfinished": "RL reward of an answer cut off at the length cap (-1: fails like a broken one; None: scored as if finished)",
        "rl_reward_power": "RL scores a positive reward v as v ** power (>= 1; the order of answers stays)",
        "eval_samples": "answers sampled per held-out task",
        "eval_tasks": "held-out tasks evaluated (the first N)",
        "eval_temperature": "eval sampling temperature (the same for every checkpoint)",
        "eval_max_new_tokens": "eval answer length cap",
        "seed": "seed of mining, split, SFT, RL and sampling",
    }
    tiny = DemoSettings(model="tiny")
    for name in DemoSettings.model_fields:
        if name not in helps:
            continue
        flag = "--" + name.replace("_", "-")
        value = getattr(d, name)
        default = f"{value} / {getattr(tiny, name)}" if name in PROFILES["tiny"] else f"{value}"
        budgets.add_argument(flag, type=type(value), default=None, help=f"{helps[name]} (default {default})")
    p.add_argument("--no-base-eval", action="store_true", help="do not evaluate the model before training")
    p.add_argument("--no-rl", action="store_true", help="skip the RL stage (SFT and its evaluation only)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, just the JSON line")


def run(args: argparse.Namespace) -> int:
    from golddiff.demo import DemoSettings, run_demo

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars from model loading/saving
    given = {name: getattr(args, name, None) for name in DemoSettings.model_fields}
    values = {k: v for k, v in given.items() if v is not None}
    flags = {"rl": not args.no_rl, "base_eval": not args.no_base_eval, "quiet": args.quiet}
    try:
        settings = DemoSettings(**values | flags)
        result = run_demo(settings)
    except (ValueError, RuntimeError) as e:
        print(f"golddiff demo: {e}", file=sys.stderr)
        return 1
    if not args.quiet:
        print_summary(result.summary, settings.out)
    print(json.dumps(result.summary))
    return 0


def print_summary(summary: dict, out: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    from golddiff.demo.summary import NAMES

    table = Table(title=f"golddiff demo, {summary['model']}: held-out results (mean over tasks, 95% CI)")
    for col in ("checkpoint", "applies", "exact", "no edit", "format errors", "reward"):
        table.add_column(col, justify="left" if col == "checkpoint" else "right")

    def cell(metric: str, name: str) -> str:
        value = summary[f"heldout_{metric}_{name}"]
        ci = summary.get(f"heldout_{metric}_{name}_ci95")
        return f"{value:.3f}" + (f" [{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")

    for name, label in NAMES.items():
        if f"heldout_reward_{name}" in summary:
            metrics = ("applied", "exact", "abstain", "format_error", "reward")
            table.add_row(label, *(cell(m, name) for m in metrics))

    def diff(key: str) -> str:
        lo, hi = summary[f"{key}_ci95"]
        return f"{summary[key]:+.3f} [{lo:+.3f}, {hi:+.3f}]"

    for after, before in (("sft", "base"), ("rl", "sft")):
        key = f"{after}_minus_{before}"  # the reward's difference; the shares' have a _<metric> suffix
        if key in summary:
            shares = (diff(f"{key}_{m}") for m in ("applied", "exact", "abstain"))
            table.add_row(f"{after.upper()} − {before} (paired)", *shares, "", diff(key))
    console = Console(stderr=True)
    console.print(table)
    console.print(summary["verdict"])
    stages = ", ".join(f"{k} {v:.0f}s" for k, v in summary["stage_seconds"].items())
    console.print(
        f"{summary['heldout_n']} held-out tasks; {summary['minutes']:.1f} minutes ({stages}); report: {out / 'report.html'}"
    )
