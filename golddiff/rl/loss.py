"""The Pipeline RL objective: group advantages, learner logprobs in fp32, truncated-IS policy gradient,
and the off-policy metrics (ESS, mismatch KL, clip fraction, lag).

Definitions (π_s: the sampler that produced a token, π: the learner before this step, A: the advantage):
- advantages: A_i = r_i − mean(r_group) ("mean"), or r_i − mean of the other G−1 rewards ("leave_one_out",
  = G/(G−1)·(r_i − mean)); optionally divided by the group's reward std (+ε).
- importance weight per token: w = π(y_t)/π_s(y_t) = exp(logπ − logπ_s), both at the same temperature.
- loss (default, PipelineRL's truncated IS): L = −Σ_t min(w, is_cap)·A·logπ(y_t) / Z, with the weight
  detached, so ∇L = −Σ_t min(w, c)·A·∇logπ / Z. With `ppo_clip` = ε: L = −Σ_t min(w·A, clip(w, 1±ε)·A) / Z.
- Z is a constant, never the batch's token count (which would weight a token by how many others share its
  batch): "budget" = samples per step × max_new_tokens (default), "samples" = samples per step
  (PipelineRL's), or any number. Only "tokens" (per-batch trained tokens) is the per-batch count, offered
  for comparison.
- ESS = (Σw)² / (n·Σw²) over the trained tokens, before truncation (1 = on-policy).
- mismatch KL = mean(w − 1 − log w) (the k3 estimator of KL(π_s ‖ π) from tokens sampled by π_s).
- clip_frac = share of tokens whose weight was truncated (PPO: whose clipped branch was taken).
- lag = learner version − the version that sampled the token.

Logprobs: the backbone's hidden states at trained positions go through the LM head in fp32, are divided by
the temperature and log-softmaxed in fp32, exactly as the engine samples. CPU or GPU, wherever the model is.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

Baseline = Literal["mean", "leave_one_out"]


def group_advantages(
    rewards: torch.Tensor, baseline: Baseline = "mean", std_normalise: bool = False, eps: float = 1e-6
) -> torch.Tensor:
    """rewards (N, G), one row per prompt → advantages (N, G). A group of one gets advantage 0."""
    n, g = rewards.shape
    mean = rewards.mean(dim=1, keepdim=True)  # (N, 1)
    adv = rewards - mean  # (N, G)
    if baseline == "leave_one_out":
        adv = adv * (g / (g - 1)) if g > 1 else torch.zeros_like(rewards)  # r_i − mean of the others
    if std_normalise:
        std = rewards.std(dim=1, keepdim=True, unbiased=False) if g > 1 else torch.ones_like(mean)  # (N, 1)
        adv = adv / (std + eps)
    return adv


def advantages_of(
    rewards: Sequence[Sequence[float]], baseline: Baseline = "mean", std_normalise: bool = False
) -> list[list[float]]:
    """Per-group rewards (lists, possibly of different sizes) → per-sample advantages, same shape."""
    out = []
    for group in rewards:
        r = torch.tensor([list(group)], dtype=torch.float64)  # (1, G)
        out.append(group_advantages(r, baseline, std_normalise)[0].tolist())
    return out


def token_logprobs(
    model: nn.Module,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    targets: torch.Tensor,
    temperature: float = 1.0,
    where: torch.Tensor | None = None,
) -> torch.Tensor:
    """log π(targets[b, t] | input_ids[b, :t+1]) in fp32 for a Hugging Face causal LM, (B, T).

    Only the positions in `where` (B, T) bool (default: every real token) go through the LM head; the
    others are 0. The head runs in fp32 whatever the model's dtype, outside any autocast."""
    backbone = getattr(model, model.base_model_prefix)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state  # (B, T, C)
    where = attention_mask.bool() if where is None else where  # (B, T)
    head = model.get_output_embeddings()
    with torch.autocast(device_type=hidden.device.type, enabled=False):
        h = hidden[where].float()  # (M, C)
        bias = None if head.bias is None else head.bias.float()
        logits = F.linear(h, head.weight.float(), bias) / temperature  # (M, V)
        picked = logits.log_softmax(dim=-1).gather(1, targets[where][:, None]).squeeze(1)  # (M,)
    out = torch.zeros(targets.shape, dtype=torch.float32, device=hidden.device)  # (B, T)
    return out.masked_scatter(where, picked)


class PolicyModel(nn.Module):
    """A causal LM whose forward returns token logprobs (`token_logprobs`). The learner shards and trains
    this wrapper, so that under FSDP2 the embeddings and LM head (tied or not) live in the root group and are
    gathered by the root's forward. `model` keeps its Hugging Face type (save_pretrained, config)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        targets: torch.Tensor,
        where: torch.Tensor,
        temperature: float = 1.0,
    ) -> torch.Tensor:
        return token_logprobs(self.model, input_ids, attention_mask, targets, temperature, where)


@dataclass
class OffPolicyStats:
    """Sums over trained tokens, additive across micro-batches and ranks; `metrics()` turns them into the
    off_policy/* figures of docs/architecture.md, "Metrics"."""

    tokens: float = 0.0
    sum_w: float = 0.0
    sum_w2: float = 0.0
    sum_k3: float = 0.0
    clipped: float = 0.0
    loss: float = 0.0
    sum_lag: float = 0.0
    max_lag: float = 0.0
    lag_hist: list[int] = field(default_factory=list)

    def __iadd__(self, other: OffPolicyStats) -> OffPolicyStats:
        for name in ("tokens", "sum_w", "sum_w2", "sum_k3", "clipped", "loss", "sum_lag"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.max_lag = max(self.max_lag, other.max_lag)
        n = max(len(self.lag_hist), len(other.lag_hist))
        pad = lambda h: h + [0] * (n - len(h))  # noqa: E731
        self.lag_hist = [a + b for a, b in zip(pad(self.lag_hist), pad(other.lag_hist))]
        return self

    def metrics(self) -> dict[str, float]:
        n = self.tokens
        return {
            "loss/pg": self.loss,
            "off_policy/ess": self.sum_w**2 / (n * self.sum_w2) if n and self.sum_w2 else 1.0,
            "off_policy/mismatch_kl": self.sum_k3 / n if n else 0.0,
            "off_policy/clip_frac": self.clipped / n if n else 0.0,
            "off_policy/lag_mean": self.sum_lag / n if n else 0.0,
            "off_policy/lag_max": self.max_lag,
        }


def policy_loss(
    new_logprobs: torch.Tensor,
    old_logprobs: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    normaliser: float,
    is_cap: float = 1.2,
    ppo_clip: float | None = None,
) -> tuple[torch.Tensor, OffPolicyStats]:
    """The loss (a scalar to call backward on) and the IS sums, from (B, T) tensors: learner logprobs (with
    grad), sampler logprobs, advantages and the bool loss mask. See the module docstring."""
    m = mask.float()  # (B, T)
    log_w = ((new_logprobs - old_logprobs) * m).clamp(-20, 20)  # (B, T), 0 off the mask
    w = torch.exp(log_w)  # (B, T)
    if ppo_clip is None:
        w_cap = w.detach().clamp(max=is_cap)  # (B, T) truncated, no gradient through the weight
        per_token = -w_cap * advantages * new_logprobs  # (B, T)
        clipped = (w.detach() > is_cap) & mask  # (B, T)
    else:
        unclipped = w * advantages  # (B, T)
        clipped_term = w.clamp(1 - ppo_clip, 1 + ppo_clip) * advantages  # (B, T)
        per_token = -torch.minimum(unclipped, clipped_term)  # (B, T)
        clipped = (clipped_term < unclipped).detach() & mask  # (B, T) the clipped branch was taken
    loss = (per_token * m).sum() / normaliser
    with torch.no_grad():
        wd, lw = w.detach()[mask], log_w.detach()[mask]  # (M,) each
        stats = OffPolicyStats(
            tokens=float(mask.sum()),
            sum_w=float(wd.sum()),
            sum_w2=float((wd * wd).sum()),
            sum_k3=float((lw.exp() - 1 - lw).sum()),
            clipped=float(clipped.sum()),
            loss=float(loss.detach()),
        )
    return loss, stats


def lag_stats(versions: torch.Tensor, mask: torch.Tensor, learner_version: int) -> OffPolicyStats:
    """Lag (learner version − token version) of the trained tokens: sum, max and histogram."""
    lag = (learner_version - versions)[mask]  # (M,)
    if lag.numel() == 0:
        return OffPolicyStats()
    if int(lag.min()) < 0:
        raise ValueError(f"a token was sampled by version {int(versions[mask].max())}, after the learner's")
    hist = torch.bincount(lag).tolist()
    return OffPolicyStats(sum_lag=float(lag.sum()), max_lag=float(lag.max()), lag_hist=hist)
