"""Build the generation engine a setting names: "builtin" (`BuiltinEngine`) or "vllm" (`VLLMEngine`).

    engine = make_engine("vllm", model, tokenizer, max_batch=64, max_len=1024, seed=0)

Both are `golddiff.engine.protocol.StepEngine`s with the same promises; "vllm" needs vLLM installed
(`golddiff.engine.vllm.install` says how) and imports it only here, when asked for.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from golddiff.engine.protocol import StepEngine

EngineKind = Literal["builtin", "vllm"]
ENGINES: tuple[str, ...] = ("builtin", "vllm")


def make_engine(
    kind: str,
    model: Any,
    tokenizer: Any,
    max_batch: int,
    max_len: int,
    *,
    seed: int = 0,
    weight_version: int = 0,
    recompute_kv: bool = False,
    engine_args: Mapping[str, Any] | None = None,
) -> StepEngine:
    """`model` is an HF causal LM in the dtype and on the device the engine should run; `engine_args` are
    extra `vllm.EngineArgs` (the vllm engine only)."""
    common = {"seed": seed, "weight_version": weight_version, "recompute_kv": recompute_kv}
    if kind == "builtin":
        from golddiff.engine.builtin import BuiltinEngine

        if engine_args:
            raise ValueError(
                f"engine_args {sorted(engine_args)} are for the vllm engine, not the built-in one"
            )
        return BuiltinEngine(model, tokenizer, max_batch, max_len, **common)
    if kind == "vllm":
        from golddiff.engine.vllm import VLLMEngine

        return VLLMEngine(model, tokenizer, max_batch, max_len, engine_args=engine_args, **common)
    raise ValueError(f"unknown engine {kind!r}; choose from {', '.join(ENGINES)}")
