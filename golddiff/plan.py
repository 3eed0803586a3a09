"""Plan how to shard the learner on a cluster: which layout, why, and what limit binds.

`golddiff plan --model 70 --gpus 1024 --gpu h100 --seq-len 8192 --global-batch-tokens 512k` enumerates
every layout of the GPUs over FSDP (shard and replicate groups), tensor parallel (inside a node), pipeline
parallel and context parallel (golddiff/plan_layouts.py has the cost of each), checks each one's memory
per GPU and its batch (a sequence is indivisible across data-parallel ranks, so a layout with more
data-parallel ranks than the batch has sequences is infeasible), and recommends:
- among feasible layouts whose communication hides under compute, the simplest (FSDP first, then HSDP, TP,
  PP, CP, then combinations), the fastest of that kind;
- when none hides, the fastest feasible layout;
and names the binding constraint (`binding`, and in words in `reason`): `memory` (plain FSDP over all GPUs
does not fit), `batch_floor` (fewer sequences than GPUs: plain FSDP would leave GPUs without work),
`crossover` (plain FSDP fits and has work everywhere, but too few tokens per GPU per all-gather to hide its
collectives), or `none` (plain FSDP hides). CPU only, no torch; `--json` for machines. The command lives
in `golddiff/commands/plan.py`.

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

import json
import math
import re
from dataclasses import asdict, dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from golddiff.plan_layouts import LayoutPlan

DTYPE_BYTES = {"bf16": 2, "fp16": 2, "fp32": 4}


@dataclass(frozen=True)
class Hardware:
    name: str
    peak_bf16_flops: float
    hbm_bytes: float
    hbm_bandwidth: float
    intra_node_bandwidth: float  # bytes/s per GPU per direction (NVLink)
    inter_node_bandwidth: float  # bytes/s per GPU per direction (IB/RoCE NIC)
    gpus_per_node: int
    sources: tuple[str, ...] = ()


@cache
def _hardware_table(path: str | None = None) -> dict:
    if path is None:
        return yaml.safe_load(resources.files("golddiff").joinpath("data/hardware.yaml").read_text())
    return yaml.safe_load(Path(path).read_text())


def load_hardware(
    gpu: str = "h100", path: str | None = None, overrides: dict[str, float] | None = None, interconnect=None
) -> Hardware:
    """The figures of `gpu` from golddiff/data/hardware.yaml (or `path`), with field overrides applied."""
    table = dict(_hardware_table()["gpus"])
    fabrics = dict(_hardware_table()["interconnects"])
    if path:
        extra = _hardware_table(path)
        table.update(extra.get("gpus", {}))
        fabrics.update(extra.get("interconnects", {}))
    if gpu not in table:
        raise ValueError(f"unknown gpu {gpu!r}: choose one of {sorted(table)} or give --hardware FILE")
    fields = dict(table[gpu])
    unknown = set(fields) - set(Hardware.__dataclass_fields__)
    if unknown:
        raise ValueError(f"hardware {gpu!r}: unknown fields {sorted(unknown)}")
    hw = _typed_hardware(fields)
    if interconnect is not None:
        hw = replace(hw, inter_node_bandwidth=_fabric_bandwidth(str(interconnect), fabrics))
    for key, value in (overrides or {}).items():
        if key not in Hardware.__dataclass_fields__ or key in ("name", "sources"):
            raise ValueError(f"--hw {key}: not a hardware field ({', '.join(Hardware.__dataclass_fields__)})")
        hw = replace(hw, **{key: int(value) if key == "gpus_per_node" else float(value)})
    return hw


def _typed_hardware(fields: dict) -> Hardware:
    """YAML 1.1 reads `989.5e12` as a string: convert every figure explicitly."""
    numbers = {k: float(v) for k, v in fields.items() if k not in ("name", "sources", "gpus_per_node")}
    return Hardware(
        name=str(fields.get("name", "custom")),
        gpus_per_node=int(fields.get("gpus_per_node", 8)),
        sources=tuple(fields.get("sources", ())),
        **numbers,
    )


def _fabric_bandwidth(name: str, fabrics: dict) -> float:
    if name in fabrics:
        return float(fabrics[name])  # may be a string in YAML 1.1
    try:
        return float(name) * 1e9 / 8  # Gbit/s per GPU
    except ValueError:
        raise ValueError(f"unknown interconnect {name!r}: {sorted(fabrics)} or Gbit/s per GPU") from None


@dataclass(frozen=True)
class ModelShape:
    """A decoder-only transformer; `params` is the total count (embeddings included)."""

    name: str
    params: float
    hidden: int
    layers: int
    ffn: int
    vocab: int
    heads: int
    kv_heads: int
    head_dim: int
    tied_embeddings: bool = False

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    @property
    def kv_bytes_per_token(self) -> int:
        """bf16 K and V of one token over all layers: what decoding reads per token of context."""
        return 2 * 2 * self.layers * self.kv_dim

    @property
    def compute_params(self) -> float:
        """Parameters that do matmuls per token: all but the input embedding lookup (unless tied)."""
        return self.params if self.tied_embeddings else self.params - self.vocab * self.hidden


# name: (hidden, layers, ffn, vocab, heads, kv_heads, tied) from each model's Hugging Face config.json
PRESETS: dict[str, tuple[int, int, int, int, int, int, bool]] = {
    "Qwen2.5-0.5B": (896, 24, 4864, 151936, 14, 2, True),
    "Qwen2.5-1.5B": (1536, 28, 8960, 151936, 12, 2, True),
    "Qwen2.5-3B": (2048, 36, 11008, 151936, 16, 2, True),
    "Qwen2.5-7B": (3584, 28, 18944, 152064, 28, 4, False),
    "Qwen2.5-14B": (5120, 48, 13824, 152064, 40, 8, False),
    "Qwen2.5-32B": (5120, 64, 27648, 152064, 40, 8, False),
    "Llama-3-70B": (8192, 80, 28672, 128256, 64, 8, False),
}


def count_params(hidden, layers, ffn, vocab, heads, kv_heads, head_dim, tied, qkv_bias=False) -> int:
    """Llama/Qwen block: q, k, v, o projections, gated MLP (3 matrices), two RMSNorms; embeddings, head."""
    q, kv = heads * head_dim, kv_heads * head_dim
    attention = hidden * q + 2 * hidden * kv + q * hidden + ((q + 2 * kv) if qkv_bias else 0)
    per_layer = attention + 3 * hidden * ffn + 2 * hidden
    return layers * per_layer + hidden + vocab * hidden * (1 if tied else 2)


def shape_from_size(billions: float) -> ModelShape:
    """`--model 7`: exactly 7e9 parameters, with the layer shape of the nearest preset (for activations)."""
    counted = {name: _preset(name).params for name in PRESETS}
    name = min(counted, key=lambda n: abs(math.log(counted[n] / (billions * 1e9))))
    return replace(_preset(name), name=f"{billions:g}B (shape of {name})", params=billions * 1e9)


def _preset(name: str) -> ModelShape:
    hidden, layers, ffn, vocab, heads, kv_heads, tied = PRESETS[name]
    head_dim = hidden // heads
    params = count_params(
        hidden, layers, ffn, vocab, heads, kv_heads, head_dim, tied, name.startswith("Qwen")
    )
    return ModelShape(name, float(params), hidden, layers, ffn, vocab, heads, kv_heads, head_dim, tied)


def shape_from_hf_config(path: str | Path) -> ModelShape:
    """Params from a Hugging Face config.json: hidden size, layers, vocab, intermediate size, heads."""
    path = Path(path)
    cfg = json.loads((path / "config.json" if path.is_dir() else path).read_text())
    cfg = cfg.get("text_config", cfg)
    try:
        hidden, layers = int(cfg["hidden_size"]), int(cfg["num_hidden_layers"])
        ffn, vocab, heads = (
            int(cfg["intermediate_size"]),
            int(cfg["vocab_size"]),
            int(cfg["num_attention_heads"]),
        )
    except KeyError as e:
        raise ValueError(
            f"{path}: config has no {e.args[0]!r} (need a Llama/Qwen-style config.json)"
        ) from None
    kv_heads = int(cfg.get("num_key_value_heads") or heads)
    head_dim = int(cfg.get("head_dim") or hidden // heads)
    tied = bool(cfg.get("tie_word_embeddings", False))
    bias = bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2"))
    params = count_params(hidden, layers, ffn, vocab, heads, kv_heads, head_dim, tied, bias)
    name = str(cfg.get("_name_or_path") or cfg.get("model_type") or path.stem)
    return ModelShape(name, float(params), hidden, layers, ffn, vocab, heads, kv_heads, head_dim, tied)


def resolve_model(spec: str) -> ModelShape:
    """A size in billions ("7", "70B") or a path to a config.json (or the folder holding one)."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*[bB]?\s*", spec)
    if match and not Path(spec).exists():
        return shape_from_size(float(match.group(1)))
    return shape_from_hf_config(spec)


@dataclass(frozen=True)
class Settings:
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


@dataclass
class Plan:
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
    bytes_moved = (2 + 2 + DTYPE_BYTES[s.reduce_dtype]) * model.params
    exact = bytes_moved * per_byte * rate / flops_per_token(model, s)
    simple = rate * per_byte
    return exact, simple


def make_plan(model: ModelShape, hw: Hardware, s: Settings) -> Plan:
    from golddiff.plan_explain import binding_constraint, explain, notes
    from golddiff.plan_layouts import candidate_layouts, evaluate, sequences

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
    from golddiff.plan_explain import considered
    from golddiff.plan_layouts import best_per_kind

    return {
        "model": asdict(plan.model),
        "hardware": asdict(plan.hardware),
        "settings": asdict(plan.settings),
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
