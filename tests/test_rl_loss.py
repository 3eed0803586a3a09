"""golddiff.rl.loss: the loss and its gradient against hand computations; ESS, mismatch KL, clip fraction
and lag against their definitions; learner logprobs against the engine's sampling logprobs."""

import math

import pytest
import torch

from golddiff.engine import BuiltinEngine, Request, SamplingParams
from golddiff.models import ByteTokenizer, tiny_model
from golddiff.rl.batch import Row, build_batch
from golddiff.rl.loss import (
    OffPolicyStats,
    PolicyModel,
    advantages_of,
    group_advantages,
    lag_stats,
    policy_loss,
    token_logprobs,
)

# a batch of two samples, three completion columns; the last column of sample 0 is off the mask
NEW = [[-1.0, -2.0, -0.7], [-0.5, -1.5, -3.0]]
OLD = [[-1.2, -1.9, -0.7], [-0.5, -2.5, -3.0]]
ADV = [[1.0, 1.0, 1.0], [-0.5, -0.5, -0.5]]
MASK = [[True, True, False], [True, True, True]]
Z = 10.0


def tensors():
    new = torch.tensor(NEW, requires_grad=True)
    return new, torch.tensor(OLD), torch.tensor(ADV), torch.tensor(MASK)


def on_mask(values):
    return [v for row, m in zip(values, MASK) for v, keep in zip(row, m) if keep]


def test_truncated_is_loss_and_gradient_match_hand_computation():
    new, old, adv, mask = tensors()
    loss, stats = policy_loss(new, old, adv, mask, normaliser=Z, is_cap=1.2)
    # by hand: w = exp(new - old) per trained token, truncated at 1.2, detached
    w = [math.exp(n - o) for n, o in zip(on_mask(NEW), on_mask(OLD))]  # e^.2, e^-.1, 1, e^1, 1
    cap = [min(x, 1.2) for x in w]
    a, lp = on_mask(ADV), on_mask(NEW)
    expected = -sum(c * ai * li for c, ai, li in zip(cap, a, lp)) / Z
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    grad = on_mask(new.grad.tolist())
    assert grad == pytest.approx([-c * ai / Z for c, ai in zip(cap, a)], rel=1e-6)
    assert new.grad[0, 2].item() == 0.0  # off the mask: no gradient
    # metrics, by their definitions, over the untruncated weights
    n = len(w)
    assert stats.tokens == n
    m = stats.metrics()
    assert m["off_policy/ess"] == pytest.approx(sum(w) ** 2 / (n * sum(x * x for x in w)), rel=1e-6)
    kl = sum(x - 1 - math.log(x) for x in w) / n
    assert m["off_policy/mismatch_kl"] == pytest.approx(kl, rel=1e-5)
    assert m["off_policy/clip_frac"] == pytest.approx(2 / 5)  # e^.2 and e^1 exceed 1.2
    assert m["loss/pg"] == pytest.approx(expected, rel=1e-6)


def test_ppo_clip_loss_matches_hand_computation():
    new, old, adv, mask = tensors()
    loss, stats = policy_loss(new, old, adv, mask, normaliser=Z, ppo_clip=0.1)
    w = [math.exp(n - o) for n, o in zip(on_mask(NEW), on_mask(OLD))]
    a = on_mask(ADV)
    terms = [min(x * ai, min(max(x, 0.9), 1.1) * ai) for x, ai in zip(w, a)]
    assert loss.item() == pytest.approx(-sum(terms) / Z, rel=1e-6)
    # clipped branch taken: w=e^.2 with A>0 (1.22 > 1.1) and w=e^1 with A<0? no: min picks w·A (more
    # negative) for A<0 and w>1.1, so only the first is clipped
    assert stats.clipped == 1
    loss.backward()
    # the clipped token gets no gradient; an unclipped one gets -w·A/Z (d/dlogπ of w·A is w·A)
    grad = on_mask(new.grad.tolist())
    assert grad[0] == 0.0
    assert grad[1] == pytest.approx(-w[1] * a[1] / Z, rel=1e-6)


def test_on_policy_weights_give_ess_one_and_zero_kl():
    logp = torch.tensor([[-1.0, -2.0, -0.1]])
    loss, stats = policy_loss(
        logp.clone().requires_grad_(), logp, torch.ones(1, 3), torch.ones(1, 3, dtype=torch.bool), 1.0
    )
    m = stats.metrics()
    assert m["off_policy/ess"] == pytest.approx(1.0)
    assert m["off_policy/mismatch_kl"] == pytest.approx(0.0, abs=1e-7)
    assert m["off_policy/clip_frac"] == 0.0


def test_stats_add_up_across_micro_batches():
    new, old, adv, mask = tensors()
    _, whole = policy_loss(new, old, adv, mask, Z)
    _, top = policy_loss(new[:1], old[:1], adv[:1], mask[:1], Z)
    _, bottom = policy_loss(new[1:], old[1:], adv[1:], mask[1:], Z)
    top += bottom
    for key, value in whole.metrics().items():
        assert top.metrics()[key] == pytest.approx(value, rel=1e-6)


def test_group_advantages_mean_leave_one_out_and_std():
    r = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.5, 0.5, 0.5, 0.5]])
    assert group_advantages(r).tolist() == [[0.5, -0.5, -0.5, 0.5], [0.0] * 4]
    # leave-one-out: r_i − mean of the other three
    assert group_advantages(r, "leave_one_out")[0].tolist() == pytest.approx(
        [1 - 1 / 3, -2 / 3, -2 / 3, 1 - 1 / 3]
    )
    assert group_advantages(r, std_normalise=True)[0].tolist() == pytest.approx(
        [1.0, -1.0, -1.0, 1.0], rel=1e-5
    )
    assert group_advantages(r, std_normalise=True)[1].tolist() == [0.0] * 4  # no spread: no signal
    assert advantages_of([[1.0, 0.0], [2.0]]) == [[0.5, -0.5], [0.0]]


def test_lag_is_learner_version_minus_token_version():
    versions = torch.tensor([[3, 2, -1], [1, 3, 3]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    s = lag_stats(versions, mask, learner_version=3)
    assert s.lag_hist == [3, 1, 1]  # lags 0, 1, 2, 0, 0
    s.tokens = 5
    assert s.metrics()["off_policy/lag_mean"] == pytest.approx(3 / 5)
    assert s.metrics()["off_policy/lag_max"] == 2
    with pytest.raises(ValueError, match="after the learner"):
        lag_stats(versions, mask, learner_version=2)
    merged = OffPolicyStats(lag_hist=[1])
    merged += OffPolicyStats(lag_hist=[0, 0, 4])
    assert merged.lag_hist == [1, 0, 4]


@pytest.mark.parametrize("temperature", [1.0, 0.7])
def test_learner_logprobs_match_the_engines_sampling_logprobs(temperature):
    """Same model, same temperature: the training forward (fp32 head) reproduces the sampler's logprobs
    column by column through build_batch's alignment, so on-policy ESS is 1 and mismatch KL ~0."""
    tok, model = ByteTokenizer(), tiny_model(seed=1)
    engine = BuiltinEngine(model, tok, max_batch=8, max_len=96)
    prompts = [tok.encode("Write 9 letters."), tok.encode("hi")]
    params = SamplingParams(temperature=temperature, max_new_tokens=20, n=2, ignore_eos=True)
    done = list(engine.generate([Request(p, params) for p in prompts]))
    rows = [Row(c.prompt_ids, c.token_ids, c.logprobs, c.weight_versions, 1.0) for c in done]
    batch, acct = build_batch(rows, tok.pad_token_id, max_len=96)
    assert acct.trained_tokens == sum(len(c.token_ids) for c in done) == 80
    with torch.no_grad():
        new = PolicyModel(model)(
            batch.input_ids, batch.attention_mask, batch.targets, batch.loss_mask, temperature
        )
        plain = token_logprobs(model, batch.input_ids, batch.attention_mask, batch.targets, temperature)
    torch.testing.assert_close(new[batch.loss_mask], batch.old_logprobs[batch.loss_mask], atol=2e-4, rtol=0)
    torch.testing.assert_close(plain[batch.loss_mask], new[batch.loss_mask])
    _, stats = policy_loss(new, batch.old_logprobs, batch.advantages, batch.loss_mask, 1.0)
    assert stats.metrics()["off_policy/ess"] > 0.9999
    assert stats.metrics()["off_policy/mismatch_kl"] < 1e-6
