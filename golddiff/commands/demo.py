"""`golddiff demo [--out DIR]`: logs → tasks → SFT → Pipeline RL → held-out eval → report.html, on CPU.

The defaults fit a fresh 2-core machine in under 10 minutes; every stage budget is a flag (see
`golddiff.demo.DemoSettings`). Ends with a table and one JSON line: `heldout_reward_sft`,
`heldout_reward_rl` with their 95% CIs, the paired RL − SFT difference, `heldout_n`, `minutes`, stage
seconds. `--no-rl` stops after SFT (the JSON line then has no RL figures).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    from golddiff.demo import DemoSettings

    d = DemoSettings()
    p.add_argument("--out", type=Path, default=d.out, help=f"output folder (default {d.out})")
    budgets = p.add_argument_group("stage budgets")
    helps = {
        "bugs": "bug-fix episodes mined from the standard library",
        "fn_lines": "longest function to mine, in lines",
        "fn_chars": "longest function to mine, in characters",
        "threads": "torch threads of the SFT stage (1 on a busy machine)",
        "heldout": "share of functions held out for evaluation",
        "max_len": "tokens of prompt + answer everywhere (tasks longer are left out)",
        "sft_steps": "SFT optimizer steps",
        "sft_lr": "SFT peak learning rate",
        "sft_batch": "SFT batch size",
        "sft_autocast": "SFT bf16 autocast: auto (where the CPU has bf16), bf16 or off",
        "rl_steps": "Pipeline RL optimizer steps",
        "rl_lr": "RL learning rate",
        "rl_group": "RL samples per prompt (G)",
        "rl_prompts": "RL prompts per step (P)",
        "rl_max_new_tokens": "RL answer length cap",
        "rl_temperature": "RL sampling temperature (the eval uses the same)",
        "eval_samples": "answers sampled per held-out task",
        "eval_tasks": "held-out tasks evaluated (the first N)",
        "eval_max_new_tokens": "eval answer length cap",
        "seed": "seed of mining, split, SFT, RL and sampling",
    }
    for name in DemoSettings.model_fields:
        if name in helps:
            flag = "--" + name.replace("_", "-")
            budgets.add_argument(
                flag,
                type=type(getattr(d, name)),
                default=getattr(d, name),
                help=f"{helps[name]} (default {getattr(d, name)})",
            )
    p.add_argument("--no-rl", action="store_true", help="skip the RL stage (SFT and its evaluation only)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress, just the JSON line")


def run(args: argparse.Namespace) -> int:
    from golddiff.demo import DemoSettings, run_demo

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no tqdm bars from model loading/saving
    values = {name: getattr(args, name) for name in DemoSettings.model_fields if hasattr(args, name)}
    settings = DemoSettings(**values | {"rl": not args.no_rl, "quiet": args.quiet})
    try:
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

    table = Table(title="golddiff demo: held-out results (mean over tasks, 95% CI)")
    for col in ("model", "reward", "95% CI", "exact", "applies", "format errors", "SWE-RL"):
        table.add_column(col, justify="left" if col == "model" else "right")
    for name in ("sft", "rl"):
        if f"heldout_reward_{name}" not in summary:
            continue
        lo, hi = summary[f"heldout_reward_{name}_ci95"]
        table.add_row(
            f"after {name.upper()}",
            f"{summary[f'heldout_reward_{name}']:.3f}",
            f"[{lo:.3f}, {hi:.3f}]",
            f"{summary[f'heldout_exact_{name}']:.3f}",
            f"{summary[f'heldout_applied_{name}']:.3f}",
            f"{summary[f'heldout_format_error_{name}']:.3f}",
            f"{summary[f'heldout_swerl_{name}']:.3f}",
        )
    if "rl_minus_sft" in summary:
        lo, hi = summary["rl_minus_sft_ci95"]
        table.add_row(
            "RL − SFT (paired)", f"{summary['rl_minus_sft']:+.3f}", f"[{lo:+.3f}, {hi:+.3f}]", "", "", "", ""
        )
    console = Console(stderr=True)
    console.print(table)
    console.print(summary["verdict"])
    stages = ", ".join(f"{k} {v:.0f}s" for k, v in summary["stage_seconds"].items())
    console.print(
        f"{summary['heldout_n']} held-out tasks; {summary['minutes']:.1f} minutes ({stages}); report: {out / 'report.html'}"
    )
