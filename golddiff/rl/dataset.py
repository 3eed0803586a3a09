"""What a prompt dataset is to the RL actors, and the one made of tasks.parquet.

A dataset answers, for row `index`: its task id, its prompt as token ids with the number of tokens to
sample (`PromptSpec`), and the reward of an answer (`Score`). `TaskDataset` holds tasks.parquet rows of
one split: the prompt is the task's chat messages through the tokenizer's chat template
(`golddiff.models.prompt_ids`, as SFT and eval tokenize it); the reward is the gold-diff reward
(`golddiff.reward.score`) of the decoded answer, where only the final SEARCH/REPLACE blocks count
(reasoning before them, and a `<think>` section, are ignored by the parser). A malformed or non-applying
answer is a format error (−1). The synthetic datasets are in `golddiff.rl.synthetic`.
No torch here (the tokenizer is passed in).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from golddiff.models import prompt_ids


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


class TaskDataset:
    """tasks.parquet rows of one split; rewards from `golddiff.reward`."""

    def __init__(
        self, path: str, split: str, tokenizer: Any, max_new_tokens: int, reward: Any = None
    ) -> None:  # reward: golddiff.reward.RewardSettings (None: the defaults)
        from golddiff.tasks import read_tasks_parquet

        self.tasks = [t for t in read_tasks_parquet(path) if t.split == split]
        if not self.tasks:
            raise ValueError(f"{path}: no tasks in split {split!r}")
        self.tokenizer, self.max_new_tokens, self.reward = tokenizer, max_new_tokens, reward
        self._targets: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.tasks)

    def task_id(self, index: int) -> str:
        return self.tasks[index].task_id

    def prompt(self, index: int) -> PromptSpec:
        return PromptSpec(prompt_ids(self.tokenizer, self.tasks[index].prompt), self.max_new_tokens)

    def score(self, index: int, text: str, token_ids: list[int]) -> Score:
        from golddiff.reward import DEFAULT_SETTINGS, prepare, score

        if index not in self._targets:
            self._targets[index] = prepare(self.tasks[index], self.reward or DEFAULT_SETTINGS)
        result = score(text, self._targets[index])
        return Score(result.value, result.error is not None)
