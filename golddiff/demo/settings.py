"""The demo's settings: stage budgets, with defaults per model.

`smollm2-135m` (the default; any pretrained directory, .gguf file or hub id gets the same profile) and
`tiny` (the byte-level test model, random weights) need different budgets: the pretrained model learns
the answer format in a few dozen steps at a low learning rate and costs ~40x more per token, the tiny one
needs hundreds of steps at a high rate. A budget left unset (None) takes its model's profile value;
`DemoSettings()` is therefore always complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from golddiff.config import Strict

DEMO_SYSTEM_PROMPT = (
    "Fix the code as asked. Answer with SEARCH/REPLACE blocks: the file's path, then <<<<<<< SEARCH, "
    "the exact lines to replace, =======, the new lines, >>>>>>> REPLACE."
)

PRETRAINED = "pretrained"
PROFILES: dict[str, dict[str, Any]] = {
    # SmolLM2-135M on 2 CPU cores: every token costs ~0.27 GFLOP forward, so budgets are counted in
    # samples, prompts are short and answers capped. ~8 minutes with bf16 (AMX / AVX512-BF16), ~4x in fp32.
    PRETRAINED: {
        "edits": 600,
        "bugs": 100,
        "max_len": 448,
        "answer_tokens": 80,
        "sft_steps": 40,
        "sft_lr": 3e-4,
        "sft_batch": 8,
        "sft_train_layers": 12,
        "rl_steps": 32,
        "rl_lr": 1e-4,
        "rl_group": 8,
        "rl_prompts": 2,
        "rl_max_new_tokens": 80,
        "rl_temperature": 1.0,
        "rl_train_layers": 12,
        "rl_no_edit": -1.0,
        "rl_unfinished": -1.0,
        "rl_reward_power": 2.0,
        "eval_samples": 4,
        "eval_temperature": 1.0,
        "eval_max_new_tokens": 80,
    },
    "tiny": {
        "edits": 0,
        "bugs": 500,
        "max_len": 1024,
        "answer_tokens": 1024,
        "sft_steps": 160,
        "sft_lr": 3e-3,
        "sft_batch": 8,
        "sft_train_layers": 0,
        "rl_steps": 16,
        "rl_lr": 3e-4,
        "rl_group": 8,
        "rl_prompts": 4,
        "rl_max_new_tokens": 192,
        "rl_temperature": 1.0,
        "rl_train_layers": 0,
        "rl_no_edit": 0.0,
        "rl_unfinished": None,
        "rl_reward_power": 1.0,
        "eval_samples": 4,
        "eval_temperature": 1.0,
        "eval_max_new_tokens": 192,
    },
}


def profile_of(model: str) -> str:
    return model if model in PROFILES else PRETRAINED


class DemoSettings(Strict):
    out: Path = Path("runs/demo")
    model: str = "smollm2-135m"  # "smollm2-135m", "tiny", a model directory, a .gguf file or a hub id
    seed: int = 0
    edits: int | None = None  # stated-edit requests mined from the standard library (stdlib_edits)
    bugs: int | None = None  # bug-fix episodes mined from the standard library (stdlib_bugs)
    fn_lines: int = 8  # longest function to mine (lines)
    fn_chars: int = 260  # longest function to mine (characters)
    heldout: float = 0.2  # share of sessions (functions) held out
    max_len: int | None = None  # tokens of prompt + answer, everywhere
    answer_tokens: int | None = None  # tasks whose gold answer is longer are left out
    # torch threads of SFT and of the evaluations (RL: one per process). Two are ~1.9x faster on idle
    # cores and far slower on cores other work is using: pass 1 on a busy machine.
    threads: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1))
    sft_steps: int | None = None
    sft_lr: float | None = None
    sft_batch: int | None = None
    sft_autocast: str = "auto"  # bf16 autocast where the CPU has native bf16, else fp32
    sft_train_layers: int | None = None  # top decoder layers trained (0: all)
    rl_steps: int | None = None
    rl_lr: float | None = None
    rl_group: int | None = None
    rl_prompts: int | None = None
    rl_max_new_tokens: int | None = None
    rl_temperature: float | None = None
    rl_train_layers: int | None = None  # top decoder layers trained (0: all)
    # the reward of an answer with no edit during RL (golddiff.reward `no_edit`): -1 for a model that
    # already writes blocks (at 0 SmolLM2's RL learned to copy the code unchanged); the tiny model keeps 0
    rl_no_edit: float | None = None
    # the reward of an answer cut off at rl_max_new_tokens (rl `unfinished_reward`): -1 for the real model;
    # the tiny model's short caps cut most answers, so it keeps scoring them (None)
    rl_unfinished: float | None = None
    # RL scores a positive reward v as v ** power (golddiff.reward `power`; the order of answers is unchanged)
    rl_reward_power: float | None = None
    eval_samples: int | None = None
    eval_tasks: int = 60  # held-out tasks evaluated (the first N in task-id order)
    eval_temperature: float | None = None
    eval_max_new_tokens: int | None = None
    base_eval: bool = True  # evaluate the model before training too
    rl: bool = True
    quiet: bool = False

    @model_validator(mode="before")
    @classmethod
    def _fill_from_profile(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        profile = PROFILES[profile_of(str(data.get("model") or "smollm2-135m"))]
        return data | {k: v for k, v in profile.items() if data.get(k) is None}

    @property
    def profile(self) -> str:
        return profile_of(self.model)


def layers(n: int) -> int | None:
    """A train_layers budget as the trainers take it: 0 means every layer (None)."""
    return n or None
