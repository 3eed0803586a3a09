"""Which prompt dataset a run trains on, and the order prompts are drawn in.

`open_dataset` gives the run's dataset (`golddiff.rl.dataset`): tasks.parquet from `golddiff tasks` (one
split, `TaskDataset`), or the synthetic tasks of `golddiff.rl.synthetic`; `task_ids` gives its ids without
a tokenizer.

`PromptOrder` maps a stream position (0, 1, 2, … over the whole run) to a dataset row: epoch after epoch,
each epoch a permutation seeded by (seed, epoch). Position p is the ledger's key; its prompt id is the task
id (with `#epoch` after the first epoch). Actors, driver and prompt source build the same order from the
config, so only positions travel. No torch here (the tokenizer is passed in).
"""

from __future__ import annotations

import random
from typing import Any

from golddiff.rl.config import DataSection, TrainConfig, check_data_files
from golddiff.rl.dataset import PromptDataset, TaskDataset
from golddiff.rl.messages import PromptTicket
from golddiff.rl.synthetic import open_synthetic, synthetic_ids
from golddiff.tasks import iter_tasks_parquet


def task_ids(cfg: TrainConfig) -> list[str]:
    """The dataset's task ids in row order, without a tokenizer (for the driver and the prompt source)."""
    if cfg.data.synthetic is not None:
        return synthetic_ids(cfg.data.synthetic)
    check_data_files(cfg)
    ids = [t.task_id for t in iter_tasks_parquet(cfg.data.tasks) if t.split == cfg.data.split]
    if not ids:
        raise ValueError(f"{cfg.data.tasks}: no tasks in split {cfg.data.split!r}")
    return ids


def open_dataset(cfg: TrainConfig, tokenizer: Any) -> PromptDataset:
    if cfg.data.synthetic is not None:
        return open_synthetic(cfg.data.synthetic, tokenizer, cfg.rl.max_new_tokens, cfg.rl.group_size)
    return TaskDataset(cfg.data.tasks, cfg.data.split, tokenizer, cfg.rl.max_new_tokens, cfg.reward)


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
