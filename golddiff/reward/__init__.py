"""Rewards: the gold-diff reward (what training optimises) and the SWE-RL reference reward.

    from golddiff.reward import prepare, score, swerl_score
    target = prepare(task)                  # task: golddiff.tasks.Task; reuse the target for many answers
    result = score(answer_text, target)     # result.value in [-1, 1], .f1 per unit kind, .penalty, .error

- `gold_diff`: the gold-diff reward (`score`, `prepare`): the answer applied to the base files, its change cut into change, context
  and location units, a weighted F1 against the gold's units minus a penalty for what only the rejected
  attempts had (docs/architecture.md, "The reward"); `score_diff` for two unified diffs;
- `units`: change blocks and the units cut from them (character n-grams, context lines, regions);
- `swerl`: SWE-RL's difflib reward, for comparison.
Pure functions of their inputs; no torch.
"""

from golddiff.reward.gold_diff import (
    DEFAULT_SETTINGS,
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
