"""One parallel layout of the learner and what it costs per optimizer step: memory per GPU, compute with the
pipeline bubble, and the communication of each parallel dimension; and the `Plan` that holds them all.
`golddiff plan` (golddiff/sim/plan.py) enumerates every layout of the GPUs, evaluates each here and
recommends one. CPU only, no torch.

A layout splits the GPUs as pp x dp_replicate x dp_shard x cp x tp, outer to inner (torchtitan's mesh
order, so TP stays inside a node and PP stages are the farthest apart):
- data parallel (dp = shard x replicate ranks): each rank trains on whole sequences. A sequence is
  indivisible across data-parallel ranks, so a layout with more ranks than the global batch has sequences
  leaves GPUs without work: it is infeasible. The busiest rank has ceil(sequences / dp) of them.
- FSDP2 shards parameters, gradients and Adam state over dp_shard x cp (torchtitan's `dp_shard_cp` mesh);
  `reshard_after_forward=True` is ZeRO-3: all-gather for forward, again for backward, reduce-scatter the
  gradients, every microbatch. HSDP (replicate > 1) all-reduces each shard's gradients across replicas
  once per step. Ring collectives cost B·(n-1)/(n·W), bounded by a node's NICs beyond a node
  (scaling-book gpus.md; `collective_s_per_byte` in roofline.py).
- tensor parallel (tp, inside a node; Megatron sequence parallel): per layer an all-gather and a
  reduce-scatter of the activations around attention and around the MLP, forward and backward (and again
  in a recomputed forward), 2·tokens·hidden bytes each. They sit on the critical path: exposed.
- pipeline parallel (pp stages, 1F1B): the bubble adds (pp-1)/microbatches of the compute; each microbatch
  sends its activations forward and their gradients back (p2p, overlapped). A stage keeps its weights
  gathered for the whole step (one all-gather and one reduce-scatter per step), which costs memory.
- context parallel (cp, ring attention as in torchtitan): each sequence is cut into cp chunks (load-balanced
  for causal masks); every attention layer passes the K and V chunks around the ring, cp-1 hops, in
  forward, twice in backward (K, V and their gradients) and again when recomputing. The exchange overlaps
  the attention compute of the chunk in hand; what attention cannot cover is exposed.
Memory per GPU: model state sharded over tp·pp·shard·cp (16 bytes/param with fp32 master weights, else
12), gathered bf16 weights (two layers prefetched, or the whole stage with PP), activations of the
microbatches in flight (pp of them on the first stage) with or without full activation checkpointing, and
the logits of one microbatch in bf16 + fp32. Figures and sources are in roofline.py's docstring.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from golddiff.sim.hardware import Hardware
from golddiff.sim.roofline import (
    Settings,
    attention_flops_per_token,
    collective_s_per_byte,
    flops_per_token,
    reduce_bytes,
)
from golddiff.sim.shapes import ModelShape

MAX_PP = 64  # pipeline stages considered (never more than the model has layers)
MAX_CP = 32  # context-parallel ranks considered (the sequence must split into 2·cp chunks)
DIMS = (("replicate", 1), ("tp", 2), ("pp", 3), ("cp", 4))  # simplicity order after plain FSDP


@dataclass(frozen=True)
class Layout:
    shard: int  # FSDP shard group (data-parallel ranks that split the model state)
    replicate: int = 1  # HSDP replicas
    tp: int = 1
    pp: int = 1
    cp: int = 1

    @property
    def dp(self) -> int:
        """Data-parallel ranks: each trains on its own whole sequences."""
        return self.shard * self.replicate

    @property
    def gpus(self) -> int:
        return self.dp * self.tp * self.pp * self.cp

    @property
    def kind(self) -> str:
        """fsdp, hsdp, fsdp+tp, fsdp+pp, fsdp+cp, hsdp+tp+pp, ..."""
        used = [name for name, _ in DIMS[1:] if getattr(self, name) > 1]
        return "+".join(["hsdp" if self.replicate > 1 else "fsdp", *used])

    @property
    def label(self) -> str:
        dp = f"shard {self.shard}" + (f" x replicate {self.replicate}" if self.replicate > 1 else "")
        return ", ".join(
            [dp] + [f"{name} {getattr(self, name)}" for name, _ in DIMS[1:] if getattr(self, name) > 1]
        )

    @property
    def complexity(self) -> tuple[int, int]:
        """Simplest first: fewer parallel dimensions beyond FSDP; among as many, HSDP < TP < PP < CP."""
        used = [weight for name, weight in DIMS if getattr(self, name) > 1]
        return len(used), sum(used)


@dataclass
class LayoutPlan:
    layout: Layout
    feasible: bool  # fits in memory and every data-parallel rank holds at least one sequence
    infeasible: str  # why not, in words ("" when feasible)
    fits: bool
    hides: bool  # overlapped communication under compute; exposed communication + bubble within tolerance
    checkpointing: bool
    sequences_per_rank: int  # on the busiest data-parallel rank
    microbatch_tokens: int  # whole sequences per microbatch of a data-parallel rank (before the CP split)
    microbatches: int
    compute_s: float  # per GPU per step, pipeline bubble included
    bubble_s: float
    overlapped_comm_s: float  # FSDP/HSDP collectives and PP sends: prefetched under compute
    exposed_comm_s: float  # TP collectives and the ring-attention exchange attention cannot cover
    step_s: float
    comm_s: dict[str, float]  # per step by dimension: fsdp (incl. HSDP), tp, pp, cp
    memory: dict[str, float]  # bytes per GPU
    memory_no_ckpt_bytes: float
    memory_ckpt_bytes: float


def sequences(s: Settings) -> int:
    """Sequences in the global batch (a last, shorter one counts: it still needs a rank)."""
    return math.ceil(s.global_batch_tokens / s.seq_len)


def divisors(n: int) -> list[int]:
    """The divisors of n, ascending."""
    small = [d for d in range(1, math.isqrt(n) + 1) if n % d == 0]
    return sorted({*small, *(n // d for d in small)})


def candidate_layouts(model: ModelShape, hw: Hardware, s: Settings) -> list[Layout]:
    """Every split of the GPUs into tp (inside a node, dividing the heads) x pp (at most the layers) x
    cp (the sequence cut into 2·cp equal chunks) x shard x replicate."""
    out = []
    for tp in divisors(s.gpus):
        if tp > hw.gpus_per_node or model.heads % tp:
            continue
        for pp in divisors(s.gpus // tp):
            if pp > min(model.layers, MAX_PP):
                continue
            for cp in divisors(s.gpus // (tp * pp)):
                if cp > MAX_CP or (cp > 1 and s.seq_len % (2 * cp)):
                    continue
                dp = s.gpus // (tp * pp * cp)
                out += [Layout(shard, dp // shard, tp, pp, cp) for shard in reversed(divisors(dp))]
    return out  # plain FSDP over all GPUs first


def evaluate(model: ModelShape, hw: Hardware, s: Settings, lay: Layout) -> LayoutPlan:
    """The best (microbatch, checkpointing) for this layout: the fastest that fits, else the smallest."""
    n_seq = sequences(s)
    per_rank = math.ceil(n_seq / lay.dp)
    options = [
        _option(model, hw, s, lay, per_rank, mb_seqs, ckpt)
        for mb_seqs in _microbatch_sizes(per_rank)
        for ckpt in (False, True)
    ]
    fitting = [o for o in options if o.fits]
    if fitting:
        best = min(fitting, key=lambda o: (o.step_s, o.checkpointing, -o.microbatch_tokens))
    else:
        best = min(options, key=lambda o: sum(o.memory.values()))
    reasons = []
    if lay.dp > n_seq:
        reasons.append(
            f"{lay.dp} data-parallel ranks > {n_seq} sequences: {lay.dp - n_seq} ranks "
            f"({(lay.dp - n_seq) * lay.gpus // lay.dp} GPUs) would hold no sequence"
        )
    if not best.fits:
        usable = s.usable_memory * hw.hbm_bytes
        reasons.append(f"needs {sum(best.memory.values()) / 1e9:.1f} GB per GPU of {usable / 1e9:.1f} usable")
    best.infeasible = "; ".join(reasons)
    best.feasible = not reasons
    return best


def _microbatch_sizes(per_rank: int) -> list[int]:
    """Sequences per microbatch: powers of two, and all of the rank's sequences at once."""
    sizes = [2**i for i in range(per_rank.bit_length()) if 2**i < per_rank]
    return [*sizes, per_rank]


def _option(
    model: ModelShape, hw: Hardware, s: Settings, lay: Layout, per_rank: int, mb_seqs: int, ckpt: bool
) -> LayoutPlan:
    rank_tokens = min(per_rank * s.seq_len, s.global_batch_tokens)  # the busiest data-parallel rank
    mb = min(mb_seqs * s.seq_len, rank_tokens)
    n_mb = math.ceil(per_rank / mb_seqs)
    rate = s.mfu * hw.peak_bf16_flops * lay.tp * lay.pp * lay.cp  # the rank's GPUs together
    pure = rank_tokens * flops_per_token(model, s, ckpt) / rate
    bubble = pure * (lay.pp - 1) / n_mb  # 1F1B: pp-1 idle microbatch slots per step
    attention = rank_tokens * attention_flops_per_token(model, s, ckpt) / rate
    comm = _comm(model, hw, s, lay, mb, n_mb, ckpt)
    overlapped = comm["fsdp"] + comm["pp"]
    exposed = comm["tp"] + max(0.0, comm["cp"] - attention)
    compute = pure + bubble
    step = max(compute, overlapped) + exposed
    mem = memory_per_gpu(model, s, lay, mb, ckpt, n_mb)
    no_ckpt = sum(memory_per_gpu(model, s, lay, mb, False, n_mb).values())
    with_ckpt = sum(memory_per_gpu(model, s, lay, mb, True, n_mb).values())
    fits = sum(mem.values()) <= s.usable_memory * hw.hbm_bytes
    hides = overlapped <= compute and step <= pure * (1 + s.hide_tolerance)  # a bubble is lost time too
    return LayoutPlan(
        lay, fits, "", fits, hides, ckpt, per_rank, mb, n_mb, compute, bubble, overlapped, exposed, step,
        comm, mem, no_ckpt, with_ckpt,
    )  # fmt: skip


def _per_node(group: int, stride: int, gpus_per_node: int) -> int:
    """GPUs of a group per node when its members are `stride` apart (inner mesh dims fill nodes first)."""
    return max(1, min(group, gpus_per_node // stride)) if stride < gpus_per_node else 1


def _link(hw: Hardware, s: Settings, within_node: bool) -> float:
    """Bytes/s of one GPU's point-to-point link: NVLink inside a node, its NIC across nodes."""
    return (hw.intra_node_bandwidth if within_node else hw.inter_node_bandwidth) * s.bw_efficiency


def _comm(
    model: ModelShape, hw: Hardware, s: Settings, lay: Layout, mb: int, n_mb: int, ckpt: bool
) -> dict[str, float]:
    """Seconds per optimizer step of each dimension's communication, per GPU."""
    gpn, red = hw.gpus_per_node, reduce_bytes(s)
    stage_params = model.params / (lay.tp * lay.pp)
    group = lay.shard * lay.cp  # FSDP shards over dp_shard x cp
    per_byte = collective_s_per_byte(hw, s, group, _per_node(group, lay.tp, gpn))
    all_gather, reduce_scatter = 2 * stage_params * per_byte, red * stage_params * per_byte
    if lay.pp > 1:  # the stage keeps its weights gathered: one all-gather, one reduce-scatter per step
        fsdp = all_gather + reduce_scatter
    else:  # ZeRO-3: gather for forward, again for backward, reduce-scatter grads: every microbatch
        fsdp = n_mb * (2 * all_gather + reduce_scatter)
    if lay.replicate > 1:  # HSDP: all-reduce (= 2x reduce-scatter) of each shard across replicas, per step
        stride = group * lay.tp
        per_byte_r = collective_s_per_byte(hw, s, lay.replicate, _per_node(lay.replicate, stride, gpn))
        all_reduce = 2 * red * stage_params / group * per_byte_r
        # a shard group inside a node talks over NVLink while the all-reduce uses the NICs: issued layer by
        # layer on separate streams, the busier link binds (scaling-book: T = max(node, scale-out))
        fsdp = max(fsdp, all_reduce) if stride <= gpn else fsdp + all_reduce
    tokens = mb / lay.cp  # tokens of one microbatch on one GPU of a context-parallel ring
    layers = model.layers / lay.pp
    comm = {"fsdp": fsdp, "tp": 0.0, "pp": 0.0, "cp": 0.0}
    if lay.tp > 1:  # sequence-parallel TP: all-gather + reduce-scatter around attention and MLP
        collectives = layers * (12 if ckpt else 8)
        volume = collectives * 2 * tokens * model.hidden * (lay.tp - 1) / lay.tp
        comm["tp"] = n_mb * volume / _link(hw, s, True)
    if lay.pp > 1:  # activations forward, their gradients back, at each stage boundary (bf16, SP-sharded)
        stage_stride = lay.dp * lay.cp * lay.tp
        comm["pp"] = n_mb * 2 * 2 * tokens * model.hidden / lay.tp / _link(hw, s, stage_stride < gpn)
    if lay.cp > 1:  # ring attention: cp-1 hops of a K,V chunk per layer, per pass
        kv_bytes_per_token = (
            2 * 2 * model.kv_dim / min(lay.tp, model.kv_heads)
        )  # bf16 K and V, this GPU's heads
        passes = 4 if ckpt else 3  # forward; backward moves K,V and dK,dV; a recomputed forward
        volume = passes * layers * (lay.cp - 1) * tokens * kv_bytes_per_token
        comm["cp"] = n_mb * volume / _link(hw, s, lay.tp * lay.cp <= gpn)
    return comm


def activation_bytes_per_token_layer(model: ModelShape) -> float:
    """bf16 tensors a Llama/Qwen block keeps for backward, per token (see roofline.py's docstring)."""
    return 12 * model.hidden + 4 * model.kv_dim + 6 * model.ffn


def memory_per_gpu(model: ModelShape, s: Settings, lay: Layout, mb: int, ckpt: bool, n_mb: int) -> dict:
    """Bytes per GPU: sharded model state, gathered bf16 weights, activations of in-flight microbatches."""
    shard_params = model.params / (lay.tp * lay.pp * lay.shard * lay.cp)
    param_bytes, grad_bytes = (4, 4) if s.master_weights else (2, 2)
    layer_params = model.params / model.layers / lay.tp
    gathered = 2 * model.params / (lay.tp * lay.pp) if lay.pp > 1 else 2 * 2 * layer_params  # 2 prefetched
    layers = model.layers / lay.pp
    tokens = mb / lay.cp
    in_flight = min(lay.pp, n_mb)  # 1F1B: the first stage holds pp microbatches
    per_token_layer = activation_bytes_per_token_layer(model) / lay.tp
    if ckpt:  # layer inputs kept, one layer's worth while recomputing it
        act = in_flight * tokens * layers * 2 * model.hidden / lay.tp + tokens * per_token_layer
    else:
        act = in_flight * tokens * layers * per_token_layer
    return {
        "weights": shard_params * param_bytes + gathered,
        "grads": shard_params * grad_bytes,
        "optimizer": shard_params * 8,
        "activations": act,
        "logits": tokens * model.vocab * (2 + 4) / lay.tp,  # bf16 logits + fp32 for the loss
    }


def best_per_kind(layouts: list[LayoutPlan]) -> list[LayoutPlan]:
    """One row per kind (fsdp, hsdp, fsdp+tp, ...), simplest kind first: its fastest feasible layout, else
    its fastest that fits memory, else its smallest."""
    kinds: dict[str, list[LayoutPlan]] = {}
    for lp in layouts:
        kinds.setdefault(lp.layout.kind, []).append(lp)

    def rank(lp: LayoutPlan) -> tuple:
        return (not lp.feasible, not lp.fits, lp.step_s if lp.fits else sum(lp.memory.values()))

    best = [min(group, key=rank) for group in kinds.values()]
    return sorted(best, key=lambda lp: lp.layout.complexity)


@dataclass
class Plan:
    """What `golddiff.sim.plan.make_plan` returns: every layout evaluated, the one recommended, and why."""

    model: ModelShape
    hardware: Hardware
    settings: Settings
    sequences: int  # in the global batch
    tokens_per_gpu: float
    crossover_tokens: float
    crossover_simple_tokens: float  # C_eff / W: the book's rule, all bf16, attention ignored
    batch_floor_tokens: float  # the smallest global batch at which plain FSDP over all GPUs hides
    layouts: list[LayoutPlan]  # every layout considered, plain FSDP over all GPUs first
    recommended: LayoutPlan | None
    binding: str = "none"  # none | memory | crossover | batch_floor
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def fsdp(self) -> LayoutPlan:
        """Plain FSDP over all GPUs: the default every other layout is measured against."""
        return self.layouts[0]
