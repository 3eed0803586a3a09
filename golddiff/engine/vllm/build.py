"""How golddiff builds vLLM's in-process `LLMEngine` for `VLLMEngine`: the model staged for vLLM (an HF
module's config alone, its weights following through the weight-transfer path; or a directory vLLM loads
itself), the engine arguments (fp32 LM head, processed logprobs, a KV cache that holds every admitted
sample, golddiff's weight-transfer backend), and the engine core kept in this process.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from golddiff.engine.vllm.transfer import BACKEND, WeightNames

DTYPES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}


def stage_model(
    model: nn.Module | str | Path, dtype: torch.dtype | None, stage: Path
) -> tuple[Any, str, str, str]:
    """(HF config, directory for vLLM, load format, dtype name). A module's config goes to `stage` and
    vLLM starts from dummy weights (the real ones follow through the weight-transfer path)."""
    if isinstance(model, nn.Module):
        config = model.config
        config.save_pretrained(stage)
        dtype = dtype or next(model.parameters()).dtype
        path, load_format = str(stage), "dummy"
    else:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(model)
        dtype = dtype or getattr(config, "dtype", None) or torch.float32
        if isinstance(dtype, str):
            dtype = getattr(torch, dtype)
        path, load_format = str(model), "auto"
    if dtype not in DTYPES:
        raise ValueError(f"the vllm engine runs float32, bfloat16 or float16, not {dtype}")
    return config, path, load_format, DTYPES[dtype]


def generation_of(path: str) -> Any:
    """An object with the directory's `generation_config` (its EOS ids), as `eos_ids` reads a model."""
    from types import SimpleNamespace

    from transformers import GenerationConfig

    try:
        return SimpleNamespace(generation_config=GenerationConfig.from_pretrained(path))
    except OSError:  # no generation_config.json: the tokenizer's EOS only
        return None


def meta_names(config: Any) -> WeightNames:
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):
        return WeightNames.of(AutoModelForCausalLM.from_config(config))


def _kv_cache_bytes(config: Any, dtype: str, max_batch: int, max_len: int) -> int:
    """KV cache for max_batch sequences of max_len tokens (+ a block of rounding each): every sample
    handed to vLLM fits, so vLLM never preempts."""
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    per_token = 2 * config.num_hidden_layers * heads * head_dim * getattr(torch, dtype).itemsize
    return per_token * max_batch * (max_len + 128) + (16 << 20)


def vllm_args(
    config: Any,
    path: str,
    load_format: str,
    dtype: str,
    max_batch: int,
    max_len: int,
    prefill: int,
    seed: int,
) -> dict[str, Any]:
    return {
        "model": path,
        "skip_tokenizer_init": True,  # golddiff tokenizes; prompts arrive as token ids
        "load_format": load_format,
        "dtype": dtype,
        "seed": seed,
        "max_model_len": max_len,
        "max_num_seqs": max_batch,
        "max_num_batched_tokens": min(max(prefill, max_batch), max_batch * max_len),
        "kv_cache_memory_bytes": _kv_cache_bytes(config, dtype, max_batch, max_len),
        "logprobs_mode": "processed_logprobs",  # after temperature: what the learner computes
        "hf_overrides": {"head_dtype": "float32"},  # the LM head in fp32, as the learner's
        "generation_config": "vllm",  # no sampling defaults from the model's generation_config.json
        "enforce_eager": True,  # CPU: no compile at start (minutes on 2 cores); GPU: pass False
        "weight_transfer_config": {"backend": BACKEND},
        "disable_log_stats": True,
    }


def build(args: dict[str, Any]) -> Any:
    """An in-process `vllm.LLMEngine` for `args`. vLLM's CPU worker replaces `torch.set_num_threads` with a
    no-op for the whole process; the original is put back (the caller owns this process's threads)."""
    from vllm import EngineArgs, LLMEngine

    saved_threads, saved_env = torch.set_num_threads, os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # the engine core in this process
    try:
        return LLMEngine.from_engine_args(EngineArgs(**args), enable_multiprocessing=False)
    finally:
        torch.set_num_threads = saved_threads
        if saved_env is None:
            os.environ.pop("VLLM_ENABLE_V1_MULTIPROCESSING", None)
        else:
            os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = saved_env
