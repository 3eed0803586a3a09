"""Precision of the reductions a training step runs: the loss summed over the step's tokens and divided by
Z, gradients accumulated over micro-batches, summed over ranks, and their norm for clipping, each in the
dtype the run uses for it, against the same sum in fp64.

    from golddiff.checks.precision import check_precision, reduction_plan, step_shape
    result = check_precision(reduction_plan(model, cfg), step_shape(cfg), compute_dtype=torch.bfloat16)

How: realistic values at the run's sizes (per-token terms −A·logπ for samples × max_new_tokens tokens;
gradient entries spread over 1e-9..1e-4, as a loss ÷ Z gives) are reduced the way a step does it, a partial
sum per micro-batch then accumulated one by one, in the plan's dtype. Figures: the relative error (‖result −
reference‖ / ‖reference‖), overflow to inf, and the share of gradient
entries that underflow to 0. `reduction_plan` reads the dtypes from the real objects: the dtype `policy_loss`
returns for the learner's logprobs, the dtype of the model's parameters (where `.grad` accumulates and
`clip_grad_norm_` computes), and FSDP2's reduce dtype. The same reductions in the compute dtype are reported
too (`if_<dtype>`), to show what keeping them in fp32 saves. Pure torch; runs on CPU in well under a second.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from golddiff.checks.common import dtype_name, param_dtype
from golddiff.checks.result import CheckResult, fmt, worst
from golddiff.config import torch_dtype
from golddiff.rl.loss import policy_loss

# relative error allowed per reduction: 0.1% on gradient sums (an error that size in every step's update is
# systematic, not noise); 1% on the loss (only logged: its gradient is 1/Z broadcast) and on the clip norm
MAX_REL_ERROR = {"loss": 1e-2, "grad_accum": 1e-3, "all_reduce": 1e-3, "grad_norm": 1e-2}
MAX_UNDERFLOW = 1e-3  # share of gradient entries flushed to 0


@dataclass(frozen=True)
class ReductionPlan:
    """The dtype each reduction of a step runs in."""

    loss: torch.dtype = torch.float32  # Σ_t per-token loss ÷ Z (policy_loss)
    grad_accum: torch.dtype = torch.float32  # micro-batch gradients summed into .grad
    all_reduce: torch.dtype = torch.float32  # gradients summed over ranks
    grad_norm: torch.dtype = torch.float32  # ‖g‖ for clipping


@dataclass(frozen=True)
class StepShape:
    """How big a step's reductions are."""

    tokens: int = 16384  # trained tokens per step (at most samples × max_new_tokens)
    samples: int = 64
    micro_batches: int = 8  # per rank
    ranks: int = 1
    normaliser: float = 16384.0  # Z
    grad_elements: int = 1 << 14  # gradient entries simulated (a slice of the model)


def step_shape(config) -> StepShape:
    """The sizes of a step of `config` (a TrainConfig): its token budget, micro-batches per rank, ranks, Z."""
    rl, learner = config.rl, config.learner
    tokens = rl.samples_per_step * rl.max_new_tokens
    per_rank = math.ceil(rl.samples_per_step / learner.processes) * config.learner_max_len
    micro = max(1, math.ceil(per_rank / learner.micro_batch_tokens))
    z = config.loss_normaliser(tokens)
    return StepShape(tokens, rl.samples_per_step, micro, learner.processes, z)


def reduction_plan(model: nn.Module, config) -> ReductionPlan:
    """The dtypes the learner would use with `model` (its master weights) and `config`."""
    compute = torch_dtype(config.model.learner_dtype, "cuda" if torch.cuda.is_available() else "cpu")
    new = torch.zeros(1, 4, dtype=compute)  # what the fp32 head returns is fp32; a bf16 one would be bf16
    old, mask = torch.zeros(1, 4), torch.ones(1, 4, dtype=torch.bool)
    loss, _ = policy_loss(new, old, torch.ones(1, 4), mask, normaliser=1.0)
    weights = param_dtype(model)
    sharded_reduce = torch.float32 if compute != torch.float32 else weights  # learner's MixedPrecisionPolicy
    return ReductionPlan(
        loss.dtype, weights, sharded_reduce if config.learner.processes > 1 else weights, weights
    )


def _accumulate(parts: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """Add `parts` one by one into an accumulator of `dtype` (as .grad and micro-batch loops do)."""
    acc = torch.zeros_like(parts[0], dtype=dtype)
    for part in parts:
        acc = acc + part.to(dtype)
    return acc


def _loss_terms(shape: StepShape, gen: torch.Generator) -> torch.Tensor:
    """Per-token terms −A·logπ (tokens,) fp64: A ~ N(0, 1) per sample, −logπ ~ Exp(1) per token."""
    per_sample = max(1, shape.tokens // shape.samples)
    adv = torch.randn(shape.samples, 1, generator=gen, dtype=torch.float64)  # (S, 1)
    nll = torch.empty(shape.samples, per_sample, dtype=torch.float64).exponential_(generator=gen)  # (S, L)
    return (adv * nll).reshape(-1)  # (S·L,)


def _grads(n: int, elements: int, gen: torch.Generator) -> list[torch.Tensor]:
    """n gradient slices (elements,) fp64: a shared direction plus noise, magnitudes 1e-9..1e-4."""
    scale = 10 ** (torch.rand(elements, generator=gen, dtype=torch.float64) * 5 - 9)  # (E,)
    shared = torch.randn(elements, generator=gen, dtype=torch.float64)  # (E,)
    return [(shared + torch.randn(elements, generator=gen, dtype=torch.float64)) * scale for _ in range(n)]


def _measure(result: torch.Tensor, reference: torch.Tensor, *intermediates: torch.Tensor) -> dict:
    """Relative error (‖result − reference‖ / ‖reference‖), overflow (anything non-finite on the way) and
    underflow (the share of nonzero reference entries that came out 0)."""
    finite = all(bool(torch.isfinite(t).all()) for t in (result, *intermediates))
    err = float((result.double() - reference).norm() / reference.norm()) if finite else math.inf
    underflow = float(((result == 0) & (reference != 0)).double().mean())
    return {"rel_error": err, "overflow": not finite, "underflow": underflow}


def _loss(terms: torch.Tensor, shape: StepShape, dtype: torch.dtype) -> dict:
    parts = [chunk.to(dtype).sum() for chunk in terms.chunk(shape.micro_batches * shape.ranks)]
    z = torch.tensor(shape.normaliser, dtype=dtype)  # fp16 holds at most 65504
    total = _accumulate(parts, dtype)
    return _measure(total / z, terms.sum() / shape.normaliser, z, total, *parts)


def _grad_accum(grads: list[torch.Tensor], dtype: torch.dtype) -> dict:
    return _measure(_accumulate(grads, dtype), torch.stack(grads).sum(0))


def _grad_norm(grad: torch.Tensor, dtype: torch.dtype) -> dict:
    """`clip_grad_norm_`'s way: a norm per parameter tensor, then the norm of the norms, in `dtype`."""
    norms = torch.stack([torch.linalg.vector_norm(p.to(dtype)) for p in grad.chunk(16)])  # (16,)
    return _measure(torch.linalg.vector_norm(norms), grad.norm(), norms)


def _all_reduce(shape: StepShape, gen: torch.Generator, dtype: torch.dtype) -> dict:
    return _grad_accum(_grads(max(shape.ranks, 2), shape.grad_elements, gen), dtype)


def _run(plan: ReductionPlan, shape: StepShape, seed: int) -> dict[str, dict]:
    gen = torch.Generator().manual_seed(seed)
    terms, grads = _loss_terms(shape, gen), _grads(shape.micro_batches, shape.grad_elements, gen)
    out = {
        "loss": _loss(terms, shape, plan.loss),
        "grad_accum": _grad_accum(grads, plan.grad_accum),
        "grad_norm": _grad_norm(torch.stack(grads).sum(0), plan.grad_norm),
    }
    if shape.ranks > 1:
        out["all_reduce"] = _all_reduce(shape, gen, plan.all_reduce)
    for name, figures in out.items():
        figures["dtype"] = dtype_name(getattr(plan, name))
    return out


def _status(name: str, m: dict) -> str:
    bad = m["overflow"] or m["rel_error"] > MAX_REL_ERROR[name] or m["underflow"] > MAX_UNDERFLOW
    return "fail" if bad else "pass"


def check_precision(
    plan: ReductionPlan | None = None,
    shape: StepShape | None = None,
    compute_dtype: torch.dtype | None = None,
    seed: int = 0,
) -> CheckResult:
    """Each reduction of `plan` at the sizes of `shape` vs fp64 (module docstring); with a low-precision
    `compute_dtype` the same reductions in it are reported as `if_<dtype>` (information, not judged)."""
    plan, shape = plan or ReductionPlan(), shape or StepShape()
    measured = _run(plan, shape, seed)
    figures: dict = {"tokens": shape.tokens, "micro_batches": shape.micro_batches, "ranks": shape.ranks}
    figures |= measured
    if compute_dtype is not None and compute_dtype != torch.float32:
        what_if = _run(ReductionPlan(*[compute_dtype] * 4), shape, seed)
        figures[f"if_{dtype_name(compute_dtype)}"] = {k: v["rel_error"] for k, v in what_if.items()}
    statuses = {name: _status(name, m) for name, m in measured.items()}
    bad = [name for name, status in statuses.items() if status == "fail"]
    top = max(measured, key=lambda k: measured[k]["rel_error"])
    headline = f"max rel err {fmt(measured[top]['rel_error'])} ({top}, {measured[top]['dtype']})"
    if bad:
        headline = _message(measured, bad[:1])
    what_if = figures.get(f"if_{dtype_name(compute_dtype)}") if compute_dtype is not None else None
    message = _message(measured, bad)
    if what_if and not bad:  # why the plan keeps these reductions out of the compute dtype
        worst_if = max(what_if, key=what_if.get)
        message += f"; in {dtype_name(compute_dtype)}, {worst_if} would be off by {fmt(what_if[worst_if])}"
    return CheckResult(
        name="precision",
        status=worst(list(statuses.values())),
        headline=headline,
        message=message,
        advice="reduce in fp32: upcast the loss before summing, keep fp32 master weights and .grad, "
        "and an fp32 reduce dtype for FSDP"
        if bad
        else "",
        figures=figures,
        thresholds={f"{k}.rel_error": v for k, v in MAX_REL_ERROR.items()} | {"underflow": MAX_UNDERFLOW},
    )


def _message(measured: dict[str, dict], bad: list[str]) -> str:
    if not bad:
        used = ", ".join(f"{k} {m['dtype']}" for k, m in measured.items())
        return f"every reduction within its limit of fp64 ({used})"
    parts = []
    for name in bad:
        m = measured[name]
        what = "overflows to inf" if m["overflow"] else f"is off by {fmt(m['rel_error'])}"
        if m["underflow"] > MAX_UNDERFLOW and not m["overflow"]:
            what += f", {m['underflow']:.0%} of entries flushed to 0"
        parts.append(f"{name} in {m['dtype']} {what}")
    return "; ".join(parts)
