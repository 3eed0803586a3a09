"""golddiff.engine on real tiny models built in-process: exactness against HF, weight updates, scheduling."""

import queue
import threading

import pytest
import torch
from transformers import GPT2Config, MistralConfig, Qwen2Config, Qwen3Config

from golddiff.engine import BuiltinEngine, Engine, EngineThread, Request, SamplingParams
from golddiff.models import ByteTokenizer, build_model, save_model, tiny_model

TOK = ByteTokenizer()
SMALL = {"vocab_size": len(TOK), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2}
HEADS = {"num_attention_heads": 4, "num_key_value_heads": 2}
CONFIGS = {
    "qwen2": lambda: Qwen2Config(**SMALL, **HEADS),
    "qwen3": lambda: Qwen3Config(**SMALL, **HEADS, head_dim=16),
    "mistral-sliding": lambda: MistralConfig(**SMALL, **HEADS, sliding_window=8),
    "gpt2": lambda: GPT2Config(vocab_size=len(TOK), n_embd=64, n_layer=2, n_head=4, n_positions=256),
}


@pytest.fixture(scope="module")
def model():
    return tiny_model(seed=0)


def prompts(n: int) -> list[list[int]]:
    return [TOK.encode(f"def f{i}(x):\n    return x" + " + 1" * i) for i in range(n)]


def greedy(max_new: int, **kw) -> SamplingParams:
    return SamplingParams(temperature=0.0, max_new_tokens=max_new, ignore_eos=True, **kw)


def hf_greedy(model, prompt: list[int], max_new: int) -> list[int]:
    out = model.generate(
        torch.tensor([prompt]), max_new_tokens=max_new, do_sample=False, eos_token_id=None, pad_token_id=0
    )
    return out[0, len(prompt) :].tolist()


def forward_logprobs(model, prompt: list[int], tokens: list[int], temperature: float = 1.0) -> torch.Tensor:
    """Teacher-forced log p(tokens[i] | prompt + tokens[:i]) from a plain forward pass."""
    with torch.no_grad():
        logits = model(torch.tensor([prompt + tokens])).logits[0].float()  # (T, V)
    logits = logits[len(prompt) - 1 : -1] / (temperature or 1.0)  # (N, V)
    return logits.log_softmax(-1).gather(1, torch.tensor(tokens)[:, None]).squeeze(1)  # (N,)


def run(engine: Engine, requests: list[Request]) -> dict:
    return {(c.request_id, c.sample_index): c for c in engine.generate(requests)}


def test_greedy_matches_hf_generate_and_logprobs_match_forward(model):
    # fewer slots than requests (slots are reused); prompts packed into prefills of at most 64 tokens
    engine = BuiltinEngine(model, TOK, max_batch=3, max_len=128, prefill_tokens=64)
    requests = [Request(p, greedy(12 + 7 * i)) for i, p in enumerate(prompts(6))]
    done = run(engine, requests)
    for r in requests:
        c = done[(r.request_id, 0)]
        assert c.token_ids == hf_greedy(model, r.prompt_ids, r.sampling.max_new_tokens)
        assert c.finish_reason == "length" and c.prompt_ids == r.prompt_ids
        expected = forward_logprobs(model, r.prompt_ids, c.token_ids)
        torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=0)


def test_sampled_logprobs_match_forward_at_temperature(model):
    engine = BuiltinEngine(model, TOK, max_batch=4, max_len=128, seed=1)
    sampling = SamplingParams(temperature=0.7, max_new_tokens=30, ignore_eos=True, n=3)
    requests = [Request(p, sampling) for p in prompts(3)]
    done = run(engine, requests)
    assert len(done) == 9
    for c in done.values():
        expected = forward_logprobs(model, c.prompt_ids, c.token_ids, temperature=0.7)
        torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=0)


def test_same_seed_same_samples_and_n_samples_differ(model):
    sampling = SamplingParams(temperature=1.0, max_new_tokens=20, ignore_eos=True, n=4)
    runs = [
        run(
            BuiltinEngine(model, TOK, max_batch=8, max_len=64, seed=7),
            [Request(prompts(1)[0], sampling, "r")],
        )
        for _ in "ab"
    ]
    assert sorted(runs[0]) == [("r", i) for i in range(4)]
    assert all(runs[0][k].token_ids == runs[1][k].token_ids for k in runs[0])
    assert len({tuple(c.token_ids) for c in runs[0].values()}) > 1


def perturbed(model, scale: float = 0.05) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(123)
    return {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in model.state_dict().items()}


def test_weight_update_mid_generation_stamps_only_later_tokens():
    model, reference = tiny_model(seed=0), tiny_model(seed=0)
    new_weights = perturbed(model)
    requests = [Request(p, greedy(20), f"r{i}") for i, p in enumerate(prompts(3))]
    baseline = run(BuiltinEngine(reference, TOK, max_batch=4, max_len=128), requests)
    engine = BuiltinEngine(model, TOK, max_batch=4, max_len=128)
    for r in requests:
        engine.add_request(r)
    done = {}
    for step in range(40):
        if step == 8:
            engine.update_weights(new_weights, version=1)
        done.update({c.request_id: c for c in engine.step()})
    assert engine.stats()["versions_seen"] == [0, 1] and engine.stats()["weight_updates"] == 1
    for r in requests:
        c, before = done[r.request_id], baseline[(r.request_id, 0)]
        # step 0 samples two tokens (from the prefill, then from the first decode), step i one more
        assert c.weight_versions == [0] * 9 + [1] * 11
        assert c.token_ids[:9] == before.token_ids[:9] and c.logprobs[:9] == before.logprobs[:9]
        assert c.logprobs[9:] != before.logprobs[9:]  # the new weights were used


def test_recompute_kv_gives_the_new_models_logprobs_after_the_update():
    model, new_model = tiny_model(seed=0), tiny_model(seed=5)
    engine = BuiltinEngine(model, TOK, max_batch=4, max_len=128, recompute_kv=True)
    prompt = prompts(1)[0]
    engine.add_request(Request(prompt, SamplingParams(temperature=1.0, max_new_tokens=16, ignore_eos=True)))
    for _ in range(6):
        assert not engine.step()
    engine.update_weights(new_model.state_dict(), version=3)
    (c,) = list(engine.generate([]))
    assert c.weight_versions == [0] * 7 + [3] * 9
    expected = forward_logprobs(new_model, prompt + c.token_ids[:7], c.token_ids[7:])
    torch.testing.assert_close(torch.tensor(c.logprobs[7:]), expected, atol=1e-4, rtol=0)
    assert engine.stats()["recompute_kv_s"] > 0


def test_update_weights_from_another_thread_and_from_safetensors(tmp_path, model):
    other = tiny_model(seed=9)
    save_model(other, TOK, tmp_path)
    engine = BuiltinEngine(tiny_model(seed=0), TOK, max_batch=2, max_len=200)
    thread = threading.Thread(target=engine.update_weights, args=(tmp_path, 2))
    thread.start()
    thread.join()
    (c,) = list(engine.generate([Request(prompts(1)[0], greedy(10))]))
    assert c.weight_versions == [2] * 10
    assert c.token_ids == hf_greedy(other, prompts(1)[0], 10)
    with pytest.raises(KeyError, match="not_a_weight"):
        engine.update_weights({"not_a_weight": torch.zeros(1)}, version=3)
        engine.step()


def test_freed_slot_is_reused_while_a_long_sequence_runs(model):
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=128)
    long = Request(prompts(1)[0], greedy(60), "long")
    shorts = [Request(p, greedy(5), f"short{i}") for i, p in enumerate(prompts(4))]
    order = [c.request_id for c in engine.generate([long, *shorts])]
    assert order[-1] == "long" and len(order) == 5
    # sequential use of the second slot would need 4 × 5 steps beside the long one: all fit in its 60
    assert engine.stats()["decode_steps"] <= 60
    assert 0.5 < engine.stats()["slot_occupancy"] <= 1.0


def test_compaction_moves_a_late_long_sequence_down_and_stays_exact(model):
    engine = BuiltinEngine(model, TOK, max_batch=8, max_len=128)
    requests = [Request(p, greedy(30 if i == 7 else 3)) for i, p in enumerate(prompts(8))]
    done = run(engine, requests)
    assert engine.stats()["compactions"] >= 1
    long = requests[7]
    c = done[(long.request_id, 0)]
    assert c.token_ids == hf_greedy(model, long.prompt_ids, 30)
    torch.testing.assert_close(
        torch.tensor(c.logprobs), forward_logprobs(model, long.prompt_ids, c.token_ids)
    )


def test_bf16_model_updates_its_fp32_head_copy():
    model, other = tiny_model(seed=0).to(torch.bfloat16), tiny_model(seed=4).to(torch.bfloat16)
    prompt = prompts(1)[0]
    (expected,) = BuiltinEngine(other, TOK, max_batch=2, max_len=64).generate([Request(prompt, greedy(10))])
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=64)
    engine.update_weights(other.state_dict(), version=1)
    (c,) = engine.generate([Request(prompt, greedy(10))])
    assert c.token_ids == expected.token_ids and c.logprobs == expected.logprobs


def test_max_new_tokens_and_max_len_cap(model):
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=40)
    prompt = prompts(1)[0]  # 28 tokens
    capped, short = list(
        engine.generate([Request(prompt, greedy(100), "capped"), Request(prompt, greedy(3), "s")])
    )[::-1]
    assert (short.request_id, len(short.token_ids), short.finish_reason) == ("s", 3, "length")
    assert len(capped.token_ids) == 40 - len(prompt) and capped.finish_reason == "length"
    with pytest.raises(ValueError, match="prompt"):
        engine.add_request(list(range(40)))


def test_stop_token_ids_and_stop_strings(model):
    prompt = prompts(1)[0]
    full = hf_greedy(model, prompt, 40)
    engine = BuiltinEngine(model, TOK, max_batch=4, max_len=128)
    (by_token,) = engine.generate([Request(prompt, greedy(40, stop_token_ids=(full[6],)))])
    cut = full.index(full[6]) + 1
    assert (
        by_token.token_ids == full[:cut]
        and by_token.finish_reason == "stop"
        and by_token.stop_reason == full[6]
    )
    # a stop string made of two generated tokens that decode cleanly
    start = next(i for i in range(3, 30) if "\ufffd" not in TOK.decode(full[i : i + 2]))
    stop = TOK.decode(full[start : start + 2])
    end = next(k for k in range(1, 41) if stop in TOK.decode(full[:k]))
    (by_string,) = engine.generate([Request(prompt, greedy(40, stop_strings=(stop,)))])
    assert by_string.token_ids == full[:end] and (by_string.finish_reason, by_string.stop_reason) == (
        "stop",
        stop,
    )
    assert by_string.text.endswith(stop)


def test_eos_stops_unless_ignored(model):
    prompt = prompts(1)[0]
    first = hf_greedy(model, prompt, 1)[0]
    tok = ByteTokenizer()
    tok.eos_token_id = first  # pretend the model's favourite token is EOS
    engine = BuiltinEngine(model, tok, max_batch=2, max_len=64)
    plain = SamplingParams(temperature=0.0, max_new_tokens=5)
    stopped, ignored = engine.generate([Request(prompt, plain, "a"), Request(prompt, greedy(5), "b")])
    assert stopped.token_ids == [first] and (stopped.finish_reason, stopped.stop_reason) == ("stop", first)
    assert len(ignored.token_ids) == 5 and ignored.finish_reason == "length"


def test_top_k_one_is_greedy_with_logprob_zero(model):
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=64)
    prompt = prompts(1)[0]
    (c,) = engine.generate(
        [Request(prompt, SamplingParams(temperature=1.0, top_k=1, max_new_tokens=8, ignore_eos=True))]
    )
    assert c.token_ids == hf_greedy(model, prompt, 8)
    assert max(abs(x) for x in c.logprobs) < 1e-6


def nucleus_logprobs(model, prompt: list[int], tokens: list[int], top_p: float) -> torch.Tensor:
    """Reference: log p(token) renormalised over the smallest set of best tokens holding >= top_p."""
    with torch.no_grad():
        probs = model(torch.tensor([prompt + tokens])).logits[0, len(prompt) - 1 : -1].float().softmax(-1)
    out = []
    for row, token in zip(probs, tokens):  # (V,) per position
        ranked = row.sort(descending=True)
        keep = ranked.indices[: int((ranked.values.cumsum(0) < top_p).sum()) + 1].tolist()
        assert token in keep
        out.append(torch.log(row[token] / row[keep].sum()))
    return torch.stack(out)


def test_top_p_logprobs_are_under_the_renormalised_nucleus(model):
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=64, seed=3)
    prompt = prompts(1)[0]
    (c,) = engine.generate([Request(prompt, SamplingParams(top_p=0.3, max_new_tokens=12, ignore_eos=True))])
    expected = nucleus_logprobs(model, prompt, c.token_ids, 0.3)
    torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=0)


@pytest.mark.parametrize("family", sorted(CONFIGS))
def test_other_architectures_match_hf(family):
    model = build_model(CONFIGS[family](), seed=0)
    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=96)
    requests = [Request(p, greedy(24)) for p in prompts(3)]
    done = run(engine, requests)
    for r in requests:
        c = done[(r.request_id, 0)]
        assert c.token_ids == hf_greedy(model, r.prompt_ids, 24), family
        expected = forward_logprobs(model, r.prompt_ids, c.token_ids)
        torch.testing.assert_close(torch.tensor(c.logprobs), expected, atol=1e-4, rtol=0)


def test_stats_report_throughput_occupancy_and_updates(model):
    engine = BuiltinEngine(model, TOK, max_batch=4, max_len=64)
    engine.update_weights(model.state_dict(), version=5)
    list(engine.generate([Request(p, greedy(10)) for p in prompts(4)]))
    s = engine.stats()
    assert s["tokens_generated"] == 40 and s["tokens_per_s"] > 0
    assert s["versions_seen"] == [5] and s["weight_updates"] == 1 and s["weight_update_s"] > 0
    assert s["slot_occupancy"] == pytest.approx(1.0) and s["active"] == s["waiting"] == 0


def test_engine_thread_takes_requests_and_weights_while_running(model):
    prompt = prompts(1)[0]
    other = tiny_model(seed=6)
    with EngineThread(BuiltinEngine(tiny_model(seed=0), TOK, max_batch=2, max_len=128)) as worker:
        worker.add_request(Request(prompt, greedy(5), "first"))
        first = worker.get(timeout=30)
        worker.update_weights(other.state_dict(), version=1)
        worker.add_request(Request(prompt, greedy(5), "second"))
        second = worker.get(timeout=30)
        with pytest.raises(queue.Empty):
            worker.get(timeout=0.1)
    assert (first.request_id, first.weight_versions) == ("first", [0] * 5)
    assert first.token_ids == hf_greedy(model, prompt, 5)
    assert (second.request_id, second.weight_versions) == ("second", [1] * 5)
    assert second.token_ids == hf_greedy(other, prompt, 5)


def test_engine_thread_reraises_engine_errors():
    with EngineThread(BuiltinEngine(tiny_model(seed=0), TOK, max_batch=2, max_len=64)) as worker:
        worker.update_weights({"no_such_weight": torch.zeros(1)}, version=1)
        with pytest.raises(RuntimeError, match="engine thread failed"):
            worker.get(timeout=30)


def test_sampler_draws_each_token_with_its_probability_and_never_a_filtered_one():
    """Inverse-CDF sampling: frequencies over 200k draws match softmax(logits / T) within 4 sigma; top-k
    leaves out everything past the k best, and a token of probability 0 is never drawn."""
    from golddiff.engine.sampling import sample

    logits = torch.tensor([2.0, 1.0, 0.0, -1.0, float("-inf"), 0.5, -3.0, 1.5])
    n = 200_000
    rows = logits.expand(n, -1).contiguous()  # (n, V)
    gen = torch.Generator().manual_seed(0)
    tokens, logprobs = sample(rows, torch.full((n,), 0.8), generator=gen)
    p = (logits / 0.8).softmax(-1)
    freq = torch.bincount(tokens, minlength=len(logits)).double() / n
    sigma = (p * (1 - p) / n).sqrt()
    assert ((freq - p).abs() <= 4 * sigma + 1e-12).all(), (freq, p)
    assert freq[4] == 0
    torch.testing.assert_close(logprobs, p.log()[tokens], atol=1e-5, rtol=0)
    k_tokens, _ = sample(rows[:20_000], torch.ones(20_000), torch.full((20_000,), 3), torch.ones(20_000), gen)
    assert set(k_tokens.tolist()) == {0, 1, 7}  # the three best


def test_the_builtin_engine_is_the_protocols_engine_with_the_same_signatures(model):
    import inspect

    from golddiff.engine import StepEngine

    engine = BuiltinEngine(model, TOK, max_batch=2, max_len=64)
    assert isinstance(engine, Engine) and isinstance(engine, StepEngine)
    for name in ("generate", "update_weights", "stats", "has_work", "step"):
        protocol = inspect.signature(getattr(StepEngine, name))
        assert inspect.signature(getattr(BuiltinEngine, name)) == protocol, name
    # add_request also takes bare prompt ids (+ sampling, request_id, metadata); a Request is what the
    # protocol promises
    params = inspect.signature(BuiltinEngine.add_request).parameters
    assert list(params)[:2] == ["self", "request"] and all(
        p.default is not inspect.Parameter.empty for p in list(params.values())[2:]
    )
