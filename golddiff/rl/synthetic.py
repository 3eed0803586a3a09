"""Synthetic tasks with a known optimum, for the learning test and `bench/pipeline.py`.

`charset` (the default): the prompt asks "Write N letters." (or digits, capitals, …); exactly N tokens are
sampled (EOS ignored: the answer's length is part of the task), N drawn log-normal with a given median and
99th percentile per prompt, so output lengths are as heavy-tailed as asked (p99/p50 ≥ 4 for the benchmark).
With `lengths: sample` the prompt is "Write letters." and each sample gets its own length from the same
distribution (the environment's budget), so lengths vary within a group as a model's would.
Reward = the share of the N tokens that are characters of the class, in [0, 1]; optimum 1.0 (all of them).
A special token in the answer (such as <|eos|>) is a format error. This is NOT the gold-diff reward: a
random byte-level model never writes a SEARCH/REPLACE block, so the gold-diff reward would be −1 for every
sample and there would be nothing to learn; this one is dense (a random tiny model scores ≈ 0.1 on letters)
and the tiny model reaches ≈ 0.9 within about 20 steps on CPU (lr 1e-3). With several classes the class is
read from the prompt (harder: a tiny model learns it slowly).

`search_replace`: the real gold-diff reward (`golddiff.reward.score`) on one-line edits of tiny files made
with `golddiff.tasks.make_task` ("set y to 7"); optimum 1.0 (the gold answer). The tiny model does not learn
it from scratch in a CPU-sized run; it drives the real reward path end to end (format errors and all).

    python -c "from golddiff.rl.synthetic import *; from golddiff.rl.config import SyntheticSection as S; \
print(synthetic_ids(S(n_prompts=3)))"
"""

from __future__ import annotations

import math
import random
from typing import Any

from golddiff.models import prompt_ids
from golddiff.rl.config import SyntheticSection
from golddiff.rl.dataset import PromptSpec, Score

CLASSES = {
    "letters": "abcdefghijklmnopqrstuvwxyz",
    "capitals": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "digits": "0123456789",
    "vowels": "aeiou",
}
Z99 = 2.3263478740408408  # standard normal quantile at 0.99


def answer_lengths(cfg: SyntheticSection, cap: int) -> list[int]:
    """Per-prompt answer lengths: log-normal with median len_median and p99 len_p99, in [1, cap]."""
    rng = random.Random(f"lengths:{cfg.seed}")
    mu, sigma = math.log(cfg.len_median), max(math.log(max(cfg.len_p99, cfg.len_median) / cfg.len_median), 0)
    sigma /= Z99
    return [min(cap, max(1, round(math.exp(rng.gauss(mu, sigma))))) for _ in range(cfg.n_prompts)]


def synthetic_ids(cfg: SyntheticSection) -> list[str]:
    return [f"{cfg.kind}-{cfg.seed}-{i}" for i in range(cfg.n_prompts)]


def sample_lengths(cfg: SyntheticSection, index: int, group_size: int, cap: int) -> tuple[int, ...]:
    """Per-sample lengths of prompt `index` (`lengths: sample`): the same distribution, fixed by the seed."""
    rng = random.Random(f"sample-lengths:{cfg.seed}:{index}")
    mu, sigma = math.log(cfg.len_median), math.log(max(cfg.len_p99, cfg.len_median) / cfg.len_median) / Z99
    return tuple(min(cap, max(1, round(math.exp(rng.gauss(mu, sigma))))) for _ in range(group_size))


class CharsetTask:
    """The prompt "Write N letters." (or "Write letters." with per-sample lengths); reward = the share of
    the sampled tokens that are characters of the class."""

    def __init__(
        self, cfg: SyntheticSection, tokenizer: Any, max_new_tokens: int, group_size: int = 1
    ) -> None:
        unknown = [c for c in cfg.classes if c not in CLASSES]
        if unknown or not cfg.classes:
            raise ValueError(f"synthetic.classes {unknown or cfg.classes}: choose from {', '.join(CLASSES)}")
        self.cfg, self.tokenizer, self.group_size, self.cap = cfg, tokenizer, group_size, max_new_tokens
        self.lengths = answer_lengths(cfg, max_new_tokens)
        self.classes = [cfg.classes[i % len(cfg.classes)] for i in range(cfg.n_prompts)]
        self.ids = synthetic_ids(cfg)
        self._allowed = {name: {b for b in chars.encode()} for name, chars in CLASSES.items()}

    def __len__(self) -> int:
        return self.cfg.n_prompts

    def task_id(self, index: int) -> str:
        return self.ids[index]

    def prompt(self, index: int) -> PromptSpec:
        if self.cfg.lengths == "sample":
            ids = prompt_ids(self.tokenizer, [{"role": "user", "content": f"Write {self.classes[index]}."}])
            per_sample = sample_lengths(self.cfg, index, self.group_size, self.cap)
            return PromptSpec(ids, max(per_sample), True, per_sample)
        text = f"Write {self.lengths[index]} {self.classes[index]}."
        return PromptSpec(
            prompt_ids(self.tokenizer, [{"role": "user", "content": text}]), self.lengths[index], True
        )

    def score(self, index: int, text: str, token_ids: list[int]) -> Score:
        allowed = self._allowed[self.classes[index]]
        special = any(t >= 256 for t in token_ids)
        hits = sum(1 for t in token_ids if t < 256 and t in allowed)
        n = len(token_ids) if self.cfg.lengths == "sample" else self.lengths[index]
        return Score(hits / max(n, 1), special)


class SearchReplaceTask:
    """One-line edits scored with the gold-diff reward."""

    def __init__(self, cfg: SyntheticSection, tokenizer: Any, max_new_tokens: int) -> None:
        from golddiff.reward import prepare
        from golddiff.tasks import make_task

        rng = random.Random(f"search_replace:{cfg.seed}")
        self.cfg, self.tokenizer, self.max_new_tokens = cfg, tokenizer, max_new_tokens
        self.ids = synthetic_ids(cfg)
        self.tasks = []
        for task_id in self.ids:
            x, y, new = rng.randrange(10), rng.randrange(10), rng.randrange(10)
            base = {"a.py": f"x = {x}\ny = {y}\n"}
            gold = {"a.py": f"x = {x}\ny = {new if new != y else y + 10}\n"}
            request = f"Set y to {gold['a.py'].split('y = ')[1].strip()}."
            self.tasks.append(make_task(base, gold, request=request, task_id=task_id))
        self.targets = [prepare(t) for t in self.tasks]

    def __len__(self) -> int:
        return len(self.tasks)

    def task_id(self, index: int) -> str:
        return self.ids[index]

    def prompt(self, index: int) -> PromptSpec:
        return PromptSpec(prompt_ids(self.tokenizer, self.tasks[index].prompt), self.max_new_tokens)

    def score(self, index: int, text: str, token_ids: list[int]) -> Score:
        from golddiff.reward import score

        result = score(text, self.targets[index])
        return Score(result.value, result.error is not None)


def open_synthetic(cfg: SyntheticSection, tokenizer: Any, max_new_tokens: int, group_size: int = 1):
    if cfg.kind == "charset":
        return CharsetTask(cfg, tokenizer, max_new_tokens, group_size)
    return SearchReplaceTask(cfg, tokenizer, max_new_tokens)
