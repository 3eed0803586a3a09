"""The gold-diff reward (docs/architecture.md, "The reward") and the SWE-RL reference reward."""

import random
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import files_diff
from golddiff.reward import (
    KINDS,
    RewardSettings,
    UnitWeights,
    prepare,
    score,
    score_diff,
    swerl_reward,
    swerl_reward_from_answer,
)
from golddiff.tasks import make_task, render_answer

BASE = {
    "calc.py": (
        "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\n"
        "def perimeter(r):\n    return 2 * 3.14 * r\n\n\ndef main():\n    print(area(2))\n"
    ),
    "util.py": "def clamp(x, lo, hi):\n    return max(lo, min(x, hi))\n",
}
GOLD = {
    "calc.py": BASE["calc.py"].replace("3.14 * r * r", "math.pi * r ** 2").replace("2 * 3.14", "2 * math.pi"),
    "util.py": BASE["util.py"],
}
REJECTED = {"calc.py": BASE["calc.py"].replace("3.14 * r * r", "round(3.14159 * r * r, 2)")}


def _task(negatives=(REJECTED,)):
    return make_task(BASE, GOLD, negatives)


def test_gold_answer_scores_one_and_is_exact():
    task = _task()
    r = score(task.gold[0].answer, task)
    assert r.value == 1.0 and r.exact and r.error is None and r.penalty == 0.0
    assert r.f1 == dict.fromkeys(KINDS, 1.0) and not r.floored


def test_empty_answer_scores_zero_when_the_gold_changes_something():
    task = _task()
    assert score("", task).value == 0.0
    assert score("I looked at it and would use math.pi.", task).value == 0.0


@pytest.mark.parametrize(
    "answer",
    [
        "calc.py\n<<<<<<< SEARCH\n    return 3.14 * r * r\n",  # not closed
        "calc.py\n<<<<<<< SEARCH\n    return 9 * r\n=======\n    return 1\n>>>>>>> REPLACE\n",  # no match
        "/etc/passwd\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",  # absolute path
        "../calc.py\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",  # climbs out
        "other.py\n<<<<<<< SEARCH\n=======\nx\n>>>>>>> REPLACE\n",  # a new file the gold does not create
    ],
)
def test_malformed_or_out_of_task_answers_score_minus_one(answer):
    r = score(answer, _task())
    assert r.value == -1.0 and r.error


def test_more_copied_context_scores_no_higher():
    task = _task()
    small = task.gold[0].answer
    # the same net change, written as one block that quotes the whole file
    whole = f"calc.py\n<<<<<<< SEARCH\n{BASE['calc.py']}=======\n{GOLD['calc.py']}>>>>>>> REPLACE\n"
    assert score(whole, task).value <= score(small, task).value
    partial = render_answer(BASE, {**BASE, "calc.py": BASE["calc.py"].replace("2 * 3.14", "2 * math.pi")})
    bigger = partial.replace("<<<<<<< SEARCH\n", "<<<<<<< SEARCH\ndef perimeter(r):\n").replace(
        "=======\n", "=======\ndef perimeter(r):\n"
    )
    assert bigger != partial
    assert score(bigger, task).value <= score(partial, task).value
    assert 0 < score(partial, task).value < 1


def test_score_diff_does_not_reward_wider_context():
    gold = files_diff(BASE, GOLD)
    wide = files_diff(BASE, GOLD, context=20)
    assert score_diff(gold, gold).value == 1.0
    assert score_diff(wide, gold).value <= score_diff(gold, gold).value


def test_resubmitting_a_rejected_attempt_scores_below_gold_and_above_minus_one():
    task = _task()
    r = score(task.negatives[0].answer, task)
    assert -1.0 < r.value < score(task.gold[0].answer, task).value
    assert r.penalty > 0
    unpenalised = score(task.negatives[0].answer, task, RewardSettings(penalty_lambda=0))
    assert r.value < unpenalised.value


def test_what_the_gold_shares_with_a_rejected_attempt_is_not_penalised():
    # the rejected attempt made the gold's first change and a wrong second one
    shared = BASE["calc.py"].replace("3.14 * r * r", "math.pi * r ** 2").replace("print(area(2))", "pass")
    task = make_task(BASE, GOLD, [{"calc.py": shared}])
    first_only = render_answer(BASE, {"calc.py": shared.replace("pass", "print(area(2))")})
    r = score(first_only, task)
    assert r.penalty == 0.0 and r.value > 0
    assert score(task.gold[0].answer, task).value == 1.0
    assert score(task.negatives[0].answer, task).penalty > 0


def test_the_same_change_in_the_wrong_place_scores_lower():
    base = {"a.py": "def f():\n    return 1\n\n\ndef g():\n    return 1\n"}
    task = make_task(base, {"a.py": "def f():\n    return 1\n\n\ndef g():\n    return 2\n"})
    wrong = render_answer(base, {"a.py": "def f():\n    return 2\n\n\ndef g():\n    return 1\n"})
    r = score(wrong, task)
    assert r.f1["added"] == r.f1["removed"] == 1.0 and r.f1["location"] < 1.0 and r.value < 1.0


def test_several_golds_take_the_best():
    task = _task()
    other = {**GOLD, "calc.py": BASE["calc.py"].replace("3.14 * r * r", "r * r * 3.14")}
    task.gold += make_task(BASE, other).gold
    alt = render_answer(BASE, other)
    r = score(alt, task)
    assert r.value == 1.0 and r.gold_index == 1


def test_prepared_target_and_settings():
    task = _task()
    target = prepare(task)
    answer = task.negatives[0].answer
    assert score(answer, target) == score(answer, task)
    only_added = RewardSettings(weights=UnitWeights(added=1, removed=0, location=0), penalty_lambda=0)
    assert score(answer, task, only_added).value == pytest.approx(score(answer, task).f1["added"])
    with pytest.raises(ValueError):
        RewardSettings(lamda=0.3)
    with pytest.raises(ValueError, match="at least one"):
        UnitWeights(added=0, removed=0, context=0, location=0)


def _big_task(n_lines: int, every: int):
    rng = random.Random(0)
    lines = [f"    value_{i} = compute({rng.randint(0, 10**6)}, {i})\n" for i in range(n_lines)]
    final = [ln.replace("compute", "calc") if i % every == 1 else ln for i, ln in enumerate(lines)]
    return make_task({"big.py": "".join(lines)}, {"big.py": "".join(final)})


def test_large_changes_fall_back_to_line_units():
    task = _big_task(2_000, 7)
    small_cap = RewardSettings(max_change_chars=500)
    r = score(task.gold[0].answer, task, small_cap)
    assert r.value == 1.0 and r.fallback and "line units" in r.fallback
    half = "\n".join(task.gold[0].answer.split("\n\n")[::2])
    assert 0 < score(half, task, small_cap).value < 1
    no_line_diff = RewardSettings(max_diff_lines=100)
    r = score(half, task, no_line_diff)
    assert "one block" in r.fallback and 0 < r.value < 1
    assert score(task.gold[0].answer, task, no_line_diff).value == 1.0


def test_big_inputs_score_quickly_and_oversized_answers_are_refused():
    task = _big_task(30_000, 150)  # a 1.2 MB file, 200 changed lines
    t0 = time.perf_counter()
    assert score(task.gold[0].answer, task).value == 1.0
    assert time.perf_counter() - t0 < 2.0
    huge = "x\n" * 150_000
    assert "over the cap" in score(huge, task).error


def test_score_and_score_diff_agree_on_the_same_change():
    task = _task()
    neg = task.negatives[0]
    answer_diff = files_diff(BASE, {**BASE, **neg.files})
    assert score_diff(answer_diff, task.gold[0].diff, [neg.diff]) == score(neg.answer, task)


def test_score_diff_scores_patches_without_base_files():
    gold = files_diff(BASE, GOLD)
    neg = files_diff(BASE, {**BASE, **REJECTED})
    assert score_diff(gold, gold, [neg]).value == 1.0
    assert -1.0 < score_diff(neg, gold, [neg]).value < 1.0
    assert score_diff("", gold).value == 0.0
    assert score_diff("this is not a diff", gold).value == -1.0
    assert score_diff(files_diff({"../x": "a\n"}, {"../x": "b\n"}), gold).value == -1.0
    assert score_diff(gold, [neg, gold]).value == 1.0


_edit_line = st.sampled_from(["x = 1\n", "y = x + 2\n", "\n", "    return y\n", "print(x)\n", "z = 'a b'\n"])
_file = st.lists(_edit_line, min_size=1, max_size=12).map("".join)


@settings(max_examples=120, deadline=None)
@given(_file, _file, st.lists(_file, max_size=2), _file, st.floats(0, 2))
def test_scores_stay_in_range(base, gold, negatives, answer_file, lam):
    if base == gold:
        gold += "extra = 1\n"
    task = make_task({"f.py": base}, {"f.py": gold}, [{"f.py": n} for n in negatives])
    answer = render_answer({"f.py": base}, {"f.py": answer_file})
    r = score(answer, task, RewardSettings(penalty_lambda=lam))
    assert -1.0 <= r.value <= 1.0
    assert score(task.gold[0].answer, task).value == 1.0


# ---------------------------------------------------------------------------------------------- SWE-RL

CTX = {"a.py": "x = 1\ny = 2\n", "b.py": "p = 1\n", "c.py": "q = 1\n"}


def test_swerl_exact_match_is_one():
    gold = {"a.py": "x = 1\ny = 3\n"}
    assert swerl_reward(CTX, gold, dict(gold)) == 1.0


def test_swerl_wrong_new_file_is_zero():
    assert swerl_reward(CTX, {"a.py": "x = 1\ny = 3\n"}, {"new.py": "print(1)\n"}) == 0.0


def test_swerl_one_of_three_files_right_is_one_third():
    gold = {"a.py": "x = 1\ny = 3\n", "b.py": "p = 2\n", "c.py": "q = 2\n"}
    assert swerl_reward(CTX, gold, {"a.py": gold["a.py"]}) == pytest.approx(1 / 3)


def test_swerl_no_change_either_side_is_one_and_malformed_is_minus_one():
    assert swerl_reward(CTX, {}, {"a.py": CTX["a.py"]}) == 1.0
    assert swerl_reward_from_answer("a.py\n<<<<<<< SEARCH\nx = 1\n", CTX, {"a.py": "x = 2\n"}) == -1.0
    answer = "a.py\n<<<<<<< SEARCH\ny = 2\n=======\ny = 3\n>>>>>>> REPLACE\n"
    assert swerl_reward_from_answer(answer, CTX, {"a.py": "x = 1\ny = 3\n"}) == 1.0


def _nearness_by_pairs(blocks, others, scale):
    """Location nearness the slow way: every pair of blocks."""
    import math

    total = 0.0
    for b in blocks:
        ds = [
            max(0, o.span()[0] - b.span()[1], b.span()[0] - o.span()[1]) for o in others if o.path == b.path
        ]
        total += math.exp(-min(ds) / scale) if ds else 0.0
    return total / len(blocks) if blocks else 1.0


@settings(max_examples=100, deadline=None)
@given(_file, _file, _file, _file)
def test_counting_shared_texts_without_cutting_them_matches_the_direct_count(base, gold, pred, neg):
    from collections import Counter

    from golddiff.reward.gold_diff import _compare, _files_blocks, prepare
    from golddiff.reward.units import ngrams, overlap, tokens

    if base == gold:
        gold += "extra = 1\n"
    task = make_task({"f.py": base}, {"f.py": gold}, [{"f.py": neg}] if neg != base else [])
    target = prepare(task)
    p_blocks = _files_blocks(target.base, {"f.py": pred}, target.settings)[0]
    g_blocks = target.gold_blocks[0]
    n_blocks = [b for attempt in target.negative_blocks for b in attempt]

    def direct(blocks, kind):  # every unit cut out, no shortcut
        parts = {"added": lambda b: [b.added], "removed": lambda b: [b.removed]}.get(
            kind, lambda b: [b.before, b.after]
        )
        return Counter(
            g for b in blocks for lines in parts(b) for g in ngrams(" ".join(tokens("".join(lines))), 3)
        )

    got = _compare(p_blocks, g_blocks, target, "ngram")
    for kind in ("added", "removed", "context"):
        pu, gu = direct(p_blocks, kind), direct(g_blocks, kind)
        assert (got.hit[kind], got.pred[kind], got.gold[kind]) == (overlap(pu, gu), pu.total(), gu.total())
    if p_blocks:
        scale = target.settings.location_scale
        want = (_nearness_by_pairs(p_blocks, g_blocks, scale), _nearness_by_pairs(g_blocks, p_blocks, scale))
        assert got.location == pytest.approx(want)
    penalty = 0
    for kind in ("added", "removed"):
        gu = direct(g_blocks, kind)
        n = Counter({u: c for u, c in direct(n_blocks, kind).items() if u not in gu})
        penalty += overlap(direct(p_blocks, kind), n)
    assert got.penalty_hit == penalty


def test_docstring_examples_run():
    import doctest

    import golddiff.diffs.search_replace
    import golddiff.reward.fit
    import golddiff.reward.gold_diff
    import golddiff.reward.swerl
    import golddiff.reward.units

    for module in (
        golddiff.reward.gold_diff,
        golddiff.reward.units,
        golddiff.reward.swerl,
        golddiff.reward.fit,
        golddiff.diffs.search_replace,
    ):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0
