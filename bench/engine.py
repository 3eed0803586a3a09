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
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path
from statistics import NormalDist

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golddiff.config import torch_dtype  # noqa: E402
from golddiff.engine import BuiltinEngine, Request, SamplingParams  # noqa: E402
from golddiff.models import ByteTokenizer, load_model, small_model, tiny_model  # noqa: E402

MODELS = {"tiny": tiny_model, "small": small_model}
PRETRAINED = {"smollm2-135m": {"prompt": (120, 200), "p50": 48, "p99": 192, "vocab": (100, 40_000)}}


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


def run_engine(model, tok, work, max_batch: int, update_every: int) -> dict:
    versions = [perturbed(model), {k: v.clone() for k, v in model.state_dict().items()}]
    engine = BuiltinEngine(model, tok, max_batch=max_batch, max_len=max(len(p) + n for p, n in work) + 1)
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
    synchronize(engine.device)
    seconds = time.perf_counter() - t0
    stats = engine.stats()
    assert useful == sum(n for _, n in work), "the engine must generate exactly the requested tokens"
    per_update = stats["weight_update_s"] / max(1, stats["weight_updates"])
    between = seconds / max(1, stats["decode_steps"]) * update_every
    return {
        "seconds": seconds,
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
    parser.add_argument("--dtype", default="auto", help="smollm2-135m: auto | float32 | bfloat16")
    args = parser.parse_args()
    n = args.requests or (32 if args.quick else 256)
    max_batch = args.max_batch or (16 if args.quick else 64)
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
