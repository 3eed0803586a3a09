"""Rewards: the gold-diff reward (what training optimises) and the SWE-RL reference reward.

    from golddiff.reward import prepare, score, swerl_score
    target = prepare(task)                  # task: golddiff.tasks.Task; reuse the target for many answers
    result = score(answer_text, target)     # result.value in [-1, 1], .f1 per part (KINDS), .penalty, .error

- `gold_diff`: the gold-diff reward (`score`, `prepare`): the answer applied to the base files, its change
  scored in four parts against the gold's (`KINDS`: token n-gram F1 of the added and of the removed text,
  of the context around each change, and how near the changes are to the gold's), weighted by fitted
  weights, minus a penalty for what only the rejected attempts had; any applied edit of a file the gold
  changes scores at least a small floor, so abstaining never wins (docs/architecture.md, "The reward");
  `score_diff` for two unified diffs;
- `units`: change blocks, their tokens and n-grams, and the location nearness;
- `swerl`: SWE-RL's difflib reward, for comparison;
- `fit`: measuring and fitting the reward's weights on labelled patches (`bench/reward_quality.py`); it
  uses numpy and is never imported by this package, so scoring needs neither.
Pure functions of their inputs; no torch.
"""

from golddiff.reward.gold_diff import (
    DEFAULT_SETTINGS,
    KINDS,
    RewardResult,
    RewardSettings,
    RewardTarget,
    UnitWeights,
    prepare,
    score,
    score_diff,
)
from golddiff.reward.swerl import swerl_reward, swerl_reward_from_answer, swerl_score

__all__ = [
    "DEFAULT_SETTINGS",
    "KINDS",
    "RewardResult",
    "RewardSettings",
    "RewardTarget",
    "UnitWeights",
    "prepare",
    "score",
    "score_diff",
    "swerl_reward",
    "swerl_reward_from_answer",
    "swerl_score",
]
