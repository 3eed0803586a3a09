"""The plan in words: which limit binds (`binding`), why the recommended layout (`reason`), and notes.

The binding constraint is what keeps plain FSDP over all GPUs, the default, from being the answer:
- `batch_floor`: the global batch has fewer sequences than there are GPUs; a sequence is indivisible
  across data-parallel ranks, so plain FSDP would leave GPUs without work, and tensor, pipeline or context
  parallelism must split each sequence over several GPUs;
- `memory`: plain FSDP does not fit in a GPU's memory even with activation checkpointing;
- `crossover`: it fits and every GPU has a sequence, but it has too few tokens per GPU per all-gather for
  its collectives to hide under compute;
- `none`: plain FSDP hides its communication.
Used by `golddiff.sim.plan.make_plan`; no torch.
"""

from __future__ import annotations

from golddiff.sim.layouts import LayoutPlan, Plan

BINDING_WORDS = {
    "none": "none",
    "memory": "memory",
    "crossover": "the crossover",
    "batch_floor": "the batch floor",
}


def binding_constraint(plan: Plan) -> str:
    """What keeps plain FSDP over all GPUs from being the answer: the batch (fewer sequences than GPUs),
    memory (it does not fit), the crossover (its collectives do not hide); "none" when it hides."""
    fsdp, rec, s = plan.fsdp, plan.recommended, plan.settings
    if rec is None:
        return "memory" if any(lp.layout.dp <= plan.sequences for lp in plan.layouts) else "batch_floor"
    if rec is fsdp and rec.hides:
        return "none"
    if plan.sequences < s.gpus:
        return "batch_floor"
    return "memory" if not fsdp.fits else "crossover"


def max_fsdp_gpus(plan: Plan) -> int:
    """GPUs over which plain FSDP would hide at this batch (whole sequences above the crossover each)."""
    per_gpu = plan.batch_floor_tokens / plan.settings.gpus
    return max(1, int(plan.settings.global_batch_tokens // per_gpu))


def explain(plan: Plan) -> str:
    s, hw, rec, fsdp = plan.settings, plan.hardware, plan.recommended, plan.fsdp
    where = "NVLink" if s.gpus <= hw.gpus_per_node else "inter-node"
    cross = (
        f"the FSDP crossover on {s.gpus} GPUs is {plan.crossover_tokens:,.0f} tokens per GPU per all-gather "
        f"(compute rate ÷ {where} bandwidth; book form C/W = {plan.crossover_simple_tokens:,.0f})"
    )
    if plan.binding == "none":
        return (
            f"FSDP over all {s.gpus} GPUs: {fsdp.microbatch_tokens:,} tokens per GPU per all-gather is above the "
            f"crossover, so its collectives ({fsdp.overlapped_comm_s:.3g} s/step) hide under compute "
            f"({fsdp.compute_s:.3g} s/step); no limit binds: it fits in memory and the batch's "
            f"{plan.sequences:,} sequences give every GPU work; {cross}."
        )
    floor = (
        f"the batch floor for plain FSDP on {s.gpus} GPUs is {plan.batch_floor_tokens:,.0f} tokens per step "
        f"({plan.batch_floor_tokens / s.seq_len:,.0f} sequences of {s.seq_len:,}), or at most "
        f"{max_fsdp_gpus(plan):,} GPUs at this batch"
    )
    binds = f"Binding constraint: {BINDING_WORDS[plan.binding]}. {_binding_detail(plan)}"
    tail = f"{cross[0].upper()}{cross[1:]}; {floor}."
    if rec is None:
        usable = s.usable_memory * hw.hbm_bytes / 1e9
        return (
            f"No feasible layout: none fits in {usable:.0f} GB per GPU with a sequence for every data-parallel "
            f"rank; add GPUs, shorten sequences or drop the fp32 master weights. {binds} {tail}"
        )
    pure = rec.compute_s - rec.bubble_s
    lost = f" + {rec.bubble_s:.3g} s pipeline bubble" if rec.bubble_s else ""
    comm = f"{rec.overlapped_comm_s + rec.exposed_comm_s:.3g} s comm{lost} vs {pure:.3g} s compute, {rec.step_s:.3g} s/step"
    if rec.hides:
        head = f"{rec.layout.kind.upper()} ({rec.layout.label}) hides its communication ({comm})."
    else:
        head = (
            f"{rec.layout.kind.upper()} ({rec.layout.label}) is the fastest feasible layout, but no layout hides "
            f"its communication ({comm}; {_losses(rec)})."
        )
    return f"{head} {binds} {tail}"


def _binding_detail(plan: Plan) -> str:
    s, fsdp, n = plan.settings, plan.fsdp, plan.sequences
    if plan.binding == "batch_floor":
        return (
            f"{s.global_batch_tokens:,} tokens per step are {n:,} sequences of {s.seq_len:,} for {s.gpus:,} GPUs; a "
            f"sequence is indivisible across data-parallel ranks, so plain FSDP would leave {s.gpus - n:,} GPUs "
            f"without one: at most {n:,} data-parallel ranks, and tensor, pipeline or context parallelism splits "
            "each sequence over the other GPUs."
        )
    if plan.binding == "memory":
        usable = plan.settings.usable_memory * plan.hardware.hbm_bytes / 1e9
        return (
            f"FSDP over all {s.gpus} GPUs needs {sum(fsdp.memory.values()) / 1e9:.1f} GB per GPU at best "
            f"(activation checkpointing, one sequence per microbatch) of {usable:.1f} GB usable."
        )
    return (
        f"FSDP would spend {fsdp.overlapped_comm_s:.3g} s/step communicating against {fsdp.compute_s:.3g} s of "
        f"compute: {fsdp.microbatch_tokens:,} tokens per GPU per all-gather is below the crossover."
    )


def _losses(lp: LayoutPlan) -> str:
    """Where the step's time beyond pure compute goes."""
    pure = lp.compute_s - lp.bubble_s
    parts = {
        "pipeline bubble": lp.bubble_s,
        "FSDP/PP communication beyond compute": max(0.0, lp.overlapped_comm_s - lp.compute_s),
        "exposed TP/CP communication": lp.exposed_comm_s,
    }
    shown = [f"{name} {seconds / pure:.0%}" for name, seconds in parts.items() if seconds > 0.005 * pure]
    return "time over pure compute: " + (", ".join(shown) if shown else "none")


def considered(plan: Plan) -> dict[str, int]:
    """How many layouts were looked at, and why the infeasible ones are."""
    return {
        "layouts": len(plan.layouts),
        "feasible": sum(lp.feasible for lp in plan.layouts),
        "too_few_sequences": sum(lp.layout.dp > plan.sequences for lp in plan.layouts),
        "out_of_memory": sum(not lp.fits for lp in plan.layouts),
    }


def notes(plan: Plan) -> list[str]:
    s, rec, notes = plan.settings, plan.recommended, []
    if s.global_batch_tokens % s.seq_len:
        notes.append(
            f"{s.global_batch_tokens:,} tokens is not a whole number of {s.seq_len:,}-token sequences: the last one is shorter"
        )
    if rec is not None and plan.sequences % rec.layout.dp:
        fewer = rec.layout.dp - plan.sequences % rec.layout.dp
        notes.append(
            f"{plan.sequences:,} sequences over {rec.layout.dp:,} data-parallel ranks: {fewer:,} ranks get "
            f"{rec.sequences_per_rank - 1} instead of {rec.sequences_per_rank}, and wait for the others"
        )
    if rec is not None and rec.layout.pp > 1:
        notes.append(
            f"pipeline: {rec.microbatches} microbatch(es) through {rec.layout.pp} stages (1F1B) idle "
            f"{rec.bubble_s / rec.compute_s:.0%} of the step in the bubble; an interleaved schedule (not modelled) shrinks it"
        )
    fastest = min((lp for lp in plan.layouts if lp.feasible), key=lambda lp: lp.step_s, default=None)
    if rec is not None and fastest is not None and fastest.step_s < 0.9 * rec.step_s:
        notes.append(
            f"fastest layout: {fastest.layout.kind.upper()} ({fastest.layout.label}), {fastest.step_s:.3g} s/step vs "
            f"{rec.step_s:.3g} s, at the cost of a less simple layout"
            + ("" if fastest.checkpointing else " (it needs no activation checkpointing)")
        )
    count = considered(plan)
    notes.append(
        f"{count['layouts']:,} layouts considered: {count['feasible']:,} feasible, {count['too_few_sequences']:,} with "
        f"more data-parallel ranks than the batch's {plan.sequences:,} sequences, {count['out_of_memory']:,} out of memory"
    )
    notes.append(
        f"assumes {s.mfu:.0%} of peak FLOP/s, {s.bw_efficiency:.0%} of nominal link bandwidth, grads reduced in "
        f"{s.reduce_dtype}, {'fp32 master weights' if s.master_weights else 'bf16 weights, no master copy'}"
    )
    return notes
