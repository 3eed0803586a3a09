"""Torch helpers the checks share: short dtype names for messages ("bf16") and epsilons, a same-weights copy
of a model in another dtype, autocast as the learner uses it, and running a model in eval mode without
gradients. Dtype names are parsed by `golddiff.config.parse_dtype` / `torch_dtype`, not here.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Iterator

import torch
from torch import nn


def dtype_name(dtype: torch.dtype) -> str:
    names = {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16", torch.float64: "fp64"}
    return names.get(dtype, str(dtype).removeprefix("torch."))


def eps(dtype: torch.dtype) -> float:
    """Machine epsilon of a floating dtype (fp32 1.2e-7, bf16 7.8e-3, fp16 9.8e-4)."""
    return torch.finfo(dtype).eps


def pad_id(tokenizer) -> int:
    """The learner's padding id: the tokenizer's pad, else its EOS, else 0."""
    for candidate in (getattr(tokenizer, "pad_token_id", None), getattr(tokenizer, "eos_token_id", None)):
        if candidate is not None:
            return int(candidate)
    return 0


def param_dtype(model: nn.Module) -> torch.dtype:
    return next(model.parameters()).dtype


def device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def in_dtype(model: nn.Module, dtype: torch.dtype) -> nn.Module:
    """`model` itself when its weights are already `dtype`, else a copy cast to it (same weights, rounded)."""
    return model if param_dtype(model) == dtype else copy.deepcopy(model).to(dtype)


def compute_in(model: nn.Module, dtype: torch.dtype) -> contextlib.AbstractContextManager:
    """Autocast to `dtype` as the learner does (fp32 master weights, low-precision compute); nothing when
    the weights already are `dtype` or `dtype` is fp32."""
    enabled = dtype != torch.float32 and param_dtype(model) != dtype
    return torch.autocast(device_of(model).type, dtype=dtype, enabled=enabled)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[nn.Module]:
    """Eval mode (no dropout) and no gradients for the duration; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)
