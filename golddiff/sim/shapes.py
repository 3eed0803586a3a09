"""Model shapes for the planner and the simulator: parameters, hidden size, layers, heads, KV size, from
a size in billions (the layer shape of the nearest preset), a preset, or a Hugging Face config.json.

    shape = resolve_model("7")            # or resolve_model("path/to/config.json")
    shape.kv_bytes_per_token, shape.compute_params

No torch; CPU only.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, replace
from pathlib import Path


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
