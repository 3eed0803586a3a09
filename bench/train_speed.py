"""Benchmark: training tokens/s of SmolLM2-135M on CPU, for SFT and for the RL learner, side by side.

The demo's shapes: prompts of 120-200 tokens, answers of 30-90 (random token ids; speed does not depend on
the values). Each variant runs the same batches; figures are the median over `--steps` timed steps after
one warm-up step, plus CPU seconds (on a shared machine CPU time is the better guess of idle speed).

- SFT (`golddiff.sft.answer_loss`, AdamW step), batch 8: fp32 vs bf16 autocast, all layers vs the top 10.
- RL learner (`golddiff.rl.learner.Learner.train_step`), 4 groups of 8 samples: right-padded rows vs
  prompt-shared packing, bf16 autocast, all layers vs the top 10.

    .venv/bin/python bench/train_speed.py --steps 3 --threads 2

Tokens/s counts the tokens of the sequences as the model sees them unpacked (prompt + answer per sample),
so packing's gain shows as a higher figure for the same work. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golddiff.config import bf16_native  # noqa: E402
from golddiff.models import load_model, train_top_layers  # noqa: E402
from golddiff.rl.messages import Group, Sample  # noqa: E402
from golddiff.sft import Example, answer_loss, collate  # noqa: E402

MODEL = "smollm2-135m"


def timed(fn, steps: int) -> tuple[float, float]:
    """(median wall seconds, median CPU seconds) of `fn()` over `steps` runs after one warm-up."""
    fn()
    walls, cpus = [], []
    for _ in range(steps):
        w, c = time.perf_counter(), time.process_time()
        fn()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return statistics.median(walls), statistics.median(cpus)


def sft_batch(rng: random.Random, batch: int) -> list[Example]:
    out = []
    for _ in range(batch):
        p, a = rng.randint(120, 200), rng.randint(30, 90)
        out.append(Example([rng.randrange(100, 40_000) for _ in range(p + a)], p))
    return out


def bench_sft(autocast: torch.dtype | None, layers: int | None, steps: int, seed: int) -> dict:
    model, tok = load_model(MODEL)
    model.train()
    train_top_layers(model, layers)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-5)
    rng = random.Random(seed)
    batches = [sft_batch(rng, 8) for _ in range(steps + 1)]
    it = iter(batches)
    tokens = [sum(len(e.ids) for e in b) for b in batches]

    def step() -> None:
        ids, mask, labels = collate(next(it), tok.pad_token_id)
        loss = answer_loss(model, ids, mask, labels, autocast)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    wall, cpu = timed(step, steps)
    n = statistics.median(tokens)
    return {"tok_s": n / wall, "tok_cpu_s": n / cpu, "step_s": wall}


def rl_groups(rng: random.Random, groups: int, g: int) -> list[Group]:
    out = []
    for i in range(groups):
        prompt = [rng.randrange(100, 40_000) for _ in range(rng.randint(120, 200))]
        samples = []
        for _ in range(g):
            n = rng.randint(30, 90)
            samples.append(
                Sample(
                    token_ids=[rng.randrange(100, 40_000) for _ in range(n)],
                    logprobs=[-rng.uniform(0.5, 3.0) for _ in range(n)],
                    weight_versions=[0] * n,
                    reward=rng.uniform(-1, 1),
                )
            )
        out.append(Group(i, f"p{i}", prompt, samples))
    return out


def bench_learner(pack: bool, layers: int | None, dtype: str, steps: int, seed: int) -> dict:
    from golddiff.rl.config import TrainConfig
    from golddiff.rl.learner import Learner

    cfg = TrainConfig.model_validate(
        {
            "model": {"name": MODEL, "device": "cpu", "learner_dtype": dtype},
            "rl": {"group_size": 8, "prompts_per_step": 4, "max_new_tokens": 96, "lr": 1e-6},
            "actors": {"max_len": 384},
            "learner": {
                "threads": torch.get_num_threads(),
                "micro_batch_tokens": 4096,
                "pack_prompts": pack,
                "train_layers": layers,
            },
            "run": {"preflight": False},
        }
    )
    learner = Learner(cfg)
    learner.setup()
    rng = random.Random(seed)
    work = [rl_groups(rng, 4, 8) for _ in range(steps + 1)]
    it = iter(work)
    tokens = statistics.median(
        sum(len(g.prompt_ids) + len(s.token_ids) for g in w for s in g.samples) for w in work
    )
    wall, cpu = timed(lambda: learner.train_step(next(it)), steps)
    return {"tok_s": tokens / wall, "tok_cpu_s": tokens / cpu, "step_s": wall}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--layers", type=int, default=10, help="the 'top N layers' variant")
    p.add_argument("--only", default="sft,learner")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    bf16 = bf16_native("cpu")
    print(f"threads {a.threads}; CPU bf16 native: {bf16}")
    results: dict[str, dict] = {}
    if "sft" in a.only:
        variants = {"sft fp32 all layers": (None, None)}
        if bf16:
            variants |= {"sft bf16 all layers": (torch.bfloat16, None)}
            variants |= {f"sft bf16 top {a.layers}": (torch.bfloat16, a.layers)}
        for name, (ac, layers) in variants.items():
            results[name] = bench_sft(ac, layers, a.steps, a.seed)
            print(
                f"{name:34s} {results[name]['tok_s']:7.0f} tok/s  ({results[name]['tok_cpu_s']:.0f} per CPU-s)"
            )
    if "learner" in a.only:
        dtype = "bfloat16" if bf16 else "float32"
        variants = {
            f"learner {dtype} padded": (False, None),
            f"learner {dtype} packed": (True, None),
            f"learner {dtype} packed top {a.layers}": (True, a.layers),
        }
        for name, (pack, layers) in variants.items():
            results[name] = bench_learner(pack, layers, dtype, a.steps, a.seed)
            print(
                f"{name:34s} {results[name]['tok_s']:7.0f} tok/s  ({results[name]['tok_cpu_s']:.0f} per CPU-s)"
            )
    names = list(results)
    summary = {k: {m: round(v, 2) for m, v in r.items()} for k, r in results.items()}
    ratios = {}
    if len(names) > 1:
        for group in ("sft", "learner"):
            keys = [k for k in names if k.startswith(group)]
            if len(keys) > 1:
                ratios[f"{group}_best_vs_first"] = round(
                    results[keys[-1]]["tok_s"] / results[keys[0]]["tok_s"], 2
                )
    print(json.dumps({"threads": a.threads, "bf16": bf16, "results": summary, "ratios": ratios}))


if __name__ == "__main__":
    main()
