"""Plan how to shard the learner on a cluster: which layout, why, and what limit binds.

`golddiff plan --model 70 --gpus 1024 --gpu h100 --seq-len 8192 --global-batch-tokens 512k` enumerates
every layout of the GPUs over FSDP (shard and replicate groups), tensor parallel (inside a node), pipeline
parallel and context parallel (`golddiff.sim.layouts` has the cost of each), checks each one's memory
per GPU and its batch (a sequence is indivisible across data-parallel ranks, so a layout with more
data-parallel ranks than the batch has sequences is infeasible), and recommends:
- among feasible layouts whose communication hides under compute, the simplest (FSDP first, then HSDP, TP,
  PP, CP, then combinations), the fastest of that kind;
- when none hides, the fastest feasible layout;
and names the binding constraint (`binding`, and in words in `reason`; `golddiff.sim.explain`): `memory`
(plain FSDP over all GPUs does not fit), `batch_floor` (fewer sequences than GPUs: plain FSDP would leave
GPUs without work), `crossover` (plain FSDP fits and has work everywhere, but too few tokens per GPU per
all-gather to hide its collectives), or `none` (plain FSDP hides). CPU only, no torch; `--json` for
machines. The command lives in `golddiff/commands/plan.py`; the assumptions (`Settings`) and the roofline
arithmetic with its sources in `golddiff.sim.roofline`; GPU figures in `golddiff.sim.hardware`, model
shapes in `golddiff.sim.shapes`.
"""

from __future__ import annotations

import math
from dataclasses import asdict

from golddiff.sim.explain import binding_constraint, considered, explain, notes
from golddiff.sim.hardware import Hardware
from golddiff.sim.layouts import LayoutPlan, Plan, best_per_kind, candidate_layouts, evaluate, sequences
from golddiff.sim.roofline import Settings, fsdp_crossover
from golddiff.sim.shapes import ModelShape

__all__ = ["Plan", "Settings", "layout_dict", "make_plan", "plan_to_dict", "recommend"]


def make_plan(model: ModelShape, hw: Hardware, s: Settings) -> Plan:
    if s.gpus < 1 or s.global_batch_tokens < 1 or s.seq_len < 1:
        raise ValueError("gpus, seq_len and global_batch_tokens must be positive")
    layouts = [evaluate(model, hw, s, lay) for lay in candidate_layouts(model, hw, s)]
    crossover, simple = fsdp_crossover(model, hw, s)
    per_gpu = s.seq_len * max(1, math.ceil(crossover / s.seq_len))  # whole sequences above the crossover
    plan = Plan(
        model, hw, s, sequences(s), s.global_batch_tokens / s.gpus, crossover, simple, s.gpus * per_gpu,
        layouts, recommend(layouts),
    )  # fmt: skip
    plan.binding = binding_constraint(plan)
    plan.reason = explain(plan)
    plan.notes = notes(plan)
    return plan


def recommend(layouts: list[LayoutPlan]) -> LayoutPlan | None:
    """Among feasible layouts that hide their communication, the simplest kind, fastest of it; when none
    hides, the fastest feasible one (within 1%, the simpler); None when no layout is feasible."""
    feasible = [lp for lp in layouts if lp.feasible]
    hiding = [lp for lp in feasible if lp.hides]
    if hiding:
        simplest = min(lp.layout.complexity for lp in hiding)
        kind = [lp for lp in hiding if lp.layout.complexity == simplest]
        return min(
            kind, key=lambda lp: (lp.step_s, lp.layout.replicate, lp.layout.tp, lp.layout.pp, lp.layout.cp)
        )
    if not feasible:
        return None
    fastest = min(lp.step_s for lp in feasible)
    close = [lp for lp in feasible if lp.step_s <= fastest * 1.01]
    return min(close, key=lambda lp: (lp.layout.complexity, lp.step_s))


def layout_dict(lp: LayoutPlan | None) -> dict | None:
    if lp is None:
        return None
    out = asdict(lp)
    out["layout"] |= {"kind": lp.layout.kind, "dp": lp.layout.dp}
    return out | {"label": lp.layout.label}


def plan_to_dict(plan: Plan) -> dict:
    """The plan as JSON-ready data; `layouts` holds the best layout of each kind (`considered` counts all)."""
    return {
        "model": asdict(plan.model),
        "hardware": asdict(plan.hardware),
        "settings": plan.settings.model_dump(),
        "sequences": plan.sequences,
        "tokens_per_gpu": plan.tokens_per_gpu,
        "crossover_tokens": plan.crossover_tokens,
        "crossover_simple_tokens": plan.crossover_simple_tokens,
        "batch_floor_tokens": plan.batch_floor_tokens,
        "recommended": layout_dict(plan.recommended),
        "binding": plan.binding,
        "reason": plan.reason,
        "notes": plan.notes,
        "considered": considered(plan),
        "layouts": [layout_dict(lp) for lp in best_per_kind(plan.layouts)],
    }
