"""GPU figures for golddiff from one lent device: engine vs HF `generate`, the learner's tokens/s and MFU,
the cost of an in-flight weight update, and `golddiff doctor` in bf16 on CUDA. `bench/gpu.sh` runs it.

    bash bench/gpu.sh [OUT_DIR]          # a GPU: sized for ~4 min on one H200 (estimated), stopped at 8; → OUT_DIR/gpu.json
    bash bench/gpu.sh --dry [OUT_DIR]    # CPU (also what runs when no GPU is visible): tiny shapes and
                                         # budgets, the same code paths, under a minute; the tests run it
    .venv/bin/python bench/gpu.py --dry --out runs/bench-gpu      # what gpu.sh runs

Needs only torch, transformers, safetensors, pyarrow, pydantic, pyyaml and rich; no Ray: the engine and the
learner run in this process, and the cross-process weight update spawns one engine process.

Models: random-init (throughput needs no trained weights), saved once (bf16 safetensors and a byte-level
Hugging Face tokenizer of the model's vocabulary) and loaded with golddiff's own loader, bf16 on the GPU, shaped like Qwen2.5-0.5B (Qwen2, hidden
896, 24 layers, 14 query / 2 KV heads, intermediate 4864, vocab 151936, tied embeddings) and SmolLM2-135M
(Llama, hidden 576, 30 layers, 9 / 3 heads, intermediate 1536, vocab 49152, tied).

Phases; each writes its figures into gpu.json as it ends, a failing phase is recorded with its error and the
others still run (exit code 1 if any failed); past `--budget-s` the remaining phases are skipped:
1. `engine`: golddiff's engine (continuous batching, a weight update every `--update-every` decode steps)
   vs HF `generate` (static batches, each run to its longest output) on bench/engine.py's heavy-tailed
   workload (log-normal new tokens, p50 64, p99 512), EOS ignored so lengths are forced; useful tokens/s.
2. `learner`: `Learner.train_step` (bf16 autocast, fp32 master weights and LM head, AdamW) on groups with
   the same heavy-tailed lengths: tokens/s and MFU = (6·N·T + causal attention 6·L·h·T² per sequence)
   FLOPs ÷ step time ÷ the GPU's dense bf16 peak (golddiff/data/hardware.yaml).
3. `weight_update`: the learner's new weights into an engine with every slot in flight, in this process,
   then into an engine in a second process (bench/gpu_weights.py): NCCL broadcast (golddiff's
   BroadcastGroup) when two GPUs are visible, CUDA IPC with one, gloo broadcast and shared memory on CPU.
4. `doctor`: `golddiff doctor --dtype bf16 --device cuda --json` on the SmolLM2-shaped model (in process).
Prints each phase's figures and ends with one JSON line (the summary); gpu.json has all of it with the
date, device and library versions.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from statistics import median

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]

import gpu_weights  # noqa: E402  (bench/gpu_weights.py)
from engine import make_workload, run_engine, run_hf, synchronize  # noqa: E402  (bench/engine.py)

from golddiff.cli import main as golddiff_cli  # noqa: E402
from golddiff.models import load_model, save_model  # noqa: E402
from golddiff.rl.config import load_train_config  # noqa: E402
from golddiff.rl.learner import Learner  # noqa: E402
from golddiff.rl.messages import Group, Sample  # noqa: E402
from golddiff.sim.hardware import load_hardware  # noqa: E402
from golddiff.sim.shapes import shape_from_hf_config  # noqa: E402


@dataclass(frozen=True)
class Sizes:
    requests: int  # engine workload
    max_batch: int  # engine slots = HF static batch
    cap: int  # new tokens at most per request
    update_every: int  # decode steps between the engine bench's weight updates
    prompts: int  # learner step: prompts x samples
    group: int
    steps: int  # timed learner steps, after one warm-up step
    micro_batch_tokens: int
    updates: int  # timed weight updates per transport
    in_flight_tokens: int  # new tokens of the requests kept in flight while weights are updated
    budget_s: float


GPU = Sizes(
    requests=256, max_batch=64, cap=1024, update_every=50, prompts=8, group=8, steps=3,
    micro_batch_tokens=16384, updates=5, in_flight_tokens=512, budget_s=420.0,
)  # fmt: skip
DRY = Sizes(
    requests=8, max_batch=4, cap=24, update_every=8, prompts=2, group=2, steps=1,
    micro_batch_tokens=256, updates=2, in_flight_tokens=16, budget_s=400.0,  # no skipping: gpu.sh stops at 480 s
)  # fmt: skip


def shapes(dry: bool) -> dict:
    """Hugging Face configs of the two shapes (tiny stand-ins of the same families in dry mode)."""
    from transformers import LlamaConfig, Qwen2Config

    if dry:
        qwen = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4,
                    num_key_value_heads=2, vocab_size=512)  # fmt: skip
        smol = dict(hidden_size=48, intermediate_size=128, num_hidden_layers=3, num_attention_heads=3,
                    num_key_value_heads=1, vocab_size=384)  # fmt: skip
    else:
        qwen = dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                    num_key_value_heads=2, vocab_size=151936, rms_norm_eps=1e-6)  # fmt: skip
        smol = dict(hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
                    num_key_value_heads=3, vocab_size=49152, rms_norm_eps=1e-5)  # fmt: skip

    def config(cls, sizes: dict):  # EOS and padding: the last two ids, as stand_in_tokenizer lays them out
        v = sizes["vocab_size"]
        return cls(**sizes, tie_word_embeddings=True, max_position_embeddings=4096, bos_token_id=None,
                   eos_token_id=v - 2, pad_token_id=v - 1)  # fmt: skip

    return {"qwen2.5-0.5b": config(Qwen2Config, qwen), "smollm2-135m": config(LlamaConfig, smol)}


def stand_in_tokenizer(vocab_size: int):
    """A Hugging Face fast tokenizer with exactly `vocab_size` ids, loaded the way a real model's is: the 256
    bytes (byte-level, so any text round-trips), filler tokens, then <|endoftext|> (EOS) and <|pad|>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {char: i for i, char in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab |= {f"<|x{i}|>": 256 + i for i in range(vocab_size - 258)}
    vocab |= {"<|endoftext|>": vocab_size - 2, "<|pad|>": vocab_size - 1}
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", pad_token="<|pad|>")


def save_random_models(configs: dict, root: Path, device: torch.device) -> dict[str, Path]:
    """Each config's random-init model, saved in bf16 with a tokenizer of its vocabulary: {name: directory}."""
    from transformers import AutoModelForCausalLM

    paths = {}
    for name, config in configs.items():
        torch.manual_seed(0)
        with torch.device(device):
            model = AutoModelForCausalLM.from_config(config)
        paths[name] = root / name
        save_model(model.to(torch.bfloat16), stand_in_tokenizer(config.vocab_size), paths[name])
        n = sum(p.numel() for p in model.parameters())
        print(
            f"{name}: {n / 1e6:.1f}M parameters, {config.num_hidden_layers} layers, hidden {config.hidden_size}"
        )
        del model
    return paths


# ---- phase 1: engine vs HF generate ------------------------------------------------------------------


def engine_phase(paths: dict[str, Path], device: torch.device, sizes: Sizes, seed: int) -> dict:
    work = make_workload(sizes.requests, seed, sizes.cap)
    lengths = sorted(n for _, n in work)
    out: dict = {"requests": len(work), "max_batch": sizes.max_batch, "new_tokens": sum(lengths),
                 "p50": lengths[len(work) // 2], "p99": lengths[int(0.99 * len(work))]}  # fmt: skip
    for name, path in paths.items():
        model, tok = load_model(path, torch.bfloat16, device)
        warm = [(p, min(n, 4)) for p, n in work[:2]]  # first kernels, cuBLAS handles, allocator
        with torch.inference_mode():
            run_hf(model, tok, warm, 2)
        run_engine(model, tok, warm, 2, 0)
        with torch.inference_mode():
            hf = run_hf(model, tok, work, sizes.max_batch)
        eng = run_engine(model, tok, work, sizes.max_batch, sizes.update_every)
        ratio = eng["tokens_per_s"] / hf["tokens_per_s"]
        print(f"{name}: engine {eng['tokens_per_s']:,.0f} tok/s vs HF generate {hf['tokens_per_s']:,.0f} → "
              f"{ratio:.2f}x; weight update {eng['weight_update_ms']:.2f} ms every {sizes.update_every} steps "
              f"({100 * eng['weight_update_share']:.2f}% of the time)")  # fmt: skip
        out[name] = {"engine": eng, "hf_generate": hf, "ratio_vs_hf_generate": ratio}
        del model
        _free(device)
    return out


# ---- phase 2: learner --------------------------------------------------------------------------------


def make_learner(path: Path, device: torch.device, sizes: Sizes) -> Learner:
    cfg = load_train_config(None, [
        f"--model.name={path}", f"--model.device={device.type}", "--model.dtype=bfloat16",
        "--model.learner_dtype=bfloat16", f"--learner.num_gpus={int(device.type == 'cuda')}",
        f"--learner.threads={torch.get_num_threads()}", f"--learner.micro_batch_tokens={sizes.micro_batch_tokens}",
        f"--actors.max_len={64 + sizes.cap + 1}", f"--rl.group_size={sizes.group}",
        f"--rl.prompts_per_step={sizes.prompts}", f"--rl.max_new_tokens={sizes.cap}", "--rl.lr=1e-3",
        "--run.preflight=false",
    ])  # fmt: skip
    learner = Learner(cfg)
    learner.setup()
    return learner


def make_groups(sizes: Sizes, vocab: int, seed: int) -> list[Group]:
    """prompts x group samples with the engine workload's heavy-tailed lengths and random tokens."""
    rng = random.Random(seed)
    lengths = [n for _, n in make_workload(sizes.prompts * sizes.group, seed + 1, sizes.cap)]
    groups = []
    for g in range(sizes.prompts):
        prompt = [rng.randrange(256) for _ in range(rng.randint(16, 64))]
        samples = [
            Sample([rng.randrange(vocab) for _ in range(n)], [-math.log(vocab)] * n, [0] * n, rng.random())
            for n in lengths[g * sizes.group : (g + 1) * sizes.group]
        ]
        groups.append(Group(g, f"p{g}", prompt, samples))
    return groups


def training_flops(path: Path, groups: list[Group]) -> float:
    """Useful FLOPs of one step: 6·N per token (N: parameters that do matmuls) + causal attention, forward
    and backward, 6·layers·hidden·T² per sequence of T tokens (the planner's count, golddiff/sim/roofline.py)."""
    shape = shape_from_hf_config(path / "config.json")
    total = 0.0
    for g in groups:
        for s in g.samples:
            t = len(g.prompt_ids) + len(s.token_ids)
            total += 6 * shape.compute_params * t + 6 * shape.layers * shape.hidden * t * t
    return total


def peak_bf16(device: torch.device) -> tuple[str | None, float | None]:
    """The GPU kind in golddiff/data/hardware.yaml and its dense bf16 peak (None off those GPUs)."""
    if device.type != "cuda":
        return None, None
    name = torch.cuda.get_device_name(device).lower()
    kind = next((k for k in ("h200", "h100", "a100") if k in name), None)
    return kind, load_hardware(kind).peak_bf16_flops if kind else None


def learner_phase(paths: dict[str, Path], device: torch.device, sizes: Sizes, seed: int) -> dict:
    kind, peak = peak_bf16(device)
    out: dict = {"peak_bf16_flops": peak, "hardware": kind}
    for name, path in paths.items():
        learner = make_learner(path, device, sizes)
        groups = make_groups(sizes, learner.policy.model.config.vocab_size, seed)
        times, result = [], None
        for _ in range(1 + sizes.steps):  # the first is a warm-up
            synchronize(device)
            t0 = time.perf_counter()
            result = learner.train_step(groups)
            synchronize(device)
            times.append(time.perf_counter() - t0)
        step_s = median(times[1:])
        tokens = sum(len(g.prompt_ids) + len(s.token_ids) for g in groups for s in g.samples)
        flops = training_flops(path, groups)
        mfu = flops / step_s / peak if peak else None
        loss_finite = math.isfinite(result.metrics["loss/pg"]) and math.isfinite(
            result.metrics["optim/grad_norm"]
        )
        print(f"{name}: {tokens:,} tokens per step in {step_s:.3f} s → {tokens / step_s:,.0f} tok/s, "
              f"{flops / step_s / 1e12:.1f} TFLOP/s" + (f", MFU {mfu:.1%}" if mfu else ""))  # fmt: skip
        out[name] = {"tokens_per_step": tokens, "step_s": step_s, "steps_s": times, "tokens_per_s": tokens / step_s,
                     "tflops_per_s": flops / step_s / 1e12, "mfu": mfu, "loss_finite": loss_finite,
                     "micro_batch_tokens": sizes.micro_batch_tokens}  # fmt: skip
        del learner
        _free(device)
    return out


# ---- phase 3: weight updates ---------------------------------------------------------------------------


def weight_update_phase(path: Path, device: torch.device, sizes: Sizes, seed: int) -> dict:
    learner = make_learner(path, device, sizes)
    learner.train_step(make_groups(sizes, learner.policy.model.config.vocab_size, seed))  # weights move
    out = {"in_process": gpu_weights.in_process(learner, path, device, sizes)}
    out["cross_process"] = gpu_weights.cross_process(learner, path, device, sizes)
    del learner
    _free(device)
    return out


# ---- phase 4: golddiff doctor ----------------------------------------------------------------------------


def doctor_phase(path: Path, device: torch.device) -> dict:
    """`golddiff doctor` through its command line, in this process (no second CUDA context)."""
    argv = ["doctor", "--model", str(path), "--dtype", "bf16", "--device", device.type, "--json"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = golddiff_cli(argv)
    lines = [line for line in printed.getvalue().splitlines() if line.startswith("{")]
    if code not in (0, 1) or not lines:  # 1: a check failed, which is a finding, not an error
        raise RuntimeError(f"golddiff {' '.join(argv)} exited {code}: {printed.getvalue()[-2000:]}")
    doc = json.loads(lines[-1])
    print(f"golddiff {' '.join(argv[:1] + argv[3:])}: exit {code}, " + ", ".join(
        f"{name} {row['status']} ({row['headline']})" for name, row in doc["checks"].items()))  # fmt: skip
    return {"exit_code": code, "argv": argv, **doc}


# ---- the run -------------------------------------------------------------------------------------------


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


class Report:
    """gpu.json, rewritten after every phase so that a run cut short keeps what it measured."""

    def __init__(self, path: Path, meta: dict, budget_s: float) -> None:
        self.path, self.budget_s, self.t0 = path, budget_s, time.perf_counter()
        self.data: dict = {**meta, "phases": {}, "errors": {}, "phase_s": {}}

    def phase(self, name: str, run: Callable[[], dict]) -> None:
        elapsed = time.perf_counter() - self.t0
        if elapsed > self.budget_s:
            self.data["errors"][name] = f"skipped: {elapsed:.0f} s spent of a {self.budget_s:.0f} s budget"
            print(f"\n== {name}: {self.data['errors'][name]}", flush=True)
            return self.write()
        print(f"\n== {name}", flush=True)
        t0 = time.perf_counter()
        try:
            self.data["phases"][name] = run()
        except Exception as error:  # recorded; the remaining phases still run on the scarce device
            traceback.print_exc()
            self.data["errors"][name] = f"{type(error).__name__}: {error}"
        self.data["phase_s"][name] = round(time.perf_counter() - t0, 2)
        self.write()

    def write(self) -> None:
        self.data["seconds"] = round(time.perf_counter() - self.t0, 2)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, default=str) + "\n")
        tmp.replace(self.path)


def environment(device: torch.device, dry: bool) -> dict:
    import transformers

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "gpus_visible": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "dry": dry,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "transformers": transformers.__version__,
        "python": sys.version.split()[0],
    }


def summary(data: dict) -> dict:
    phases, out = (
        data["phases"],
        {"dry": data["dry"], "device": data["device"], "errors": sorted(data["errors"])},
    )
    for name, row in phases.get("engine", {}).items():
        if isinstance(row, dict):
            out[f"engine_ratio_vs_hf/{name}"] = round(row["ratio_vs_hf_generate"], 3)
            out[f"engine_tok_s/{name}"] = round(row["engine"]["tokens_per_s"], 1)
    for name, row in phases.get("learner", {}).items():
        if isinstance(row, dict):
            out[f"learner_tok_s/{name}"] = round(row["tokens_per_s"], 1)
            out[f"learner_mfu/{name}"] = row["mfu"] and round(row["mfu"], 4)
    updates = phases.get("weight_update", {})
    if "in_process" in updates:
        out["weight_update_in_process_ms"] = round(updates["in_process"]["update_ms"], 3)
    for transport, row in updates.get("cross_process", {}).get("transports", {}).items():
        out[f"weight_update_{transport}_ms"] = round(row["latency_ms"], 3)
    if "doctor" in phases:
        out["doctor"] = {name: row["status"] for name, row in phases["doctor"]["checks"].items()}
    out["seconds"] = data["seconds"]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dry", action="store_true", help="CPU, tiny shapes and budgets (also when no GPU)")
    parser.add_argument(
        "--out", default=os.environ.get("OUT") or "runs/bench-gpu", help="folder for gpu.json"
    )
    parser.add_argument("--budget-s", type=float, help="skip the phases that would start after this")
    parser.add_argument("--phases", default="engine,learner,weight_update,doctor")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dry = args.dry or not torch.cuda.is_available()
    device = torch.device("cpu" if dry else "cuda")
    if dry:  # tiny models: one thread each (on a shared CPU, threads that wait on each other cost 20x)
        os.environ["OMP_NUM_THREADS"] = "1"  # the engine process and the doctor inherit it
        torch.set_num_threads(1)
    sizes = DRY if dry else GPU
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    meta = environment(device, dry) | {"sizes": asdict(sizes)}
    print(json.dumps(meta))
    report = Report(out / "gpu.json", meta, args.budget_s or sizes.budget_s)
    with tempfile.TemporaryDirectory(prefix="golddiff-gpu-") as tmp:
        paths = save_random_models(shapes(dry), Path(tmp), device)
        phases = {
            "engine": lambda: engine_phase(paths, device, sizes, args.seed),
            "learner": lambda: learner_phase(paths, device, sizes, args.seed),
            "weight_update": lambda: weight_update_phase(paths["qwen2.5-0.5b"], device, sizes, args.seed),
            "doctor": lambda: doctor_phase(paths["smollm2-135m"], device),
        }
        for name in args.phases.split(","):
            report.phase(name, phases[name])
    print(json.dumps(summary(report.data)))
    return 1 if report.data["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
