"""Measuring and fitting the gold-diff reward on labelled patches (`bench/reward_quality.py` runs it).

A design set is JSON lines, one candidate patch per line: `instance_id`, `gold_patch`, `candidate_patch`
(unified diffs), `resolved` (the tests passed on the candidate) and `source` (the agent run); `repo` and
other keys are ignored. `read_design` checks every line; a bad one is reported with its line number and
skipped, never stops the rest.

- `auroc`: the probability that a resolved candidate outscores an unresolved one (ties count half), by
  ranks in O(n log n).
- `mixed_auroc`: the same on instances that have both labels, two ways: the mean of per-instance AUROCs
  (each instance counts once: how well the score ranks one task's answers, what an RL group sees), and
  the AUROC of all their candidates pooled.
- `instance_folds`: k folds by instance (never by row: one instance appears under several agents).
- `fit_weights`: the reward's part weights, a point of the simplex on a grid (step 0.05 by default,
  each weight at least its stated minimum), chosen by the log-likelihood of a logistic model of
  `resolved` on the weighted sum (its slope and intercept fitted by Newton's method). A handful of
  weights on a grid cannot chase noise the way free coefficients can, and the result is a setting a
  person can read.
- `choose`: the location part's two settings (`LOCATION_GRID`: decay scale 3/5/10/20/40 lines, β 1 or 2;
  β stays ≤ 2 so that changing many places never pays) with their fitted weights, picked by the two
  figures the reward is judged on (pooled AUROC + mean per-instance AUROC) on the rows it is given. Run
  inside cross-validation, on the training folds only, the out-of-fold figures include this choice.
- `swerl_diff_reward`: SWE-RL's per-file reward computed from two unified diffs of the same base.

numpy is used here (fitting only). The reward's runtime path (`golddiff.reward`: `gold_diff`, `units`,
`swerl`) never imports this module, so scoring needs no numpy; `tests/test_reward_fit.py` checks it.
"""

from __future__ import annotations

import difflib
import itertools
import json
import math
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from golddiff.diffs import PatchError, parse_unified_diff
from golddiff.reward.swerl import swerl_file_ratios
from golddiff.reward.units import Block, fbeta, location_scores

# the least weight of each part (`removed` keeps 0.05: see golddiff.reward.gold_diff)
MINIMUM_WEIGHTS = {"added": 0.0, "removed": 0.05, "context": 0.0, "location": 0.0}
FIELDS = {"instance_id": str, "gold_patch": str, "candidate_patch": str, "resolved": bool, "source": str}


@dataclass(frozen=True)
class DesignRow:
    instance_id: str
    gold_patch: str
    candidate_patch: str
    resolved: bool
    source: str


def read_design(path: str | Path) -> tuple[list[DesignRow], list[str]]:
    """The rows of a design set and, for each line skipped, a message naming the file, line and why."""
    rows, skipped = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                skipped.append(f"{path}:{n}: not JSON ({e.msg}); expected one object per line")
                continue
            if not isinstance(record, dict):
                skipped.append(f"{path}:{n}: a JSON {type(record).__name__}, expected an object")
                continue
            bad = [k for k, t in FIELDS.items() if not isinstance(record.get(k), t)]
            if bad:
                want = ", ".join(f"{k} ({FIELDS[k].__name__})" for k in bad)
                skipped.append(f"{path}:{n}: missing or mistyped {want}; fix or drop the line")
                continue
            rows.append(DesignRow(*(record[k] for k in FIELDS)))
    return rows, skipped


# ---------------------------------------------------------------------------------------- AUROC


def auroc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """P(score of a positive > score of a negative), ties half; None without both labels.

    >>> auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True])
    0.75
    """
    n_pos = sum(1 for y in labels if y)
    n_neg = len(labels) - n_pos
    if not n_pos or not n_neg:
        return None
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    rank_sum, i = 0.0, 0
    while i < len(order):  # average ranks over ties
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        mid = (i + j) / 2 + 1
        rank_sum += sum(mid for k in order[i : j + 1] if labels[k])
        i = j + 1
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


@dataclass(frozen=True)
class Mixed:
    mean: float | None  # mean over instances with both labels of their own AUROC
    pooled: float | None  # AUROC of all candidates of those instances together
    instances: int


def mixed_auroc(scores: Sequence[float], labels: Sequence[bool], groups: Sequence[str]) -> Mixed:
    """AUROC on the instances that have both resolved and unresolved candidates."""
    by: dict[str, list[int]] = defaultdict(list)
    for i, g in enumerate(groups):
        by[g].append(i)
    per, keep = [], []
    for idx in by.values():
        a = auroc([scores[i] for i in idx], [labels[i] for i in idx])
        if a is not None:
            per.append(a)
            keep += idx
    pooled = auroc([scores[i] for i in keep], [labels[i] for i in keep]) if keep else None
    return Mixed(sum(per) / len(per) if per else None, pooled, len(per))


def instance_folds(groups: Sequence[str], k: int, seed: int) -> list[int]:
    """A fold number per row; every row of an instance in the same fold, instances shuffled by `seed`
    and dealt round-robin, so folds hold about the same number of instances."""
    instances = sorted(set(groups))
    random.Random(seed).shuffle(instances)
    fold = {g: i % k for i, g in enumerate(instances)}
    return [fold[g] for g in groups]


# ------------------------------------------------------------------------------------------ fit


def simplex_grid(n: int, step: float, minimums: Sequence[float]) -> np.ndarray:
    """Every weight vector of `n` non-negative weights summing to 1 on a grid of `step`, each at least
    its minimum."""
    m = round(1 / step)
    points = [(*c, m - sum(c)) for c in itertools.product(range(m + 1), repeat=n - 1) if sum(c) <= m]
    grid = np.array(points, dtype=float) / m
    return grid[(grid >= np.asarray(minimums) - 1e-9).all(axis=1)]


def logistic_loglik(q: np.ndarray, y: np.ndarray, iters: int = 50) -> np.ndarray:
    """Per column of `q` (rows × candidates), the maximised log-likelihood of P(y) = σ(a·q + b)."""
    a, b = np.full(q.shape[1], 4.0), np.full(q.shape[1], -2.0)
    ridge = 1e-6
    for _ in range(iters):
        z = np.clip(a * q + b, -30, 30)
        p = 1 / (1 + np.exp(-z))
        r, w = p - y[:, None], p * (1 - p)
        ga, gb = (r * q).sum(0), r.sum(0)
        haa, hab, hbb = (w * q * q).sum(0) + ridge, (w * q).sum(0), w.sum(0) + ridge
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        a, b = a - da, b - db
        if max(np.abs(da).max(), np.abs(db).max()) < 1e-7:
            break
    z = a * q + b
    return -(np.logaddexp(0, z) - y[:, None] * z).sum(0)


def weighted(parts: np.ndarray, scored: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """The reward's weighted parts (rows × weight vectors): Σ w·part / Σ w over each row's scored parts
    (`scored`, rows × parts of 0/1), over all parts where the scored ones weigh nothing."""
    num, den = (parts * scored) @ weights.T, scored @ weights.T
    return np.where(den > 0, num / np.where(den > 0, den, 1), parts @ weights.T / weights.sum(1))


def fit_weights(
    parts: np.ndarray,
    labels: Sequence[bool],
    minimums: Sequence[float],
    step: float = 0.05,
    scored: np.ndarray | None = None,
) -> np.ndarray:
    """The grid weights (summing to 1) whose weighted parts (`weighted`; rows × parts, `scored` as in
    `RewardResult.scored`, all by default) best predict the labels under a logistic model; ties go to the
    first grid point."""
    grid = simplex_grid(parts.shape[1], step, minimums)
    y = np.asarray(labels, dtype=float)
    scored = np.ones_like(parts) if scored is None else scored
    best, best_ll = grid[0], -math.inf
    for chunk in np.array_split(grid, max(1, len(grid) // 256)):
        ll = logistic_loglik(weighted(parts, scored, chunk), y)
        k = int(np.argmax(ll))
        if ll[k] > best_ll + 1e-9:
            best, best_ll = chunk[k], float(ll[k])
    return best


LOCATION_GRID = tuple((scale, beta) for scale in (3.0, 5.0, 10.0, 20.0, 40.0) for beta in (1.0, 2.0))


def location_part(pred: list[Block], gold: list[Block], scale: float, beta: float) -> float:
    """The reward's location part for these blocks, as `score_diff` computes it."""
    if not pred:
        return float(not gold)
    return fbeta(*location_scores(pred, gold, scale), beta)


def ranking(q: Sequence[float], labels: Sequence[bool], groups: Sequence[str]) -> float:
    """Pooled AUROC plus the mean per-instance AUROC on mixed-label instances (0.5 where undefined)."""
    pooled = auroc(q, labels)
    mixed = mixed_auroc(q, labels, groups).mean
    return (0.5 if pooled is None else pooled) + (0.5 if mixed is None else mixed)


@dataclass(frozen=True)
class Choice:
    setting: tuple  # the key of `parts_by_setting` chosen, e.g. (location_scale, location_beta)
    weights: np.ndarray
    criterion: float


def choose(
    parts_by_setting: Mapping[tuple, np.ndarray],
    scored: np.ndarray,
    labels: Sequence[bool],
    groups: Sequence[str],
    minimums: Sequence[float],
    step: float = 0.05,
) -> Choice:
    """Per setting (its parts matrix), the weights by `fit_weights`; of those, the setting whose weighted
    parts rank best by `ranking` on these same rows (pass training rows only). Ties: the first."""
    best: Choice | None = None
    for key, parts in parts_by_setting.items():
        w = fit_weights(parts, labels, minimums, step, scored)
        c = ranking(weighted(parts, scored, w[None, :])[:, 0].tolist(), labels, groups)
        if best is None or c > best.criterion + 1e-12:
            best = Choice(key, w, c)
    assert best is not None, "choose: no settings given"
    return best


def folds_of(n_folds: int, folds: Sequence[int]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    f = np.asarray(folds)
    for k in range(n_folds):
        yield np.flatnonzero(f != k), np.flatnonzero(f == k)


# ----------------------------------------------------------------------------------------- SWE-RL


def _file_bodies(diff: str) -> dict[str, str]:
    """Per file, its hunks as SWE-RL's `_swerl_diff` writes them: '@@ -a,b +c,d @@' lines (no section
    heading) and the hunk lines, the file headers dropped."""
    out: dict[str, list[str]] = defaultdict(list)
    for fp in parse_unified_diff(diff):
        for h in fp.hunks:
            old = f"{h.old_start}" if h.old_len == 1 else f"{h.old_start},{h.old_len}"
            new = f"{h.new_start}" if h.new_len == 1 else f"{h.new_start},{h.new_len}"
            out[fp.path].append(f"@@ -{old} +{new} @@")
            out[fp.path] += [ln.rstrip("\n") for ln in h.lines]
    return {p: "\n".join(lines) for p, lines in out.items()}


def swerl_diff_reward(candidate_diff: str, gold_diff: str) -> float:
    """SWE-RL's reward from two unified diffs of the same base: per file, difflib ratio of the two
    files' diff bodies, averaged over every file either side changes; −1 if the candidate is not a diff.

    >>> d = "--- a/a.py\\n+++ b/a.py\\n@@ -1 +1 @@\\n-x = 1\\n+x = 2\\n"
    >>> swerl_diff_reward(d, d)
    1.0
    """
    try:
        pred = _file_bodies(candidate_diff)
    except PatchError:
        return -1.0
    if candidate_diff.strip() and not pred:
        return -1.0  # text, but no diff in it
    return swerl_file_ratios(pred, _file_bodies(gold_diff))


def difflib_ratio(candidate_diff: str, gold_diff: str) -> float:
    """The plain baseline: difflib similarity of the two whole diffs, stripped."""
    return difflib.SequenceMatcher(None, candidate_diff.strip(), gold_diff.strip(), autojunk=False).ratio()
