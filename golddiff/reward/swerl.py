"""The SWE-RL reference reward (Wei et al. 2025), kept beside the gold-diff reward for comparison.

Per file, unified diffs (3 lines of context, file headers dropped) of the prediction and of the gold
against the same original, `difflib.SequenceMatcher(None, pred, gold, autojunk=False).ratio()`, averaged
over every file either side touched; 1.0 when neither changes anything; −1 on a format error. Quadratic in
the diff size (minutes on a 50k-character pair): `golddiff score` skips it over `--swerl-max-chars`, and
`bench/reward.py` measures both rewards side by side.

    from golddiff.reward import swerl_score
    swerl_score(answer_text, task)
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from golddiff.diffs import PatchError, apply_answer, normalize_text, parse_answer

if TYPE_CHECKING:
    from golddiff.tasks import Task


def _swerl_diff(old: str, new: str) -> str:
    """Unified diff with 3 lines of context, the `---`/`+++` header lines dropped ('' if no change)."""
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "old", "new", lineterm="", n=3)
    return "\n".join(list(lines)[2:])


def swerl_reward(code_context: dict[str, str], gold_new: dict[str, str], pred_new: dict[str, str]) -> float:
    """SWE-RL's reward: per file, difflib ratio between the prediction's and the gold's diff against
    the same original, averaged over every file either side changed; 1.0 when neither changes anything.

    >>> swerl_reward({"a.py": "x = 1\\n"}, {"a.py": "x = 2\\n"}, {"a.py": "x = 2\\n"})
    1.0
    """

    def diffs(new: dict[str, str]) -> dict[str, str]:
        out = {p: _swerl_diff(code_context.get(p) or "", c or "") for p, c in new.items()}
        return {p: d for p, d in out.items() if d}

    return swerl_file_ratios(diffs(pred_new), diffs(gold_new))


def swerl_file_ratios(pred: Mapping[str, str], gold: Mapping[str, str]) -> float:
    """SWE-RL's mean over files (either side's) of the difflib ratio of the two per-file diff texts."""
    paths = sorted(set(gold) | set(pred))
    if not paths:
        return 1.0
    ratios = [
        difflib.SequenceMatcher(None, pred.get(p, ""), gold.get(p, ""), autojunk=False).ratio() for p in paths
    ]
    return sum(ratios) / len(ratios)


def swerl_reward_from_answer(
    answer: str,
    code_context: dict[str, str | None],
    gold_new: dict[str, str | None],
    allowed: Iterable[str] | None = None,
) -> float:
    """`swerl_reward` of a SEARCH/REPLACE answer: −1.0 when it does not parse or apply (a format error)."""
    base = {p: normalize_text(c) for p, c in code_context.items()}
    try:
        applied = apply_answer(code_context, parse_answer(answer), allowed)
    except PatchError:
        return -1.0
    pred = {p: c or "" for p, c in applied.items() if normalize_text(c) != base.get(p, "")}
    gold = {p: normalize_text(c) for p, c in gold_new.items()}
    return swerl_reward(base, gold, pred)


def swerl_score(answer: str, task: Task) -> float:
    """`swerl_reward_from_answer` against a task: the best over its golds."""
    base = {p: task.base_files.get(p) for p in task.allowed_paths}
    golds = [{p: g.files.get(p, base[p]) for p in task.allowed_paths} for g in task.gold]
    return max(swerl_reward_from_answer(answer, base, g, task.allowed_paths) for g in golds)
