"""golddiff.rl.packing: a group's samples in one row with their prompt once give the unpadded rows' logprobs,
loss and gradients, with the same token accounting."""

import random

import pytest
import torch
from tiny_gguf import tiny_llama

from golddiff.models import tiny_model
from golddiff.rl.batch import Row, build_batch, plan_micro_batches
from golddiff.rl.loss import PolicyModel, policy_loss
from golddiff.rl.packing import (
    build_packed_batch,
    packed_attention_mask,
    packed_len,
    plan_packed_micro_batches,
)

PAD = 0


def group_rows(rng: random.Random, n_groups: int, g: int, vocab: int) -> list[Row]:
    rows = []
    for _ in range(n_groups):
        prompt = [rng.randrange(1, vocab) for _ in range(rng.randint(2, 12))]
        for _ in range(g):
            n = rng.randint(1, 9)
            tokens = [rng.randrange(1, vocab) for _ in range(n)]
            logprobs = [-rng.random() for _ in range(n)]
            train = [rng.random() > 0.1 for _ in range(n)]
            rows.append(Row(prompt, tokens, logprobs, [3] * n, rng.uniform(-1, 1), train))
    return rows


def loss_and_grads(model, batch, normaliser: float):
    model.zero_grad(set_to_none=True)
    policy = PolicyModel(model)
    new = policy(
        batch.input_ids, batch.attention_mask, batch.targets, batch.loss_mask, 1.0,
        batch.position_ids, batch.segments,
    )  # fmt: skip
    loss, _ = policy_loss(new, batch.old_logprobs, batch.advantages, batch.loss_mask, normaliser, 1.2, None)
    loss.backward()
    picked = sorted(new[batch.loss_mask].tolist())
    return loss.item(), picked, {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize(
    "make", [lambda: tiny_model(seed=0), lambda: tiny_llama(seed=1)], ids=["tiny", "gqa"]
)
def test_packed_rows_give_the_padded_rows_logprobs_loss_and_gradients(make):
    model = make().float()
    rows = group_rows(random.Random(0), n_groups=3, g=4, vocab=model.config.vocab_size)
    padded, acct_p = build_batch(rows, PAD, max_len=10)
    packed, acct_k = build_packed_batch(rows, PAD, max_len=10)
    assert packed.input_ids.shape[0] == 3  # one row per group
    assert packed.attention_mask.sum() < padded.attention_mask.sum()  # the prompts are in once
    for field in (
        "samples",
        "prompt_tokens",
        "completion_tokens",
        "trained_tokens",
        "truncated_completion_tokens",
    ):
        assert getattr(acct_p, field) == getattr(acct_k, field), field
    assert acct_k.truncated_completion_tokens > 0  # max_len 10 cuts some: the same ones
    z = float(acct_p.trained_tokens)
    loss_p, lp_p, grads_p = loss_and_grads(model, padded, z)
    loss_k, lp_k, grads_k = loss_and_grads(model, packed, z)
    torch.testing.assert_close(torch.tensor(lp_k), torch.tensor(lp_p), atol=2e-5, rtol=0)
    assert abs(loss_p - loss_k) < 1e-5
    assert grads_p.keys() == grads_k.keys()
    for name in grads_p:
        torch.testing.assert_close(grads_k[name], grads_p[name], atol=2e-5, rtol=1e-4, msg=name)


def test_mask_sees_prompt_and_own_segment_only():
    segments = torch.tensor([[0, 0, 1, 1, 2, 2, -1]])
    positions = torch.tensor([[0, 1, 2, 3, 2, 3, 0]])
    m = packed_attention_mask(segments, positions)[0, 0].int()
    expected = torch.tensor(
        [
            [1, 0, 0, 0, 0, 0, 0],
            [1, 1, 0, 0, 0, 0, 0],
            [1, 1, 1, 0, 0, 0, 0],
            [1, 1, 1, 1, 0, 0, 0],
            [1, 1, 0, 0, 1, 0, 0],
            [1, 1, 0, 0, 1, 1, 0],
            [0, 0, 0, 0, 0, 0, 1],  # padding sees itself only
        ]
    )
    assert torch.equal(m, expected)


def test_plan_puts_every_sample_once_and_splits_a_group_over_its_budget():
    rows = group_rows(random.Random(1), n_groups=5, g=8, vocab=200)
    for world in (1, 2):
        plan = plan_packed_micro_batches(rows, world, max_tokens=40, max_len=64)
        assert len({len(m) for m in plan}) == 1  # the same number of micro-batches on every rank
        got = [id(r) for rank in plan for micro in rank for r in micro]
        assert sorted(got) == sorted(id(r) for r in rows)
        for rank in plan:
            for micro in rank:
                if micro:
                    batch, _ = build_packed_batch(micro, PAD, 64)
                    assert batch.input_ids.numel() <= 40 or batch.input_ids.shape[0] == 1
    assert packed_len(rows[:8], 64) == len(rows[0].prompt_ids) - 1 + sum(len(r.token_ids) for r in rows[:8])
    assert len(plan_micro_batches(rows, 1, 40)[0]) > len(plan_packed_micro_batches(rows, 1, 40, 64)[0])
