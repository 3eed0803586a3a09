"""Prompt datasets for training and the order prompts are drawn in.

A dataset (`open_dataset`) answers, for row `index`: its task id, its prompt as token ids with the number of
tokens to sample, and the reward of an answer. Two kinds:
- `TaskDataset`: tasks.parquet from `golddiff tasks` (one split); the prompt is the task's chat messages
  through the tokenizer's chat template; the reward is the gold-diff reward (`golddiff.reward.score`) of the
  decoded answer, where only the final SEARCH/REPLACE blocks count (reasoning before them, and a
  `<think>` section, are ignored by the parser). A malformed or non-applying answer is a format error (−1).
- the synthetic tasks of `golddiff.rl.synthetic`.

`PromptOrder` maps a stream position (0, 1, 2, … over the whole run) to a dataset row: epoch after epoch,
each epoch a permutation seeded by (seed, epoch). Position p is the ledger's key; its prompt id is the task
id (with `#epoch` after the first epoch). Actors, driver and prompt source build the same order from the
config, so only positions travel. No torch here (the tokenizer is passed in).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Protocol

from golddiff.rl.config import DataSection, TrainConfig, check_data_files
from golddiff.rl.messages import PromptTicket


@dataclass(frozen=True)
class PromptSpec:
    """A prompt and how long its samples may be: `max_new_tokens` for all of them, or one length per
    sample (`sample_max_new`, the environment's budget: then each sample is its own engine request)."""

    prompt_ids: list[int]
    max_new_tokens: int
    ignore_eos: bool = False
    sample_max_new: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Score:
    value: float
    format_error: bool


class PromptDataset(Protocol):
    def __len__(self) -> int: ...
    def task_id(self, index: int) -> str: ...
    def prompt(self, index: int) -> PromptSpec: ...
    def score(self, index: int, text: str, token_ids: list[int]) -> Score: ...


def chat_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of chat `messages` plus the assistant prompt, for the byte tokenizer or a HF one."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # some tokenizers return a BatchEncoding
        ids = ids["input_ids"]
    return [int(t) for t in ids]


class TaskDataset:
    """tasks.parquet rows of one split; rewards from `golddiff.reward`."""

    def __init__(self, path: str, split: str, tokenizer: Any, max_new_tokens: int) -> None:
        from golddiff.tasks import read_tasks_parquet

        self.tasks = [t for t in read_tasks_parquet(path) if t.split == split]
        if not self.tasks:
            raise ValueError(f"{path}: no tasks in split {split!r}")
        self.tokenizer, self.max_new_tokens = tokenizer, max_new_tokens
        self._targets: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.tasks)

    def task_id(self, index: int) -> str:
        return self.tasks[index].task_id

    def prompt(self, index: int) -> PromptSpec:
        return PromptSpec(chat_ids(self.tokenizer, self.tasks[index].prompt), self.max_new_tokens)

    def score(self, index: int, text: str, token_ids: list[int]) -> Score:
        from golddiff.reward import prepare, score

        if index not in self._targets:
            self._targets[index] = prepare(self.tasks[index])
        result = score(text, self._targets[index])
        return Score(result.value, result.error is not None)


def task_ids(cfg: TrainConfig) -> list[str]:
    """The dataset's task ids in row order, without a tokenizer (for the driver and the prompt source)."""
    if cfg.data.synthetic is not None:
        from golddiff.rl.synthetic import synthetic_ids

        return synthetic_ids(cfg.data.synthetic)
    from golddiff.tasks import iter_tasks_parquet

    check_data_files(cfg)
    ids = [t.task_id for t in iter_tasks_parquet(cfg.data.tasks) if t.split == cfg.data.split]
    if not ids:
        raise ValueError(f"{cfg.data.tasks}: no tasks in split {cfg.data.split!r}")
    return ids


def open_dataset(cfg: TrainConfig, tokenizer: Any) -> PromptDataset:
    if cfg.data.synthetic is not None:
        from golddiff.rl.synthetic import open_synthetic

        return open_synthetic(cfg.data.synthetic, tokenizer, cfg.rl.max_new_tokens, cfg.rl.group_size)
    return TaskDataset(cfg.data.tasks, cfg.data.split, tokenizer, cfg.rl.max_new_tokens)


class PromptOrder:
    """Stream position → PromptTicket (dataset row and prompt id), epoch after epoch."""

    def __init__(self, ids: list[str], data: DataSection, seed: int) -> None:
        self.ids, self.shuffle, self.seed = ids, data.shuffle, seed
        self._perms: dict[int, list[int]] = {}

    def _perm(self, epoch: int) -> list[int]:
        if epoch not in self._perms:
            perm = list(range(len(self.ids)))
            if self.shuffle:
                random.Random(f"{self.seed}:{epoch}").shuffle(perm)
            self._perms = {epoch: perm}  # positions move forward: keep one epoch
        return self._perms[epoch]

    def ticket(self, position: int, attempt: int = 0) -> PromptTicket:
        epoch, offset = divmod(position, len(self.ids))
        index = self._perm(epoch)[offset]
        prompt_id = self.ids[index] if epoch == 0 else f"{self.ids[index]}#{epoch}"
        return PromptTicket(position, index, prompt_id, attempt)
