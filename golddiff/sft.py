"""Supervised warm start: teach a model the answer format on the training tasks' gold answers.

Each example is the task's chat prompt (the model's chat template, generation prompt included) followed by
the first gold answer and EOS, tokenized by `golddiff.models.prompt_ids` / `answer_ids` (as RL and eval
tokenize prompts); the loss is the mean cross-entropy over the answer tokens only (prompt and
padding are masked). `answer_style="from_top"` writes the same gold change as one block per file whose
SEARCH runs from the file's first line down to the last changed line: it gives the same files (so the same
reward), and a small byte-level model learns to copy a block from a fixed start far sooner than it learns
to find one line in the middle; `"gold"` (the default) is the task's own minimal answer. AdamW with linear warm-up then cosine decay, gradient clipping; batches are drawn from
length-sorted chunks of a shuffled order so little compute goes to padding. The result is saved in Hugging
Face format (`golddiff.models.save_model`), with `sft_metrics.jsonl` (loss per step) beside it.

    from golddiff.sft import SFTConfig, train_sft
    result = train_sft(tasks, SFTConfig(model="tiny", steps=200, lr=3e-3), out_dir="runs/sft")

or `golddiff sft tasks.parquet --model tiny --out runs/sft --steps 200`. Runs on CPU (the built-in tiny
model learns the format in minutes on two cores) or on a GPU (`device="cuda"`).
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch

from golddiff.config import Strict
from golddiff.diffs import PatchError, apply_answer, line_diff, normalize_text, parse_answer, split_lines
from golddiff.diffs.search_replace import format_block
from golddiff.models import answer_ids, load_model, prompt_ids, save_model
from golddiff.tasks import Task

IGNORE = -100


class SFTConfig(Strict):
    model: str = "tiny"  # "tiny", "small", a directory or a hub id
    steps: int | None = None  # optimizer steps; None = `epochs` passes over the data
    epochs: float = 1.0
    lr: float = 3e-3
    batch_size: int = 8
    max_len: int = 1024  # examples longer than this (prompt + answer + EOS) are left out
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None  # torch threads (None: torch's default, one per core)
    answer_style: Literal["gold", "from_top"] = "gold"  # see the module docstring
    # "bf16": forward and backward under bf16 autocast (weights, optimizer state and the loss stay fp32);
    # ~1.9x faster on CPUs with AVX512-BF16/AMX and on GPUs. "auto": bf16 where the hardware has it.
    autocast: Literal["off", "bf16", "auto"] = "off"


@dataclass
class Example:
    ids: list[int]  # prompt + answer + EOS
    n_prompt: int  # how many of `ids` are the prompt (no loss)
    task_id: str = ""


@dataclass
class SFTResult:
    steps: int
    examples: int
    skipped_too_long: int
    first_loss: float
    last_loss: float
    seconds: float
    tokens: int
    history: list[dict[str, float]] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ data


def answer_from_top(task: Task) -> str:
    """The first gold as one block per changed file, SEARCH from the file's first line to its last change
    (the minimal gold answer when that would not re-apply exactly, e.g. for a created file)."""
    gold = task.gold[0]
    blocks = []
    for path in task.allowed_paths:
        before, after = task.base_files.get(path), gold.files.get(path, task.base_files.get(path))
        if normalize_text(before) == normalize_text(after):
            continue
        a, b = split_lines(normalize_text(before)), split_lines(normalize_text(after))
        changes = line_diff(a, b)
        if not a or not changes:
            return gold.answer
        _, i2, _, j2 = changes[-1]
        k = max(i2, 1)
        blocks.append(format_block(path, "".join(a[:k]), "".join(b[: j2 + k - i2])))
    answer = "\n".join(blocks)
    try:
        got = apply_answer(task.base_files, parse_answer(answer), task.allowed_paths)
    except PatchError:
        return gold.answer
    same = all(
        normalize_text(got.get(p)) == normalize_text(gold.files.get(p, task.base_files.get(p)))
        for p in task.allowed_paths
    )
    return answer if same and blocks else gold.answer


def sft_answer(task: Task, style: str = "gold") -> str:
    return answer_from_top(task) if style == "from_top" else task.gold[0].answer


def build_examples(
    tasks: Sequence[Task], tokenizer: Any, max_len: int, style: str = "gold"
) -> tuple[list[Example], int]:
    """One example per task (its first gold answer, in `style`); returns them and how many were too long."""
    examples, too_long = [], 0
    for task in tasks:
        p, a = prompt_ids(tokenizer, task.prompt), answer_ids(tokenizer, sft_answer(task, style))
        if len(p) + len(a) > max_len:
            too_long += 1
            continue
        examples.append(Example(p + a, len(p), task.task_id))
    return examples, too_long


def batches(examples: Sequence[Example], batch_size: int, rng: random.Random) -> list[list[Example]]:
    """One epoch: a shuffled order, cut into chunks of 8 batches sorted by length, batches shuffled."""
    order = list(examples)
    rng.shuffle(order)
    chunk = batch_size * 8
    out: list[list[Example]] = []
    for i in range(0, len(order), chunk):
        part = sorted(order[i : i + chunk], key=lambda e: len(e.ids))
        out += [part[j : j + batch_size] for j in range(0, len(part), batch_size)]
    rng.shuffle(out)
    return out


def collate(
    batch: Sequence[Example], pad_id: int, multiple: int = 64
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask, labels), right-padded to a multiple of `multiple` tokens; labels are
    IGNORE except on answer tokens. Few distinct shapes keep oneDNN's bf16 kernel cache (one entry per
    shape, never freed) from growing by gigabytes over a run."""
    width = -(-max(len(e.ids) for e in batch) // multiple) * multiple
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
    mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
    labels = torch.full((len(batch), width), IGNORE, dtype=torch.long)  # (B, T)
    for i, e in enumerate(batch):
        ids[i, : len(e.ids)] = torch.tensor(e.ids)
        mask[i, : len(e.ids)] = 1
        labels[i, e.n_prompt : len(e.ids)] = torch.tensor(e.ids[e.n_prompt :])
    return ids, mask, labels


# ----------------------------------------------------------------------------------------- train


def bf16_supported(device: str) -> bool:
    """Whether `device` runs bf16 matmuls natively (CUDA with bf16, or a CPU with AVX512-BF16/AMX)."""
    if device.startswith("cuda"):
        return torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def autocast_dtype(config: SFTConfig) -> torch.dtype | None:
    """bf16 when asked for (or "auto" and supported), else None (plain fp32)."""
    if config.autocast == "bf16" or (config.autocast == "auto" and bf16_supported(config.device)):
        return torch.bfloat16
    return None


def answer_loss(
    model: torch.nn.Module,
    ids: torch.Tensor,
    mask: torch.Tensor,
    labels: torch.Tensor,
    autocast: torch.dtype | None = None,
) -> torch.Tensor:
    """Mean next-token cross-entropy over the answer tokens (fp32 logits; the model under `autocast`)."""
    device_type = "cuda" if ids.is_cuda else "cpu"
    with torch.autocast(device_type, dtype=autocast or torch.bfloat16, enabled=autocast is not None):
        logits = model(input_ids=ids, attention_mask=mask).logits
    logits = logits.float()  # (B, T, V)
    pred = logits[:, :-1].reshape(-1, logits.shape[-1])  # (B*(T-1), V)
    target = labels[:, 1:].reshape(-1)  # (B*(T-1),)
    return torch.nn.functional.cross_entropy(pred, target, ignore_index=IGNORE)


def lr_at(step: int, total: int, base: float, warmup: int) -> float:
    """Linear warm-up over `warmup` steps, then cosine decay to 10% of `base` at `total`."""
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


def total_steps(config: SFTConfig, n_examples: int) -> int:
    if config.steps is not None:
        return config.steps
    return max(1, math.ceil(config.epochs * n_examples / config.batch_size))


def _step_batches(examples: list[Example], config: SFTConfig, total: int):
    rng = random.Random(config.seed)
    done = 0
    while done < total:
        for batch in batches(examples, config.batch_size, rng):
            if done >= total:
                return
            yield batch
            done += 1


def train_sft(
    tasks: Sequence[Task],
    config: SFTConfig,
    out_dir: str | Path | None = None,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> SFTResult:
    """Fine-tune `config.model` on the tasks' gold answers; save it (and its metrics) to `out_dir`."""
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    model, tokenizer = load_model(config.model, device=config.device, seed=config.seed)
    examples, too_long = build_examples(tasks, tokenizer, config.max_len, config.answer_style)
    if not examples:
        raise ValueError(f"no task fits in max_len={config.max_len} tokens (prompt + gold answer)")
    total = total_steps(config, len(examples))
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    rest = [p for n, p in model.named_parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": rest, "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.95))
    model.train()
    pad = int(getattr(tokenizer, "pad_token_id", None) or 0)
    low = autocast_dtype(config)
    history, tokens, t0 = [], 0, time.perf_counter()
    for step, batch in enumerate(_step_batches(examples, config, total)):
        lr = lr_at(step, total, config.lr, config.warmup_steps)
        for g in opt.param_groups:
            g["lr"] = lr
        ids, mask, labels = (t.to(config.device) for t in collate(batch, pad))
        loss = answer_loss(model, ids, mask, labels, low)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        opt.step()
        tokens += int(mask.sum())
        row = {"step": step + 1, "loss": loss.item(), "lr": lr, "grad_norm": float(grad_norm)}
        row |= {"tokens": tokens, "elapsed_s": time.perf_counter() - t0}
        history.append(row)
        if on_step:
            on_step(row)
    model.eval()
    if out_dir is not None:
        save_sft(model, tokenizer, config, history, out_dir)
    first, last = _smoothed(history)
    return SFTResult(total, len(examples), too_long, first, last, time.perf_counter() - t0, tokens, history)


def _smoothed(history: list[dict[str, float]], k: int = 5) -> tuple[float, float]:
    """Mean loss of the first and of the last k steps."""
    losses = [h["loss"] for h in history]
    return sum(losses[:k]) / len(losses[:k]), sum(losses[-k:]) / len(losses[-k:])


def save_sft(
    model: torch.nn.Module, tokenizer: Any, config: SFTConfig, history: list[dict], out_dir: str | Path
) -> None:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_model(model, tokenizer, out)
    (out / "sft_config.json").write_text(json.dumps(config.model_dump(), indent=2) + "\n")
    with open(out / "sft_metrics.jsonl", "w", encoding="utf-8") as f:
        for row in history:
            f.write(json.dumps(row) + "\n")


@torch.no_grad()
def mean_answer_loss(
    model: torch.nn.Module, examples: Sequence[Example], pad_id: int, batch_size: int = 8
) -> float:
    """The answer-token loss of `model` on `examples` (for tests and sanity checks)."""
    model.eval()
    total, n = 0.0, 0
    for i in range(0, len(examples), batch_size):
        ids, mask, labels = collate(examples[i : i + batch_size], pad_id)
        count = int((labels[:, 1:] != IGNORE).sum())
        total += answer_loss(model, ids, mask, labels).item() * count
        n += count
    return total / max(1, n)
