"""Rollouts → training tensors: right-padded prompt+completion tokens, a loss mask over completion tokens
only, and the sampler's logprobs, weight versions and advantages aligned to it; with token accounting.

    rows = rows_from_groups(groups, advantages)                  # one Row per sample
    rows, stale = apply_stale_policy(rows, learner_version, max_lag=1, policy="mask")
    for ranks_micro in plan_micro_batches(rows, world=1, max_tokens=8192):
        batch, acct = build_batch(ranks_micro[0], pad_id, max_len)

Alignment: a sequence s = prompt + completion of length L is fed as `input_ids = s[:-1]` and predicts
`targets = s[1:]`, so column t holds everything about the token `targets[t]`: whether it is trained
(`loss_mask`), the logprob it was sampled with (`old_logprobs`), the version that sampled it (`versions`)
and its sample's advantage (`advantages`). Completion token j sits at column len(prompt) − 1 + j.

Truncation is explicit: a sequence longer than `max_len` loses its completion tail (counted in
`truncated_completion_tokens`); a prompt that alone reaches `max_len` drops the sample (counted in
`dropped_prompt_over_max_len`). Nothing is cut silently. Pure torch on CPU; runs anywhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields
from typing import Literal

import torch

from golddiff.rl.messages import Group

StalePolicy = Literal["mask", "drop", "keep"]


@dataclass
class Row:
    """One sample as the learner sees it. `train[j]` is False for completion tokens left out of the loss."""

    prompt_ids: list[int]
    token_ids: list[int]
    logprobs: list[float]
    versions: list[int]
    advantage: float
    train: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.train:
            self.train = [True] * len(self.token_ids)
        n = len(self.token_ids)
        if not (len(self.logprobs) == len(self.versions) == len(self.train) == n):
            raise ValueError(
                f"a sample has {n} tokens but {len(self.logprobs)} logprobs, {len(self.versions)} versions"
            )

    def __len__(self) -> int:
        return len(self.prompt_ids) + len(self.token_ids)


@dataclass
class TokenAccounting:
    """Where every token of a batch went. `trained_tokens` are under the loss mask."""

    samples: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    trained_tokens: int = 0
    padding_tokens: int = 0
    truncated_completion_tokens: int = 0  # past max_len: not in the batch
    dropped_prompt_over_max_len: int = 0  # samples whose prompt alone reaches max_len
    stale_samples: int = 0  # samples with a token more than max_off_policy_steps behind
    stale_tokens: int = 0
    dropped_stale_samples: int = 0  # policy "drop"
    masked_stale_tokens: int = 0  # policy "mask"

    def __iadd__(self, other: TokenAccounting) -> TokenAccounting:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass
class TrainBatch:
    """Padded tensors, all (B, T); see the module docstring for the alignment."""

    input_ids: torch.Tensor  # (B, T) long, right-padded with pad_id
    attention_mask: torch.Tensor  # (B, T) long, 1 on real tokens
    targets: torch.Tensor  # (B, T) long, the token predicted at each column
    loss_mask: torch.Tensor  # (B, T) bool, True on trained completion tokens
    old_logprobs: torch.Tensor  # (B, T) fp32, sampler logprob of targets (0 off the mask)
    versions: torch.Tensor  # (B, T) long, weight version that sampled targets (-1 off completion tokens)
    advantages: torch.Tensor  # (B, T) fp32, the sample's advantage on its completion tokens
    # prompt-shared packing (`golddiff.rl.packing`) only; None for right-padded rows
    position_ids: torch.Tensor | None = None  # (B, T) long, each column's position in its own sequence
    segments: torch.Tensor | None = None  # (B, T) long, 0 shared prompt, i ≥ 1 sample i, −1 padding

    def to(self, device: torch.device | str) -> TrainBatch:
        moved = {f.name: getattr(self, f.name) for f in fields(self)}
        return TrainBatch(**{k: None if v is None else v.to(device) for k, v in moved.items()})


def rows_from_groups(groups: Sequence[Group], advantages: Sequence[Sequence[float]]) -> list[Row]:
    """One Row per sample; `advantages[g][i]` is sample i of group g's advantage."""
    rows = []
    for group, group_adv in zip(groups, advantages, strict=True):
        for sample, adv in zip(group.samples, group_adv, strict=True):
            rows.append(
                Row(group.prompt_ids, sample.token_ids, sample.logprobs, sample.weight_versions, float(adv))
            )
    return rows


def apply_stale_policy(
    rows: list[Row], learner_version: int, max_lag: int, policy: StalePolicy
) -> tuple[list[Row], TokenAccounting]:
    """Count tokens sampled more than `max_lag` versions before `learner_version`; then keep them, mask
    them out of the loss (token by token), or drop their whole sample, as `policy` says."""
    acct = TokenAccounting()
    kept = []
    for row in rows:
        stale = [learner_version - v > max_lag for v in row.versions]
        n_stale = sum(stale)
        acct.stale_tokens += n_stale
        acct.stale_samples += n_stale > 0
        if n_stale and policy == "drop":
            acct.dropped_stale_samples += 1
            continue
        if n_stale and policy == "mask":
            train = [t and not s for t, s in zip(row.train, stale)]
            acct.masked_stale_tokens += sum(row.train) - sum(train)
            row = Row(row.prompt_ids, row.token_ids, row.logprobs, row.versions, row.advantage, train)
        kept.append(row)
    return kept, acct


def build_batch(rows: Sequence[Row], pad_id: int, max_len: int) -> tuple[TrainBatch, TokenAccounting]:
    """Pad `rows` into a TrainBatch of width T = (longest kept sequence, capped at max_len) − 1.

    An empty `rows` gives a one-column batch with an empty loss mask (a rank with nothing to train still
    has to run forward and backward when the learner is sharded)."""
    acct = TokenAccounting()
    seqs: list[tuple[Row, int]] = []  # (row, completion tokens kept)
    for row in rows:
        if len(row.prompt_ids) >= max_len:
            acct.dropped_prompt_over_max_len += 1
            continue
        keep = min(len(row.token_ids), max_len - len(row.prompt_ids))
        acct.truncated_completion_tokens += len(row.token_ids) - keep
        seqs.append((row, keep))
    width = max((len(r.prompt_ids) + k - 1 for r, k in seqs), default=1)
    width = max(width, 1)
    b = max(len(seqs), 1)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)  # (B, T)
    targets = torch.full((b, width), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((b, width), dtype=torch.long)  # (B, T)
    loss_mask = torch.zeros((b, width), dtype=torch.bool)  # (B, T)
    old_logprobs = torch.zeros((b, width), dtype=torch.float32)  # (B, T)
    versions = torch.full((b, width), -1, dtype=torch.long)  # (B, T)
    advantages = torch.zeros((b, width), dtype=torch.float32)  # (B, T)
    for i, (row, keep) in enumerate(seqs):
        seq = row.prompt_ids + row.token_ids[:keep]
        n, first = len(seq) - 1, len(row.prompt_ids) - 1  # inputs; column of completion token 0
        input_ids[i, :n] = torch.tensor(seq[:-1])  # (n,)
        targets[i, :n] = torch.tensor(seq[1:])  # (n,)
        attention_mask[i, :n] = 1
        cols = slice(first, first + keep)
        loss_mask[i, cols] = torch.tensor(row.train[:keep], dtype=torch.bool)  # (keep,)
        old_logprobs[i, cols] = torch.tensor(row.logprobs[:keep], dtype=torch.float32)  # (keep,)
        versions[i, cols] = torch.tensor(row.versions[:keep], dtype=torch.long)  # (keep,)
        advantages[i, cols] = row.advantage
        acct.samples += 1
        acct.prompt_tokens += len(row.prompt_ids)
        acct.completion_tokens += keep
        acct.trained_tokens += sum(row.train[:keep])
        acct.padding_tokens += width - n
    batch = TrainBatch(input_ids, attention_mask, targets, loss_mask, old_logprobs, versions, advantages)
    return batch, acct


def plan_micro_batches(rows: Sequence[Row], world: int, max_tokens: int) -> list[list[list[Row]]]:
    """Split `rows` over `world` ranks and each rank's share into micro-batches of at most `max_tokens`
    padded tokens (one long row may exceed it alone). Every rank gets the same number of micro-batches
    (padded with empty ones), because sharded forward/backward passes are collective.

    Returns plan[rank][micro] = rows. Rows are sorted longest first and dealt round-robin, so ranks get
    similar token counts and each micro-batch holds rows of similar length (little padding)."""
    ordered = sorted(rows, key=len, reverse=True)
    plan = []
    for rank in range(world):
        micro: list[list[Row]] = []
        for row in ordered[rank::world]:
            if micro and (len(micro[-1]) + 1) * len(micro[-1][0]) <= max_tokens:
                micro[-1].append(row)  # rows are sorted: the first is the longest
            else:
                micro.append([row])
        plan.append(micro)
    n = max((len(m) for m in plan), default=0)
    return [m + [[] for _ in range(n - len(m))] for m in plan]
