"""The gold-diff reward (docs/architecture.md, "The reward").

    from golddiff.reward import score
    result = score(answer_text, task)          # task: golddiff.tasks.Task (or prepare(task) for reuse)
    result.value, result.f1, result.penalty, result.error

How `score` works, for an answer y, base files S0, golds G*1..m and negatives R1..k:
1. y is parsed strictly (`golddiff.diffs.parse_answer`) and applied to S0; a parse or apply error, or a
   path outside the task's files (absolute, `..`, not listed), scores −1 with `error` saying why.
2. The change blocks of S0→y, S0→G* and S0→Rj (`golddiff.reward.units`) give four parts, each in [0, 1]
   and 1 for the gold itself:
   - added, removed: F1 of the token n-grams (n = 1..3) of the added text, and apart, of the removed
     text (tokens: identifiers, numbers, single symbols; spacing and line breaks never count);
   - context: the same F1 on the unchanged lines around each change;
   - location: how near the changes are, in base lines: recall = mean over gold blocks of exp(−d/5),
     d = lines from the block to the nearest answer block in the same file (0 if they touch), and
     precision the same from each answer block to the gold's; combined as F-beta, β = 2 (covering the
     gold's places counts more than staying out of others, but spreading edits everywhere never pays).
3. value = Σ w_k·part_k / Σ w_k − λ·|P∩N|/|P|, clipped to [−1, 1]. The sums run over the parts either
   side has (when neither gold nor answer removes a line, `removed` is left out rather than a free 1;
   `RewardResult.scored` lists them). P and N are the change units (added and removed n-grams) of the
   answer and of the rejected attempts, N minus anything the gold has (λ = 0.5): only what rejected
   attempts had and the gold lacks is penalised. Several golds: the best.

Weights (`UnitWeights`) and the location settings are settings; their defaults were fitted on real
labelled patches, SWE-bench Lite candidates from four agent runs with test-run labels
(`bench/reward_quality.py` with `golddiff.reward.fit`, cross-validated by instance): added 0.65,
removed 0.05, context 0, location 0.30, location scale 5 lines, β 2. What tells resolved from unresolved
patches there is the added text at the gold's place; the removed text and the context add nothing the
location does not already say (the fit gives them 0). `removed` keeps a minimum weight of 0.05 by
design, so that an answer adding the gold's lines but leaving the lines the gold removes never scores as
the gold. Because P comes from the resulting files (not from the blocks' text), quoting more unchanged
lines in SEARCH/REPLACE blocks changes nothing: the same edit scores the same however it is written.

The abstention rule: where a gold changes something, an answer with no edit scores 0, and an answer that
applies and changes at least one file that gold changes scores at least `gold_file_floor` (0.01; the
setting refuses 0), whatever its parts and penalty: value = max(floor, weighted − penalty). So not
answering always scores below trying on the right file, even with a wrong change. What an RL policy sees:
−1 for an answer that does not parse or apply or leaves the task's files; 0 for no edit; at least 0.01
for any applied edit of a file the gold changes, rising with the right text in the right place; 1 for
the gold (or the same tokens at the same places). An edit of other files only gets no floor and no
location credit: what its text shares with the gold's, minus its penalty, which may fall below 0.
`no_edit` (a setting in [−1, 0], default 0) is what an answer with no edit scores where a gold changes
something. RL from a model that already writes blocks wants −1 there: at 0, copying the code unchanged
(a no-op block) is a safe step up from a broken answer, and a policy learns to stop editing (the demo's
first RL runs went from 9% to 24% no-edit answers). At −1 not answering fails like a broken answer, and
any applied edit of a gold file still scores above both. `power` (≥ 1, default 1) scores a positive value
v as v ** power before the floor: the order of answers is unchanged (every ranking measure the weights
were fitted on too), but a near miss falls further below the gold. For RL from a small model the
difference matters: partial credit (a rename of one line of three scores ~0.6) makes a short, safe edit
worth more than trying the whole fix and risking a −1.

Size caps (settings): an answer over `max_answer_chars` or with over `max_blocks` blocks scores −1; when
the changed text of P or G exceeds `max_change_chars`, the text units become whole collapsed lines
instead of token n-grams (`fallback` says so); a file whose changed middle exceeds `max_diff_lines` lines
is one block (no line diff). Every step is linear in the input (location: n log n in blocks), so no score
hangs.

`score_diff(candidate_diff, gold_diff, negatives)` scores two unified diffs directly (no base files).
The SWE-RL reference reward, kept for comparison, is in `golddiff.reward.swerl`.

Example (the gold answer scores 1, an empty answer 0, a malformed one −1, a wrong edit of the gold's
file more than 0):

    >>> from golddiff.tasks import make_task
    >>> task = make_task({"a.py": "x = 1\\ny = 2\\n"}, {"a.py": "x = 1\\ny = 3\\n"})
    >>> score(task.gold[0].answer, task).value
    1.0
    >>> score("I would change y.", task).value
    0.0
    >>> r = score("a.py\\n<<<<<<< SEARCH\\ny = 2\\n", task); (r.value, r.error is not None)
    (-1.0, True)
    >>> 0 < score("a.py\\n<<<<<<< SEARCH\\nx = 1\\n=======\\nx = 0\\n>>>>>>> REPLACE\\n", task).value < 1
    True

Pure functions of their inputs; no global mutable state; safe to call from many processes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from pydantic import ConfigDict, Field, model_validator

from golddiff.config import Strict
from golddiff.diffs import PatchError, apply_answer, normalize_text, parse_answer, parse_unified_diff
from golddiff.reward.units import (
    TEXT_KINDS,
    Block,
    Mode,
    UnitSpec,
    blocks_from_diff,
    blocks_from_files,
    contains_unit,
    fbeta,
    kind_texts,
    location_scores,
    overlap,
    text_unit_count,
    text_units,
)

if TYPE_CHECKING:
    from golddiff.tasks import Task

KINDS = ("added", "removed", "context", "location")  # the parts scored, each weighted
CHANGE_KINDS = ("added", "removed")  # the change units (P, G, N of the penalty)


class UnitWeights(Strict):
    """Weights of the four parts; defaults fitted on labelled patches (`bench/reward_quality.py`)."""

    model_config = ConfigDict(frozen=True)
    added: float = Field(0.65, ge=0)
    removed: float = Field(0.05, ge=0)
    context: float = Field(0.0, ge=0)
    location: float = Field(0.30, ge=0)

    @model_validator(mode="after")
    def _some_weight(self) -> UnitWeights:
        if not sum(self.model_dump().values()) > 0:
            raise ValueError("reward weights: at least one of added/removed/context/location must be > 0")
        return self


class RewardSettings(Strict):
    """Settings of the gold-diff reward; unknown keys are refused."""

    model_config = ConfigDict(frozen=True)
    weights: UnitWeights = UnitWeights()
    penalty_lambda: float = Field(0.5, ge=0, le=2)  # weight of the negatives' penalty
    ngram_max: int = Field(3, ge=1, le=12)  # token n-grams, n = 1..ngram_max
    context_lines: int = Field(3, ge=0)  # unchanged lines each side of a change that count as context
    location_scale: float = Field(5.0, gt=0)  # lines at which a location's credit falls to 1/e
    location_beta: float = Field(2.0, gt=0)  # F-beta of location precision and recall
    gold_file_floor: float = Field(0.01, gt=0, le=0.5)  # least value of an applied edit of a gold file
    no_edit: float = Field(0.0, ge=-1, le=0)  # value of an answer that changes nothing where a gold does
    # a positive value v scores v ** power: a monotone transform (the order of answers, hence every ranking
    # measure the weights were fitted on, is unchanged) that widens the gap between a near miss and the gold
    power: float = Field(1.0, ge=1, le=8)
    max_change_chars: int = Field(50_000, ge=1)  # over it: line units instead of n-grams
    max_answer_chars: int = Field(200_000, ge=1)  # over it: −1
    max_blocks: int = Field(1000, ge=1)  # over it: −1
    max_diff_lines: int = Field(200_000, ge=1)  # changed middle of a file over it: one block, no line diff


DEFAULT_SETTINGS = RewardSettings()


@dataclass(frozen=True)
class RewardResult:
    value: float  # in [−1, 1]
    precision: dict[str, float] = field(default_factory=dict)  # per part (KINDS)
    recall: dict[str, float] = field(default_factory=dict)
    f1: dict[str, float] = field(default_factory=dict)  # the part's score: F1 (location: F-beta)
    penalty: float = 0.0  # λ·|P∩N|/|P|, already subtracted from value
    error: str | None = None  # why the answer scored −1
    fallback: str | None = None  # which size fallback applied, if any
    exact: bool = False  # the answer gives exactly a gold's files
    gold_index: int = 0  # which gold the value is against
    floored: bool = False  # the value is the gold-file floor (the abstention rule lifted it)
    scored: tuple[str, ...] = KINDS  # the parts the value weighs (a text kind neither side has is left out)


def _failure(error: str) -> RewardResult:
    return RewardResult(value=-1.0, error=error)


@dataclass(frozen=True)
class RewardTarget:
    """What `score` needs from a task: base files, gold blocks, negative blocks (from `prepare`)."""

    base: dict[str, str | None]  # allowed path -> normalised base content (None = absent)
    allowed: frozenset[str]
    golds: list[dict[str, str]]  # per gold: allowed path -> normalised final content
    gold_blocks: list[list[Block]]
    negative_blocks: list[list[Block]]  # per rejected attempt
    settings: RewardSettings
    capped: bool = False  # a gold file was over max_diff_lines
    negative_change: dict[Mode, dict[str, Counter]] = field(default_factory=dict)  # filled by prepare


def _spec(s: RewardSettings, mode: Mode) -> UnitSpec:
    return UnitSpec(mode, s.ngram_max, s.max_change_chars)


def _files_blocks(
    base: Mapping[str, str | None], final: Mapping[str, str | None], s: RewardSettings
) -> tuple[list[Block], bool]:
    blocks: list[Block] = []
    capped = False
    for path in sorted(base):
        got, cut = blocks_from_files(path, base[path], final.get(path), s.context_lines, s.max_diff_lines)
        blocks.extend(got)
        capped |= cut
    return blocks, capped


def _negative_blocks(task: Task, base: dict[str, str | None], s: RewardSettings) -> list[list[Block]]:
    """The blocks of each rejected attempt (from its files when it applied to the base, else its diff)."""
    attempts: list[list[Block]] = []
    for neg in task.negatives:
        if neg.files is not None:
            final = {p: normalize_text(c) for p, c in neg.files.items() if p in base}
            attempts.append(_files_blocks({p: base[p] for p in final}, final, s)[0])
        else:
            try:
                attempts.append(blocks_from_diff(neg.diff, s.context_lines))
            except PatchError:
                continue  # a logged attempt we cannot read penalises nothing
    return attempts


def _negative_change(target: RewardTarget, mode: Mode) -> dict[str, Counter]:
    """⋃ of the rejected attempts' change units (their union: each unit at its largest count)."""
    if mode in target.negative_change:
        return target.negative_change[mode]
    spec = _spec(target.settings, mode)
    union = {"added": Counter(), "removed": Counter()}
    for blocks in target.negative_blocks:
        for kind, counter in union.items():
            units = text_units(kind_texts(blocks, kind, spec), spec)
            union[kind] = counter | units if counter else units
    return union


def _target(task: Task, s: RewardSettings, eager: bool) -> RewardTarget:
    allowed = frozenset(task.allowed_paths)
    base = {
        p: None if task.base_files.get(p) is None else normalize_text(task.base_files[p]) for p in allowed
    }
    golds = [{p: normalize_text(g.files.get(p, base[p])) for p in allowed} for g in task.gold]
    gold_blocks, capped = [], False
    for g in golds:
        blocks, cut = _files_blocks(base, g, s)
        gold_blocks.append(blocks)
        capped |= cut
    target = RewardTarget(base, allowed, golds, gold_blocks, _negative_blocks(task, base, s), s, capped)
    if eager:
        target.negative_change["ngram"] = _negative_change(target, "ngram")
    return target


def prepare(task: Task, settings: RewardSettings = DEFAULT_SETTINGS) -> RewardTarget:
    """Precompute what scoring against `task` needs; pass the result to `score` to score many answers."""
    return _target(task, settings, eager=True)


# ------------------------------------------------------------------------------------------ scoring


@dataclass
class _Counts:
    """|P∩G|, |P|, |G| per text kind, location precision and recall, and |P∩N| on change units."""

    hit: dict[str, int]
    pred: dict[str, int]
    gold: dict[str, int]
    location: tuple[float, float] = (1.0, 1.0)
    penalty_hit: int = 0


def _compare(pred: list[Block], gold: list[Block], target: RewardTarget, mode: Mode) -> _Counts:
    """Count the units of P and G per kind. A text both sides have (the same context lines, the same
    added line) is counted, never cut into units: it adds alike to both sides and to the overlap."""
    s = target.settings
    spec = _spec(s, mode)
    counts = _Counts({}, {}, {})
    for kind in TEXT_KINDS:
        tp, tg = Counter(kind_texts(pred, kind, spec)), Counter(kind_texts(gold, kind, spec))
        shared = tp & tg
        same = text_unit_count(shared.elements(), spec)
        pu, gu = text_units((tp - shared).elements(), spec), text_units((tg - shared).elements(), spec)
        counts.hit[kind] = same + overlap(pu, gu)
        counts.pred[kind], counts.gold[kind] = same + pu.total(), same + gu.total()
        if kind in CHANGE_KINDS and pu and s.penalty_lambda and any(target.negative_blocks):
            counts.penalty_hit += _penalty_hit(
                pu, gu, contains_unit(shared, spec), _negative_change(target, mode)[kind]
            )
    counts.location = location_scores(pred, gold, s.location_scale)
    return counts


def _penalty_hit(pu: Counter, gu: Counter, in_shared, negatives: Counter) -> int:
    """|P∩N| for one kind of change units, N = the negatives' units that the gold does not have at all.

    Shared texts are the gold's too, so only the answer's other units (pu) can meet N; a unit is the
    gold's if its other units (gu) or a shared text has it.
    """
    total = 0
    for unit, count in pu.items():
        m = negatives.get(unit)
        if m and unit not in gu and unit not in in_shared:
            total += min(count, m)
    return total


def _prf(hit: int, n_p: int, n_g: int) -> tuple[float, float, float]:
    """(precision, recall, f1); both sides empty agree perfectly, one side empty not at all."""
    if n_p == 0 or n_g == 0:
        return (1.0 if n_p == 0 else 0.0), (1.0 if n_g == 0 else 0.0), float(n_p == n_g == 0)
    prec, rec = hit / n_p, hit / n_g
    return prec, rec, (2 * prec * rec / (prec + rec) if hit else 0.0)


def _result(
    c: _Counts, s: RewardSettings, index: int, fallback: str | None, on_gold_file: bool
) -> RewardResult:
    """The weighted parts minus the penalty; an edit of a gold file is lifted to the floor."""
    parts = {k: _prf(c.hit[k], c.pred[k], c.gold[k]) for k in TEXT_KINDS}
    loc_p, loc_r = c.location
    parts["location"] = (loc_p, loc_r, fbeta(loc_p, loc_r, s.location_beta))
    w = s.weights.model_dump()
    # a text kind neither side has (no removed lines in either) says nothing: it is left out
    active = tuple(k for k in KINDS if k == "location" or c.pred[k] or c.gold[k])
    if not sum(w[k] for k in active):
        active = KINDS
    weighted = sum(w[k] * parts[k][2] for k in active) / sum(w[k] for k in active)
    size = sum(c.pred[k] for k in CHANGE_KINDS)
    penalty = s.penalty_lambda * c.penalty_hit / size if size else 0.0
    value = max(-1.0, min(1.0, weighted - penalty))
    if value > 0 and s.power != 1:
        value **= s.power
    floored = on_gold_file and value < s.gold_file_floor
    if floored:
        value = s.gold_file_floor
    pick = lambda i: {k: parts[k][i] for k in KINDS}  # noqa: E731
    return RewardResult(
        value, pick(0), pick(1), pick(2), penalty, None, fallback, False, index, floored, active
    )


def _score_blocks(pred: list[Block], target: RewardTarget, capped: bool = False) -> list[RewardResult]:
    """One result per gold for the answer's blocks `pred`."""
    s = target.settings
    pred_chars = sum(b.change_chars() for b in pred)
    pred_files = {b.path for b in pred}
    results = []
    for i, gold in enumerate(target.gold_blocks):
        if not pred:
            every = dict.fromkeys(KINDS, 1.0 if not gold else 0.0)
            results.append(RewardResult(1.0 if not gold else s.no_edit, every, every, every, gold_index=i))
            continue
        over = max(pred_chars, sum(b.change_chars() for b in gold)) > s.max_change_chars
        notes = [f"line units: changed text over {s.max_change_chars} characters"] if over else []
        if capped or target.capped:
            notes.append(f"a file is over {s.max_diff_lines} lines: its changed middle is one block")
        fallback = "; ".join(notes) or None
        counts = _compare(pred, gold, target, "line" if over else "ngram")
        on_gold_file = not pred_files.isdisjoint(b.path for b in gold)
        results.append(_result(counts, s, i, fallback, on_gold_file))
    return results


def _best(results: list[RewardResult]) -> RewardResult:
    return max(results, key=lambda r: r.value)


def score(
    answer: str, task: Task | RewardTarget, settings: RewardSettings = DEFAULT_SETTINGS
) -> RewardResult:
    """The gold-diff reward of a model's answer (SEARCH/REPLACE blocks) on a task, in [−1, 1].

    `task` is a `golddiff.tasks.Task`, or a `RewardTarget` from `prepare(task)` (then `settings` is the
    target's). See the module docstring for the definition and an example.
    """
    target = task if isinstance(task, RewardTarget) else _target(task, settings, eager=False)
    s = target.settings
    if len(answer) > s.max_answer_chars:
        return _failure(f"the answer has {len(answer)} characters, over the cap of {s.max_answer_chars}")
    try:
        blocks = parse_answer(answer)
        if len(blocks) > s.max_blocks:
            return _failure(f"the answer has {len(blocks)} blocks, over the cap of {s.max_blocks}")
        files = apply_answer(target.base, blocks, target.allowed)
    except PatchError as e:
        return _failure(str(e))
    pred, capped = _files_blocks(target.base, files, s)
    results = _score_blocks(pred, target, capped)
    for i, gold in enumerate(target.golds):
        if all(normalize_text(files.get(p)) == gold[p] for p in target.allowed):
            results[i] = replace(results[i], exact=True)
    return _best(results)


def score_diff(
    candidate_diff: str,
    gold_diff: str | Iterable[str],
    negatives: Iterable[str] = (),
    settings: RewardSettings = DEFAULT_SETTINGS,
) -> RewardResult:
    """The same reward on unified diffs, without base files. Several golds: pass a list of diffs.

    A candidate that is not a readable diff (or names an absolute or `..` path) scores −1; the golds and
    negatives are trusted (a bad gold raises PatchError).

    >>> gold = "--- a/a.py\\n+++ b/a.py\\n@@ -1,2 +1,2 @@\\n x = 1\\n-y = 2\\n+y = 3\\n"
    >>> score_diff(gold, gold).value
    1.0
    """
    s = settings
    golds = [gold_diff] if isinstance(gold_diff, str) else list(gold_diff)
    try:
        pred = blocks_from_diff(candidate_diff, s.context_lines)
    except PatchError as e:
        return _failure(str(e))
    if not pred and candidate_diff.strip() and not parse_unified_diff(candidate_diff):
        return _failure("the candidate is not a unified diff (no '---'/'+++' file header)")
    gold_blocks = [blocks_from_diff(g, s.context_lines) for g in golds]
    negative_blocks = [blocks_from_diff(n, s.context_lines) for n in negatives]
    target = RewardTarget({}, frozenset(), [], gold_blocks, negative_blocks, s)
    return _best(_score_blocks(pred, target))
