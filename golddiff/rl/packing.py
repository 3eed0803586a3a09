"""Prompt-shared packing: the G samples of a group go through the learner as one row that holds their
prompt once, so the prompt's forward and backward run once per group instead of G times.

A group's row is `prompt[:-1]`, then for each sample i the segment `[prompt[-1]] + completion_i[:-1]`:
segment i predicts completion_i token by token (its first column, the prompt's last token, predicts the
first completion token). Positions are the unpacked ones (segment i starts at len(prompt) − 1), and the
attention mask lets a segment token see the shared prompt and the earlier tokens of its own segment only,
so every logprob is the one the unpacked row would give (`tests/test_rl_packing.py` checks logprobs and
gradients against `build_batch`). The prompt's last token is computed once per sample (G − 1 extra tokens).

With SmolLM2's demo tasks (prompts of ~150 tokens, G = 8 answers of ~55) the learner feeds ~590 tokens per
group instead of ~1,640: 2.8x fewer. Columns keep `build_batch`'s meaning (column t holds everything about
`targets[t]`), so `policy_loss` and the token accounting are unchanged.

    plan = plan_packed_micro_batches(rows, world=1, max_tokens=4096)     # rows: `rows_from_groups` output
    batch, acct = build_packed_batch(plan[0][0], pad_id, max_len)        # TrainBatch with segments
    mask = packed_attention_mask(batch.segments, batch.position_ids)     # (B, 1, T, T) bool

Pure torch; CPU or GPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from golddiff.rl.batch import Row, TokenAccounting, TrainBatch


def _kept(row: Row, max_len: int) -> int:
    """Completion tokens of `row` that fit `max_len` with its prompt (as `build_batch` keeps them)."""
    return min(len(row.token_ids), max_len - len(row.prompt_ids))


def packed_len(rows: Sequence[Row], max_len: int) -> int:
    """Columns of the packed row of `rows` (which share one prompt)."""
    return len(rows[0].prompt_ids) - 1 + sum(max(_kept(r, max_len), 0) for r in rows)


def _packs(rows: Sequence[Row], max_tokens: int, max_len: int) -> list[list[Row]]:
    """Rows grouped by prompt (in first-seen order), each group cut into packs of at most `max_tokens`
    columns (a pack always takes at least one sample)."""
    groups: dict[tuple[int, ...], list[Row]] = {}
    for row in rows:
        groups.setdefault(tuple(row.prompt_ids), []).append(row)
    packs: list[list[Row]] = []
    for members in groups.values():
        current: list[Row] = []
        for row in members:
            if current and packed_len([*current, row], max_len) > max_tokens:
                packs.append(current)
                current = []
            current.append(row)
        packs.append(current)
    return packs


def plan_packed_micro_batches(
    rows: Sequence[Row], world: int, max_tokens: int, max_len: int
) -> list[list[list[Row]]]:
    """Like `plan_micro_batches`, with packed groups as the unit: plan[rank][micro] = rows, every micro-batch
    a few whole packs whose padded width × count stays within `max_tokens` (one pack may exceed it alone)."""
    packs = sorted(_packs(rows, max_tokens, max_len), key=lambda p: packed_len(p, max_len), reverse=True)
    plan = []
    for rank in range(world):
        micro: list[list[list[Row]]] = []
        for pack in packs[rank::world]:
            if micro and (len(micro[-1]) + 1) * packed_len(micro[-1][0], max_len) <= max_tokens:
                micro[-1].append(pack)  # packs are sorted: the first is the widest
            else:
                micro.append([pack])
        plan.append([[row for pack in m for row in pack] for m in micro])
    n = max((len(m) for m in plan), default=0)
    return [m + [[] for _ in range(n - len(m))] for m in plan]


def build_packed_batch(rows: Sequence[Row], pad_id: int, max_len: int) -> tuple[TrainBatch, TokenAccounting]:
    """One packed row per prompt among `rows` (see the module docstring), right-padded to the widest.

    Truncation and accounting are `build_batch`'s: a completion is cut to fit `max_len` with its prompt, a
    prompt of `max_len` tokens or more drops its sample; prompt tokens are counted once per sample, as if
    unpacked, so the two paths report the same accounting (padding aside)."""
    acct = TokenAccounting()
    packs: list[list[tuple[Row, int]]] = []
    for pack in _packs(rows, max_tokens=10**9, max_len=max_len):
        kept = []
        for row in pack:
            if len(row.prompt_ids) >= max_len:
                acct.dropped_prompt_over_max_len += 1
                continue
            keep = _kept(row, max_len)
            acct.truncated_completion_tokens += len(row.token_ids) - keep
            if keep > 0:
                kept.append((row, keep))
            else:  # nothing of it fits: counted as build_batch counts it, no segment
                acct.samples += 1
                acct.prompt_tokens += len(row.prompt_ids)
        if kept:
            packs.append(kept)
    widths = [len(p[0][0].prompt_ids) - 1 + sum(k for _, k in p) for p in packs]
    b, width = max(len(packs), 1), max(widths, default=1)
    input_ids = torch.full((b, width), pad_id, dtype=torch.long)  # (B, T)
    targets = torch.full((b, width), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((b, width), dtype=torch.long)  # (B, T)
    loss_mask = torch.zeros((b, width), dtype=torch.bool)  # (B, T)
    old_logprobs = torch.zeros((b, width), dtype=torch.float32)  # (B, T)
    versions = torch.full((b, width), -1, dtype=torch.long)  # (B, T)
    advantages = torch.zeros((b, width), dtype=torch.float32)  # (B, T)
    position_ids = torch.zeros((b, width), dtype=torch.long)  # (B, T)
    segments = torch.full((b, width), -1, dtype=torch.long)  # (B, T): 0 prompt, i ≥ 1 sample i, −1 pad
    for i, pack in enumerate(packs):
        prompt = pack[0][0].prompt_ids
        lp = len(prompt) - 1  # shared columns: prompt[:-1]
        input_ids[i, :lp] = torch.tensor(prompt[:-1], dtype=torch.long)
        targets[i, :lp] = torch.tensor(prompt[1:], dtype=torch.long)
        position_ids[i, :lp] = torch.arange(lp)
        segments[i, :lp] = 0
        col = lp
        for s, (row, keep) in enumerate(pack, start=1):
            cols = slice(col, col + keep)
            input_ids[i, cols] = torch.tensor([prompt[-1], *row.token_ids[: keep - 1]], dtype=torch.long)
            targets[i, cols] = torch.tensor(row.token_ids[:keep], dtype=torch.long)
            position_ids[i, cols] = torch.arange(lp, lp + keep)
            segments[i, cols] = s
            loss_mask[i, cols] = torch.tensor(row.train[:keep], dtype=torch.bool)
            old_logprobs[i, cols] = torch.tensor(row.logprobs[:keep], dtype=torch.float32)
            versions[i, cols] = torch.tensor(row.versions[:keep], dtype=torch.long)
            advantages[i, cols] = row.advantage
            acct.samples += 1
            acct.prompt_tokens += len(prompt)
            acct.completion_tokens += keep
            acct.trained_tokens += sum(row.train[:keep])
            col += keep
        attention_mask[i, :col] = 1
        acct.padding_tokens += width - col
    batch = TrainBatch(
        input_ids, attention_mask, targets, loss_mask, old_logprobs, versions, advantages,
        position_ids=position_ids, segments=segments,
    )  # fmt: skip
    return batch, acct


def packed_attention_mask(segments: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """(B, 1, T, T) bool, True where query t may attend to key s: s is in the shared prompt or in t's own
    segment, and not after t. A padding column attends to itself only (a row of all False would give NaN).

    segments, positions: (B, T) as `build_packed_batch` writes them."""
    seg_q, seg_k = segments[:, :, None], segments[:, None, :]  # (B, T, 1), (B, 1, T)
    same = (seg_k == 0) | (seg_k == seg_q)  # (B, T, T)
    causal = positions[:, None, :] <= positions[:, :, None]  # (B, T, T)
    allowed = same & causal & (seg_q >= 0) & (seg_k >= 0)  # (B, T, T)
    pad = segments < 0  # (B, T)
    eye = torch.eye(segments.shape[1], dtype=torch.bool, device=segments.device)[None]  # (1, T, T)
    allowed |= pad[:, :, None] & eye
    return allowed[:, None]  # (B, 1, T, T)
