"""Plan how to shard the learner on a cluster: compute, memory and communication of each layout.

`golddiff plan --model 7 --gpus 512 --gpu h100 --seq-len 8192 --global-batch-tokens 4M` prints, for
FSDP, HSDP, FSDP+TP and FSDP+PP, the per-GPU memory (weights, grads, Adam state, activations with and
without checkpointing), the compute time per optimizer step and the communication time, and recommends the
simplest layout whose communication hides under compute (FSDP first), naming the crossover. CPU only,
no torch; `--json` for machines. The command lives in `golddiff/commands/plan.py`; GPU figures are in
`golddiff.sim.hardware`, model shapes in `golddiff.sim.shapes`.

The arithmetic follows public rooflines:
- "How to Scale Your Model" (jax-ml/scaling-book), gpus.md, "Rooflines for LLM Scaling on GPUs": an
  all-gather or reduce-scatter of B bytes costs B·(n-1)/(n·W); beyond a node the node's egress bounds it,
  T = max(intra-node term, scale-out term). FSDP hides when tokens per GPU > C / W (the crossover; on H100
  about 2,200 tokens within a node and 2,475 across nodes at 100% of peak). TP inside a node does not cut
  FSDP's cross-node cost; model parallelism that spans nodes (PP) does. PP communication is tiny, its cost
  is the bubble and per-microbatch all-gathers, so with PP the stage keeps its weights gathered.
- torchtitan docs/fsdp.md: FSDP2 `reshard_after_forward=True` is ZeRO-3 (re-gather in backward), a 2D mesh
  is HSDP (shard inside a group, replicate across groups); FSDP2's `set_requires_all_reduce(False)` lets
  HSDP reduce-scatter per microbatch and all-reduce across replicas once per step. Mesh order (outer to
  inner) is pp, dp_replicate, dp_shard, tp: TP stays inside a node.
- Training FLOPs: 6·params·tokens (Kaplan et al. 2020) plus causal attention, 6·layers·seq·hidden per token;
  full activation checkpointing recomputes the forward (+2·params per token).
- Activation bytes per token per layer (Korthikanti et al. 2022, "Reducing Activation Recomputation"),
  redone for a Llama/Qwen block with flash attention and SwiGLU in bf16: 12·hidden + 4·kv_dim + 6·ffn; with
  full checkpointing only the layer input (2·hidden) is kept, plus one layer's worth while recomputing.
- Model state per parameter (ZeRO, Rajbhandari et al. 2020): fp32 master weights 4 + fp32 grads 4 + Adam
  m and v 8 = 16 bytes, sharded; without master weights bf16 params 2 + bf16 grads 2 + Adam 8 = 12.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from pydantic import ConfigDict

from golddiff.config import DTYPE_BYTES, Strict, parse_dtype
from golddiff.sim.hardware import Hardware
from golddiff.sim.shapes import ModelShape

KINDS = ("fsdp", "hsdp", "fsdp+tp", "fsdp+pp")  # simplest first: the order the recommendation tries


class Settings(Strict):
    model_config = ConfigDict(frozen=True)

    gpus: int
    seq_len: int
    global_batch_tokens: int
    mfu: float = 0.40  # achievable share of peak bf16 FLOP/s on the FLOPs the GPU does
    bw_efficiency: float = 0.80  # achievable share of nominal link bandwidth (scaling-book: ~370/450)
    reduce_dtype: str = "fp32"  # gradient reduce-scatter dtype (torchtitan's default: fp32)
    master_weights: bool = True  # fp32 master params + fp32 grads (16 B/param) or bf16 (12 B/param)
    usable_memory: float = 0.90  # share of HBM a job can use (CUDA context, allocator slack)
    attention_flops: bool = True
    hide_tolerance: float = 0.05  # "hides": overlapped comm under compute, TP comm + PP bubble within 5%


@dataclass(frozen=True)
class Layout:
    kind: str
    shard: int  # FSDP shard group size
    replicate: int = 1
    tp: int = 1
    pp: int = 1

    @property
    def label(self) -> str:
        parts = {"hsdp": f"shard {self.shard} x replicate {self.replicate}", "fsdp+tp": f"tp {self.tp}"}
        return parts.get(self.kind, f"pp {self.pp}" if self.kind == "fsdp+pp" else f"shard {self.shard}")


@dataclass
class LayoutPlan:
    layout: Layout
    fits: bool
    hides: bool
    checkpointing: bool
    microbatch_tokens: int
    microbatches: int
    compute_s: float
    overlapped_comm_s: float  # FSDP/HSDP collectives and PP sends: prefetched under compute
    exposed_comm_s: float  # TP collectives: on the critical path
    step_s: float
    memory: dict[str, float]  # bytes per GPU
    memory_no_ckpt_bytes: float
    memory_ckpt_bytes: float


@dataclass
class Plan:
    model: ModelShape
    hardware: Hardware
    settings: Settings
    tokens_per_gpu: float
    crossover_tokens: float
    crossover_simple_tokens: float  # C_eff / W: the book's rule, all bf16, attention ignored
    batch_floor_tokens: float
    layouts: list[LayoutPlan]
    recommended: LayoutPlan | None
    reason: str
    notes: list[str] = field(default_factory=list)


def flops_per_token(model: ModelShape, s: Settings, checkpointing: bool = False) -> float:
    dense = (8 if checkpointing else 6) * model.compute_params
    attention = 6 * model.layers * s.seq_len * model.hidden * (4 / 3 if checkpointing else 1)
    return dense + (attention if s.attention_flops else 0.0)


def collective_s_per_byte(hw: Hardware, s: Settings, n: int, per_node: int) -> float:
    """Seconds per byte of a ring all-gather/reduce-scatter over `n` GPUs, `per_node` of them per node
    (scaling-book gpus.md): max((k-1)/(k·W_nvlink), (M-1)/(M·k·W_nic)) with M = n/k nodes."""
    if n <= 1:
        return 0.0
    k = max(1, min(per_node, n))
    nodes = n / k
    intra = (k - 1) / k / (hw.intra_node_bandwidth * s.bw_efficiency)
    inter = (nodes - 1) / nodes / (k * hw.inter_node_bandwidth * s.bw_efficiency) if nodes > 1 else 0.0
    return max(intra, inter)


def _per_node(group: int, stride: int, gpus_per_node: int) -> int:
    """GPUs of a group per node when its members are `stride` apart (inner mesh dims fill nodes first)."""
    return max(1, min(group, gpus_per_node // stride)) if stride < gpus_per_node else 1


def activation_bytes_per_token_layer(model: ModelShape) -> float:
    """bf16 tensors a Llama/Qwen block keeps for backward, per token (see module docstring)."""
    return 12 * model.hidden + 4 * model.kv_dim + 6 * model.ffn


def memory_per_gpu(model: ModelShape, s: Settings, lay: Layout, mb: int, ckpt: bool, n_mb: int) -> dict:
    """Bytes per GPU: sharded model state, gathered bf16 weights, activations of in-flight microbatches."""
    shard_params = model.params / (lay.tp * lay.pp * lay.shard)
    param_bytes, grad_bytes = (4, 4) if s.master_weights else (2, 2)
    layer_params = model.params / model.layers / lay.tp
    gathered = 2 * model.params / (lay.tp * lay.pp) if lay.pp > 1 else 2 * 2 * layer_params  # 2 prefetched
    layers = model.layers / lay.pp
    in_flight = min(lay.pp, n_mb)  # 1F1B: the first stage holds pp microbatches
    per_token_layer = activation_bytes_per_token_layer(model) / lay.tp
    if ckpt:
        act = in_flight * mb * layers * 2 * model.hidden / lay.tp + mb * per_token_layer
    else:
        act = in_flight * mb * layers * per_token_layer
    return {
        "weights": shard_params * param_bytes + gathered,
        "grads": shard_params * grad_bytes,
        "optimizer": shard_params * 8,
        "activations": act,
        "logits": mb * model.vocab * (2 + 4) / lay.tp,  # bf16 logits + fp32 for the loss
    }


def _comm(model: ModelShape, hw: Hardware, s: Settings, lay: Layout, mb: int, n_mb: int, ckpt: bool):
    """(overlapped, exposed) communication seconds per optimizer step."""
    gpn, red = hw.gpus_per_node, DTYPE_BYTES[parse_dtype(s.reduce_dtype)]
    stage_params = model.params / (lay.tp * lay.pp)
    per_byte = collective_s_per_byte(hw, s, lay.shard, _per_node(lay.shard, lay.tp, gpn))
    all_gather, reduce_scatter = 2 * stage_params * per_byte, red * stage_params * per_byte
    if lay.pp > 1:  # weights stay gathered for the step: one all-gather, one reduce-scatter
        fsdp = all_gather + reduce_scatter
        stage_bw = hw.inter_node_bandwidth if lay.shard >= gpn else hw.intra_node_bandwidth
        fsdp += n_mb * 2 * 2 * mb * model.hidden / (stage_bw * s.bw_efficiency)
    else:  # ZeRO-3: gather for forward, again for backward, reduce-scatter grads: every microbatch
        fsdp = n_mb * (2 * all_gather + reduce_scatter)
    if lay.replicate > 1:  # HSDP: all-reduce (= 2x reduce-scatter) of each shard across replicas, per step
        stride = lay.shard * lay.tp
        per_byte_r = collective_s_per_byte(hw, s, lay.replicate, _per_node(lay.replicate, stride, gpn))
        all_reduce = 2 * red * stage_params / lay.shard * per_byte_r
        # a shard group inside a node talks over NVLink while the all-reduce uses the NICs: issued layer by
        # layer on separate streams, the busier link binds (scaling-book: T = max(node, scale-out))
        fsdp = max(fsdp, all_reduce) if stride <= gpn else fsdp + all_reduce
    exposed = 0.0
    if lay.tp > 1:  # sequence-parallel TP: all-gather + reduce-scatter around attention and MLP
        collectives = model.layers * (12 if ckpt else 8)
        bytes_each = 2 * mb * model.hidden
        exposed = n_mb * collectives * bytes_each * (lay.tp - 1) / lay.tp
        exposed /= hw.intra_node_bandwidth * s.bw_efficiency
    return fsdp, exposed


def evaluate(model: ModelShape, hw: Hardware, s: Settings, lay: Layout) -> LayoutPlan:
    """Best (microbatch, checkpointing) for this layout: the fastest that fits, else the smallest."""
    ranks = lay.shard * lay.replicate
    tokens_per_rank = s.global_batch_tokens / ranks
    options = [
        _option(model, hw, s, lay, mb, ckpt) for mb in _microbatches(s, tokens_per_rank) for ckpt in (0, 1)
    ]
    fitting = [o for o in options if o.fits]
    if fitting:
        return min(fitting, key=lambda o: (o.step_s, o.checkpointing, -o.microbatch_tokens))
    return min(options, key=lambda o: sum(o.memory.values()))


def _microbatches(s: Settings, tokens_per_rank: float) -> list[int]:
    if tokens_per_rank <= s.seq_len:
        return [max(1, math.ceil(tokens_per_rank))]
    sizes, mb = [], s.seq_len
    while mb <= tokens_per_rank:
        sizes.append(mb)
        mb *= 2
    return sizes


def _option(model, hw, s: Settings, lay: Layout, mb: int, ckpt: int) -> LayoutPlan:
    tokens_per_rank = s.global_batch_tokens / (lay.shard * lay.replicate)
    n_mb = max(1, math.ceil(tokens_per_rank / mb))
    bubble = (n_mb + lay.pp - 1) / n_mb  # 1F1B/GPipe: pp-1 idle slots per step
    tokens_per_gpu = s.global_batch_tokens / s.gpus
    compute = tokens_per_gpu * flops_per_token(model, s, bool(ckpt)) / (s.mfu * hw.peak_bf16_flops) * bubble
    overlapped, exposed = _comm(model, hw, s, lay, mb, n_mb, bool(ckpt))
    step = max(compute, overlapped) + exposed
    mem = memory_per_gpu(model, s, lay, mb, bool(ckpt), n_mb)
    no_ckpt = sum(memory_per_gpu(model, s, lay, mb, False, n_mb).values())
    with_ckpt = sum(memory_per_gpu(model, s, lay, mb, True, n_mb).values())
    fits = sum(mem.values()) <= s.usable_memory * hw.hbm_bytes
    pure = compute / bubble  # a PP bubble is lost time like exposed communication
    hides = overlapped <= compute and step <= pure * (1 + s.hide_tolerance)
    return LayoutPlan(
        lay, fits, hides, bool(ckpt), mb, n_mb, compute, overlapped, exposed, step, mem, no_ckpt, with_ckpt
    )


def candidate_layouts(gpus: int, gpus_per_node: int) -> list[Layout]:
    layouts = [Layout("fsdp", shard=gpus)]
    powers = [2**i for i in range(1, 16) if 2**i < gpus and gpus % 2**i == 0]
    layouts += [Layout("hsdp", shard=p, replicate=gpus // p) for p in powers]
    layouts += [Layout("fsdp+tp", shard=gpus // t, tp=t) for t in powers if t <= gpus_per_node]
    layouts += [Layout("fsdp+pp", shard=gpus // p, pp=p) for p in powers if p <= 16]
    return layouts


def fsdp_crossover(model: ModelShape, hw: Hardware, s: Settings) -> tuple[float, float]:
    """Tokens per GPU per all-gather below which FSDP's collectives over all GPUs cannot hide:
    (bytes moved per param · seconds per byte) ÷ (FLOPs per token per param ÷ achieved FLOP/s).
    Also the book's simple form C_eff / W_eff (bf16 everywhere, attention ignored)."""
    per_byte = collective_s_per_byte(hw, s, s.gpus, hw.gpus_per_node)
    rate = s.mfu * hw.peak_bf16_flops
    bytes_moved = (2 + 2 + DTYPE_BYTES[parse_dtype(s.reduce_dtype)]) * model.params
    exact = bytes_moved * per_byte * rate / flops_per_token(model, s)
    simple = rate * per_byte
    return exact, simple


def make_plan(model: ModelShape, hw: Hardware, s: Settings) -> Plan:
    if s.gpus < 1 or s.global_batch_tokens < 1 or s.seq_len < 1:
        raise ValueError("gpus, seq_len and global_batch_tokens must be positive")
    layouts = [evaluate(model, hw, s, lay) for lay in candidate_layouts(s.gpus, hw.gpus_per_node)]
    crossover, simple = fsdp_crossover(model, hw, s)
    tokens_per_gpu = s.global_batch_tokens / s.gpus
    recommended = _recommend(layouts)
    plan = Plan(model, hw, s, tokens_per_gpu, crossover, simple, crossover * s.gpus, layouts, recommended, "")
    plan.reason = explain(plan)
    plan.notes = _notes(plan)
    return plan


def _recommend(layouts: list[LayoutPlan]) -> LayoutPlan | None:
    """The simplest kind (FSDP, HSDP, FSDP+TP, FSDP+PP) with a layout that fits and hides; else the fastest."""
    for kind in KINDS:
        good = [lp for lp in layouts if lp.layout.kind == kind and lp.fits and lp.hides]
        if good:
            return min(good, key=lambda lp: (lp.step_s, lp.layout.replicate, lp.layout.tp, lp.layout.pp))
    fitting = [lp for lp in layouts if lp.fits]
    if not fitting:
        return None
    fastest = min(lp.step_s for lp in fitting)
    return next(lp for lp in fitting if lp.step_s <= fastest * 1.01)  # ties go to the simpler layout


def explain(plan: Plan) -> str:
    s, rec = plan.settings, plan.recommended
    fsdp = plan.layouts[0]
    where = "NVLink" if s.gpus <= plan.hardware.gpus_per_node else "inter-node"
    cross = (
        f"the FSDP crossover on {s.gpus} GPUs is {plan.crossover_tokens:,.0f} tokens per GPU per all-gather "
        f"(compute rate ÷ {where} bandwidth; book form C/W = {plan.crossover_simple_tokens:,.0f})"
    )
    if rec is None:
        return f"nothing fits in {plan.hardware.hbm_bytes / 1e9:.0f} GB per GPU; add GPUs or shorten sequences; {cross}."
    if rec is fsdp and rec.hides:
        return (
            f"FSDP over all {s.gpus} GPUs: {fsdp.microbatch_tokens:,} tokens per GPU per all-gather is above the "
            f"crossover, so its collectives ({fsdp.overlapped_comm_s:.3g} s/step) hide under compute "
            f"({fsdp.compute_s:.3g} s/step); {cross}."
        )
    why_not = (
        "does not fit in memory"
        if not fsdp.fits
        else f"would spend {fsdp.overlapped_comm_s:.3g} s/step communicating against {fsdp.compute_s:.3g} s of compute"
    )
    verdict = (
        "hides its communication" if rec.hides else "is the fastest, but no layout hides its communication"
    )
    return (
        f"{rec.layout.kind.upper()} ({rec.layout.label}) {verdict} ({rec.overlapped_comm_s + rec.exposed_comm_s:.3g} s "
        f"comm vs {rec.compute_s:.3g} s compute). FSDP {why_not}: {plan.tokens_per_gpu:,.0f} tokens per GPU per step vs "
        f"{cross}. The batch floor for FSDP is {plan.batch_floor_tokens:,.0f} tokens per step on {s.gpus} GPUs, "
        f"or at most {int(s.global_batch_tokens // max(plan.crossover_tokens, 1)):,} GPUs at this batch."
    )


def _notes(plan: Plan) -> list[str]:
    s, notes = plan.settings, []
    if plan.tokens_per_gpu < s.seq_len:
        notes.append(
            f"{plan.tokens_per_gpu:,.0f} tokens per GPU is under one {s.seq_len}-token sequence: packing shorter "
            "samples, or context parallelism, is needed to keep every GPU busy"
        )
    fastest = min((lp for lp in plan.layouts if lp.fits), key=lambda lp: lp.step_s, default=None)
    rec = plan.recommended
    if rec is not None and fastest is not None and fastest.step_s < 0.9 * rec.step_s:
        notes.append(
            f"fastest layout: {fastest.layout.kind.upper()} ({fastest.layout.label}), {fastest.step_s:.3g} s/step vs "
            f"{rec.step_s:.3g} s, at the cost of a less simple layout"
            + ("" if fastest.checkpointing else " (it needs no activation checkpointing)")
        )
    notes.append(
        f"assumes {s.mfu:.0%} of peak FLOP/s, {s.bw_efficiency:.0%} of nominal link bandwidth, grads reduced in "
        f"{s.reduce_dtype}, {'fp32 master weights' if s.master_weights else 'bf16 weights, no master copy'}"
    )
    return notes


def plan_to_dict(plan: Plan) -> dict:
    def lp_dict(lp: LayoutPlan | None) -> dict | None:
        return None if lp is None else {**asdict(lp), "label": lp.layout.label}

    return {
        "model": asdict(plan.model),
        "hardware": asdict(plan.hardware),
        "settings": plan.settings.model_dump(),
        "tokens_per_gpu": plan.tokens_per_gpu,
        "crossover_tokens": plan.crossover_tokens,
        "crossover_simple_tokens": plan.crossover_simple_tokens,
        "batch_floor_tokens": plan.batch_floor_tokens,
        "recommended": lp_dict(plan.recommended),
        "reason": plan.reason,
        "notes": plan.notes,
        "layouts": [lp_dict(lp) for lp in plan.layouts],
    }
