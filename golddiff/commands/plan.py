"""`golddiff plan`: how to shard the learner on a cluster (FSDP, HSDP, TP, PP, CP and their mixes), and why.

    golddiff plan --model 7 --gpus 512 --gpu h100 --seq-len 8192 --global-batch-tokens 4M
    golddiff plan --model 70 --gpus 1024 --gpu h100 --seq-len 8192 --global-batch-tokens 512k
    golddiff plan --model path/to/config.json --gpus 64 --global-batch-tokens 1M --json

Prints the best layout of each kind (memory per GPU, compute, bubble and communication per optimizer step,
feasible or why not), the recommendation with the binding constraint (memory, the crossover or the batch
floor) and its reason; `--json` prints the whole plan as JSON instead. Exit code 0 with a recommendation,
1 when no layout is feasible, 2 on bad input. The planner is `golddiff/sim/plan.py`, the cost of each layout
`golddiff/sim/layouts.py`, the arithmetic and its sources `golddiff/sim/roofline.py`; hardware figures in
golddiff/data/hardware.yaml (read by `golddiff/sim/hardware.py`).
"""

from __future__ import annotations

import argparse
import json
import sys

_SUFFIX = {"k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6, "g": 1e9, "G": 1e9}


def tokens(text: str) -> int:
    """'4M', '512k', '1048576' -> tokens."""
    try:
        return int(float(text[:-1]) * _SUFFIX[text[-1]]) if text[-1] in _SUFFIX else int(float(text))
    except (ValueError, IndexError):
        raise argparse.ArgumentTypeError(
            f"expected a token count like 4M, 512k or 1048576, got {text!r}"
        ) from None


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", required=True, help="size in billions of parameters (7, 70B) or an HF config.json"
    )
    p.add_argument("--gpus", type=int, required=True, help="GPUs for the learner")
    p.add_argument("--gpu", default="h100", help="h100, h200, a100, or a name from --hardware (default h100)")
    p.add_argument("--seq-len", type=int, default=8192, help="sequence length in tokens (default 8192)")
    p.add_argument(
        "--global-batch-tokens", type=tokens, required=True, help="tokens per optimizer step (4M, 512k, ...)"
    )
    p.add_argument(
        "--interconnect", help="scale-out fabric: ndr400, hdr200, roce400, eth100, ... or Gbit/s per GPU"
    )
    p.add_argument(
        "--hardware", help="YAML file with more `gpus:` entries (format of golddiff/data/hardware.yaml)"
    )
    p.add_argument(
        "--hw", action="append", default=[], metavar="FIELD=VALUE", help="override one hardware figure"
    )
    p.add_argument(
        "--mfu", type=float, default=0.40, help="achievable share of peak bf16 FLOP/s (default 0.40)"
    )
    p.add_argument(
        "--bw-efficiency", type=float, default=0.80, help="achievable share of link bandwidth (0.80)"
    )
    p.add_argument("--reduce-dtype", choices=("fp32", "bf16"), default="fp32", help="gradient reduce dtype")
    p.add_argument(
        "--no-master-weights", action="store_true", help="bf16 params and grads, no fp32 master copy"
    )
    p.add_argument("--json", action="store_true", help="print the plan as JSON")


def _overrides(pairs: list[str]) -> dict[str, float]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise ValueError(f"--hw {pair!r}: expected FIELD=VALUE")
        out[key.strip()] = float(value)
    return out


def build_plan(args: argparse.Namespace):
    from golddiff.sim.hardware import load_hardware
    from golddiff.sim.plan import Settings, make_plan
    from golddiff.sim.shapes import resolve_model

    hw = load_hardware(args.gpu, args.hardware, _overrides(args.hw), args.interconnect)
    settings = Settings(
        gpus=args.gpus,
        seq_len=args.seq_len,
        global_batch_tokens=args.global_batch_tokens,
        mfu=args.mfu,
        bw_efficiency=args.bw_efficiency,
        reduce_dtype=args.reduce_dtype,
        master_weights=not args.no_master_weights,
    )
    return make_plan(resolve_model(args.model), hw, settings)


def _gb(x: float) -> str:
    return f"{x / 1e9:.1f}"


def _why_not(lp, sequences: int) -> str:
    """ "yes", or what makes the layout infeasible: the batch (more data-parallel ranks than sequences), memory."""
    reasons = [word for word, bad in (("batch", lp.layout.dp > sequences), ("memory", not lp.fits)) if bad]
    return "no: " + ", ".join(reasons) if reasons else "yes"


def print_plan(plan) -> None:
    from rich.console import Console
    from rich.table import Table

    from golddiff.sim.explain import BINDING_WORDS
    from golddiff.sim.layouts import best_per_kind

    console, s, m, hw = (
        Console(width=None if sys.stdout.isatty() else 180),
        plan.settings,
        plan.model,
        plan.hardware,
    )
    console.print(
        f"[bold]{m.name}[/]: {m.params / 1e9:.2f}B params, {m.layers} layers, hidden {m.hidden}, "
        f"on {s.gpus} x {hw.name} ({hw.gpus_per_node} per node), {s.global_batch_tokens:,} tokens per step "
        f"= {plan.sequences:,} sequences of {s.seq_len:,} = {plan.tokens_per_gpu:,.0f} tokens per GPU"
    )
    table = Table(title="best layout of each kind (memory in GB per GPU, time in s per optimizer step)")
    names = (
        "layout",
        "",
        "seqs/rank",
        "microbatch",
        "ckpt",
        "states",
        "act",
        "total",
        "compute",
        "bubble",
        "comm",
        "step",
    )
    for name in names:
        table.add_column(name, justify="left" if name in ("layout", "") else "right", no_wrap=True)
    table.add_column("hides", justify="center")
    table.add_column("feasible", no_wrap=True)
    for lp in best_per_kind(plan.layouts):
        mem = lp.memory
        states = mem["weights"] + mem["grads"] + mem["optimizer"]
        style = "bold green" if lp is plan.recommended else ("dim" if not lp.feasible else None)
        table.add_row(
            lp.layout.kind.upper(), lp.layout.label, str(lp.sequences_per_rank), f"{lp.microbatch_tokens:,} x{lp.microbatches}",
            "yes" if lp.checkpointing else "no", _gb(states), _gb(mem["activations"] + mem["logits"]),
            _gb(sum(mem.values())), f"{lp.compute_s - lp.bubble_s:.3g}", f"{lp.bubble_s:.2g}" if lp.bubble_s else "",
            f"{lp.overlapped_comm_s:.3g}" + (f"+{lp.exposed_comm_s:.2g}" if lp.exposed_comm_s else ""),
            f"{lp.step_s:.3g}", "yes" if lp.hides else "no", _why_not(lp, plan.sequences), style=style,
        )  # fmt: skip
    console.print(table)
    _print_memory(console, plan)
    console.print(f"[bold]recommended:[/] {plan.reason}")
    console.print(f"[bold]binding constraint:[/] {BINDING_WORDS[plan.binding]}")
    for note in plan.notes:
        console.print(f"  note: {note}")


def _print_memory(console, plan) -> None:
    rec = plan.recommended
    if rec is None:
        return
    mem, usable = rec.memory, plan.settings.usable_memory * plan.hardware.hbm_bytes
    weights = "fp32 master" if plan.settings.master_weights else "bf16"
    parts = [
        f"weights ({weights}, sharded, + gathered bf16) {_gb(mem['weights'])}",
        f"grads {_gb(mem['grads'])}",
        f"Adam m+v fp32 {_gb(mem['optimizer'])}",
        f"activations ({'checkpointed' if rec.checkpointing else 'kept'}) {_gb(mem['activations'])}",
        f"logits {_gb(mem['logits'])}",
    ]
    console.print(
        f"memory per GPU for {rec.layout.kind.upper()} ({rec.layout.label}): "
        + ", ".join(parts)
        + f" = {_gb(sum(mem.values()))} of {_gb(usable)} GB usable; without checkpointing "
        f"{_gb(rec.memory_no_ckpt_bytes)}, with {_gb(rec.memory_ckpt_bytes)}"
    )


def run(args: argparse.Namespace) -> int:
    from golddiff.sim.plan import plan_to_dict

    try:
        plan = build_plan(args)
    except (OSError, ValueError) as e:
        print(f"golddiff plan: {e}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(plan_to_dict(plan), indent=1))
    else:
        print_plan(plan)
    return 0 if plan.recommended is not None else 1
