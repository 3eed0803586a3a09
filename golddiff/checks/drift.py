"""Drift: with identical weights, the engine's sampling logprobs and the learner's logprobs of the same
tokens must agree (exactly up to float noise in fp32, closely in bf16). A disagreement is an off-policy
error that no lag explains: importance weights ≠ 1 on fresh samples, a biased gradient, clipped updates.

    from golddiff.checks.drift import check_drift
    result = check_drift(model, tokenizer, engine_dtype=torch.bfloat16, learner_dtype=torch.bfloat16,
                         engine_temperature=cfg.rl.temperature, learner_temperature=cfg.rl.temperature)

How: the engine (a copy of the weights in `engine_dtype`, as the actors hold them; the built-in engine, or
the one passed in, e.g. a `VLLMEngine` for `golddiff doctor --engine vllm`) samples a few answers at
`engine_temperature`; they go through `build_batch` and the learner's `PolicyModel` forward (fp32 master
weights, autocast to `learner_dtype`, fp32 LM head) at `learner_temperature`. Figures over the sampled
tokens: RMS and mean |Δ logp|, the k3 mismatch KL and ESS exactly as training logs them (`policy_loss`),
and the temperature whose learner logprobs best match the engine's (a search over τ): when it is not the
learner's, the two sides scale the logits differently. CPU or GPU (wherever the model is); a second or two
for the tiny model.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from golddiff.checks.common import compute_in, dtype_name, evaluating, in_dtype, pad_id
from golddiff.checks.result import CheckResult, fmt, judge, worst
from golddiff.rl.batch import Row, TrainBatch, build_batch
from golddiff.rl.loss import PolicyModel, policy_loss

# mismatch KL (k3, per token) limits by the lower precision of the two sides
KL_LIMITS = {"fp32": (1e-6, 1e-4), "low": (1e-3, 1e-2)}  # (warn, fail)
TEMPERATURE_TOL = 0.02  # relative gap between the fitted and the learner's temperature
PROMPTS = ("def add(a, b):\n", "Write 9 letters.", "import os\nimport sys\n", "# fix the failing test\n")


def sample_rows(
    model: nn.Module,
    tokenizer: Any,
    temperature: float,
    samples: int,
    max_new_tokens: int,
    seed: int,
    engine: Any = None,
) -> list[Row]:
    """Sample `samples` answers per built-in prompt with `engine` (an `Engine` holding `model`'s weights;
    default: a built-in engine over `model`); one Row per answer."""
    from golddiff.engine import BuiltinEngine, Engine, Request, SamplingParams

    prompts = [list(tokenizer.encode(text)) for text in PROMPTS]
    max_len = max(len(p) for p in prompts) + max_new_tokens + 1
    params = SamplingParams(
        temperature=temperature, max_new_tokens=max_new_tokens, n=samples, ignore_eos=True
    )
    with evaluating(model):
        if engine is None:
            engine = BuiltinEngine(
                model, tokenizer, max_batch=len(prompts) * samples, max_len=max_len, seed=seed
            )
        sampler: Engine = engine
        done = list(sampler.generate([Request(p, params) for p in prompts]))
    return [Row(c.prompt_ids, c.token_ids, c.logprobs, c.weight_versions, 1.0) for c in done]


def learner_logprobs(
    model: nn.Module, batch: TrainBatch, dtype: torch.dtype, temperature: float
) -> torch.Tensor:
    """The learner's path: `PolicyModel` forward under autocast to `dtype`, (B, T) fp32, 0 off the mask."""
    with evaluating(model), compute_in(model, dtype):
        return PolicyModel(model)(
            batch.input_ids, batch.attention_mask, batch.targets, batch.loss_mask, temperature
        )  # (B, T)


def head_logits(model: nn.Module, batch: TrainBatch, dtype: torch.dtype) -> torch.Tensor:
    """Untempered fp32 logits at the trained positions (M, V), computed as `token_logprobs` does."""
    backbone = getattr(model, model.base_model_prefix)
    with evaluating(model), compute_in(model, dtype):
        hidden = backbone(input_ids=batch.input_ids, attention_mask=batch.attention_mask).last_hidden_state
    head = model.get_output_embeddings()
    bias = None if head.bias is None else head.bias.float()
    with torch.no_grad():
        return F.linear(hidden[batch.loss_mask].float(), head.weight.float(), bias)  # (M, V)


def tempered_rms(
    logits: torch.Tensor, targets: torch.Tensor, sampler_logprobs: torch.Tensor, tau: float
) -> float:
    """RMS of log_softmax(logits/τ)[target] − sampler logprob; logits (M, V), the others (M,)."""
    lp = (logits / tau).log_softmax(-1).gather(1, targets[:, None]).squeeze(1)  # (M,)
    return float((lp - sampler_logprobs).pow(2).mean().sqrt())


def fit_temperature(logits: torch.Tensor, targets: torch.Tensor, sampler_logprobs: torch.Tensor) -> float:
    """The τ in 0.05..5 whose tempered logprobs best match `sampler_logprobs` (least squares): a log-spaced
    grid, then golden-section search between the best point's neighbours."""

    def rms(log_tau: float) -> float:
        return tempered_rms(logits, targets, sampler_logprobs, math.exp(log_tau))

    grid = torch.linspace(math.log(0.05), math.log(5.0), 49).tolist()
    best = min(range(len(grid)), key=lambda i: rms(grid[i]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(40):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        lo, hi = (lo, b) if rms(a) < rms(b) else (a, hi)
    return math.exp((lo + hi) / 2)


def check_drift(
    model: nn.Module,
    tokenizer: Any,
    *,
    engine_dtype: torch.dtype = torch.float32,
    learner_dtype: torch.dtype = torch.float32,
    engine_temperature: float = 1.0,
    learner_temperature: float = 1.0,
    samples: int = 2,
    max_new_tokens: int = 32,
    seed: int = 0,
    engine: Any = None,
) -> CheckResult:
    """Engine vs learner logprobs on the same tokens, same weights (module docstring). `engine`: the
    engine to sample with, already holding `model`'s weights in `engine_dtype` (e.g. a `VLLMEngine`);
    default: a built-in engine over a copy of `model` in `engine_dtype`."""
    learner = in_dtype(model, torch.float32)  # the learner's fp32 master weights
    sampler_model = model if engine is not None else in_dtype(model, engine_dtype)
    try:
        rows = sample_rows(
            sampler_model, tokenizer, engine_temperature, samples, max_new_tokens, seed, engine
        )
    except NotImplementedError as e:  # an architecture the built-in engine does not run
        return CheckResult("drift", "warn", "not measured", f"the engine cannot run this model: {e}")
    batch, _ = build_batch(rows, pad_id(tokenizer), max_len=max(len(r) for r in rows))
    new = learner_logprobs(learner, batch, learner_dtype, learner_temperature)  # (B, T)
    logits = head_logits(learner, batch, learner_dtype)[:256]  # (M, V) at most 256 tokens for the fit
    targets, old = batch.targets[batch.loss_mask][:256], batch.old_logprobs[batch.loss_mask][:256]  # (M,)
    fitted = fit_temperature(logits, targets, old)
    figures = _figures(new, batch)
    figures["fitted_temperature"] = fitted
    figures["rms_at_fitted"] = tempered_rms(logits, targets, old, fitted)
    figures |= {
        "engine_temperature": engine_temperature,
        "learner_temperature": learner_temperature,
        "engine_dtype": dtype_name(engine_dtype),
        "learner_dtype": dtype_name(learner_dtype),
        "engine": "builtin" if engine is None else type(engine).__name__,
    }
    return _verdict(figures, "fp32" if engine_dtype == learner_dtype == torch.float32 else "low")


def _figures(new: torch.Tensor, batch: TrainBatch) -> dict:
    delta = (new - batch.old_logprobs)[batch.loss_mask]  # (M,)
    _, stats = policy_loss(new, batch.old_logprobs, batch.advantages, batch.loss_mask, normaliser=1.0)
    m = stats.metrics()
    return {
        "tokens": int(batch.loss_mask.sum()),
        "rms": float(delta.pow(2).mean().sqrt()),
        "mean_abs": float(delta.abs().mean()),
        "max_abs": float(delta.abs().max()),
        "mismatch_kl": m["off_policy/mismatch_kl"],
        "ess": m["off_policy/ess"],
    }


def _verdict(f: dict, precision: str) -> CheckResult:
    warn_kl, fail_kl = KL_LIMITS[precision]
    gap = abs(f["fitted_temperature"] / f["learner_temperature"] - 1)
    explains = f["rms"] > 2 * f["rms_at_fitted"] and f["mismatch_kl"] > KL_LIMITS["fp32"][0]  # not noise
    temp_status = "fail" if gap > TEMPERATURE_TOL and explains else "pass"
    status = worst([judge(f["mismatch_kl"], warn_kl, fail_kl), temp_status])
    headline = f"KL {fmt(f['mismatch_kl'])}, mean |Δlogp| {fmt(f['mean_abs'])}, ESS {f['ess']:.4f}"
    if temp_status == "fail":
        message = (
            f"the engine's logprobs match temperature {f['fitted_temperature']:.3g}, the learner uses "
            f"{f['learner_temperature']:g}: every importance weight is off before any lag"
        )
        advice = "use one temperature on both sides (rl.temperature); no top-p/top-k in training rollouts"
    elif status != "pass":
        message = f"engine and learner disagree on identical weights (KL {fmt(f['mismatch_kl'])} per token)"
        advice = "check the sampler's logit processing and dtype; keep the LM head in fp32 on both sides"
    else:
        message = f"engine and learner agree on {f['tokens']} sampled tokens (RMS Δlogp {fmt(f['rms'])})"
        advice = ""
    thresholds = {
        "mismatch_kl_warn": warn_kl,
        "mismatch_kl_fail": fail_kl,
        "temperature_gap": TEMPERATURE_TOL,
    }
    return CheckResult("drift", status, headline, message, advice, f, thresholds)
