"""The planner's roofline arithmetic: its assumptions (`Settings`), training FLOPs per token, the cost of a
ring collective per byte, and the FSDP crossover. `golddiff.sim.layouts` costs each layout with these;
`golddiff.sim.plan` recommends one. CPU only, no torch.

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
  inner) is pp, dp_replicate, dp_shard, cp, tp: TP stays inside a node; FSDP shards over dp_shard x cp.
  Context parallel is torchtitan's ring attention (docs/context_parallel.md).
- Training FLOPs: 6·params·tokens (Kaplan et al. 2020) plus causal attention, 6·layers·seq·hidden per token;
  full activation checkpointing recomputes the forward (+2·params per token).
- Activation bytes per token per layer (Korthikanti et al. 2022, "Reducing Activation Recomputation"),
  redone for a Llama/Qwen block with flash attention and SwiGLU in bf16: 12·hidden + 4·kv_dim + 6·ffn; with
  full checkpointing only the layer input (2·hidden) is kept, plus one layer's worth while recomputing.
- Model state per parameter (ZeRO, Rajbhandari et al. 2020): fp32 master weights 4 + fp32 grads 4 + Adam
  m and v 8 = 16 bytes, sharded; without master weights bf16 params 2 + bf16 grads 2 + Adam 8 = 12.
"""

from __future__ import annotations

from pydantic import ConfigDict

from golddiff.config import DTYPE_BYTES, Strict, parse_dtype
from golddiff.sim.hardware import Hardware
from golddiff.sim.shapes import ModelShape


class Settings(Strict):
    """What `golddiff plan` is asked (GPUs, sequence length, tokens per step) and what it assumes."""

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


def reduce_bytes(s: Settings) -> int:
    """Bytes per gradient element in the reduce-scatter and all-reduce."""
    return DTYPE_BYTES[parse_dtype(s.reduce_dtype)]


def attention_flops_per_token(model: ModelShape, s: Settings, checkpointing: bool = False) -> float:
    """Causal attention's score and value matmuls per token, forward and backward (+ a recomputed forward)."""
    if not s.attention_flops:
        return 0.0
    return 6 * model.layers * s.seq_len * model.hidden * (4 / 3 if checkpointing else 1)


def flops_per_token(model: ModelShape, s: Settings, checkpointing: bool = False) -> float:
    dense = (8 if checkpointing else 6) * model.compute_params
    return dense + attention_flops_per_token(model, s, checkpointing)


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


def fsdp_crossover(model: ModelShape, hw: Hardware, s: Settings) -> tuple[float, float]:
    """Tokens per GPU per all-gather below which FSDP's collectives over all GPUs cannot hide:
    (bytes moved per param · seconds per byte) ÷ (FLOPs per token per param ÷ achieved FLOP/s).
    Also the book's simple form C_eff / W_eff (bf16 everywhere, attention ignored)."""
    per_byte = collective_s_per_byte(hw, s, s.gpus, hw.gpus_per_node)
    rate = s.mfu * hw.peak_bf16_flops
    bytes_moved = (2 + 2 + reduce_bytes(s)) * model.params
    exact = bytes_moved * per_byte * rate / flops_per_token(model, s)
    simple = rate * per_byte
    return exact, simple
