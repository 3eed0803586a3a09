"""What the gold-diff reward promises an RL trainer: the abstention rule, where credit goes, its range."""

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from golddiff.diffs import files_diff
from golddiff.reward import DEFAULT_SETTINGS, RewardSettings, score, score_diff
from golddiff.tasks import make_task, render_answer

LINES = [f"value_{i} = compute({i}, limit)\n" for i in range(60)]
BASE = {"m.py": "".join(LINES), "other.py": "def helper():\n    return 1\n"}


def _with(lines: list[str]) -> dict[str, str]:
    return {**BASE, "m.py": "".join(lines)}


# ------------------------------------------------------------------------------------ abstention rule

_line = st.sampled_from(
    ["x = 1\n", "y = x + 2\n", "\n", "    return y\n", "if x is None:\n", "print(x)\n", "z = 'a b'\n"]
)
_file = st.lists(_line, min_size=1, max_size=10).map("".join)


@st.composite
def _edit(draw, text: str) -> str:
    """`text` with a few random line edits: replaced, inserted or deleted lines."""
    lines = text.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["replace", "insert", "delete"]))
        at = draw(st.integers(0, max(len(lines) - 1, 0)))
        if kind == "insert" or not lines:
            lines.insert(at, draw(_line))
        elif kind == "replace":
            lines[at] = draw(_line)
        else:
            del lines[at]
    return "".join(lines)


@settings(max_examples=150, deadline=None)
@given(st.data(), _file, st.lists(_file, max_size=2), st.floats(0, 2), st.booleans())
def test_an_applied_edit_of_the_gold_file_always_beats_no_edit(data, base, negatives, lam, touch_other):
    gold = data.draw(_edit(base))
    answer_file = data.draw(_edit(base))
    assume(gold != base and answer_file != base)
    files = {"f.py": base, "g.py": "keep = 1\n"}
    # a task's files are the gold's and its rejected attempts': one attempt edits g.py
    task = make_task(files, {"f.py": gold}, [{"f.py": n} for n in negatives] + [{"g.py": "keep = 3\n"}])
    final = {"f.py": answer_file, "g.py": "keep = 2\n" if touch_other else "keep = 1\n"}
    answer = render_answer(files, final)
    s = RewardSettings(penalty_lambda=lam)
    empty = score("", task, s)
    r = score(answer, task, s)
    assert empty.value == 0.0 and r.error is None
    assert r.value >= s.gold_file_floor > empty.value
    assert r.floored == (r.value == s.gold_file_floor and r.value < 1)
    # the same holds on diffs (score_diff), with the same value
    d = score_diff(files_diff(files, final), task.gold[0].diff, [n.diff for n in task.negatives], s)
    assert d.value == pytest.approx(r.value)


def test_a_resubmitted_rejected_attempt_on_the_gold_file_still_beats_no_edit():
    wrong = _with(LINES[:5] + ["drop_table()\n"] + LINES[6:])  # far away, and penalised in full
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold, [wrong])
    heavy = RewardSettings(penalty_lambda=2.0)
    r = score(task.negatives[0].answer, task, heavy)
    assert r.penalty > 0 and r.floored and r.value == heavy.gold_file_floor > score("", task, heavy).value
    assert score(task.gold[0].answer, task, heavy).value == 1.0


def test_no_edit_can_fail_like_a_broken_answer_for_rl():
    """`no_edit` = −1: a no-op answer (blocks that change nothing) and no answer score as a broken one,
    so RL cannot step up from broken answers to copying the code unchanged; applied edits stay above."""
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold)
    strict = RewardSettings(no_edit=-1.0)
    no_op = "m.py\n<<<<<<< SEARCH\n" + LINES[3] + "=======\n" + LINES[3] + ">>>>>>> REPLACE\n"
    broken = "m.py\n<<<<<<< SEARCH\nnot in the file\n=======\nx\n>>>>>>> REPLACE\n"
    wrong = render_answer(BASE, _with(LINES[:5] + LINES[6:]))
    assert score(no_op, task).value == score("", task).value == 0.0  # the default
    assert score(no_op, task, strict).value == score("", task, strict).value == -1.0
    assert score(broken, task, strict).value == -1.0 and score(broken, task, strict).error
    assert score(wrong, task, strict).value >= strict.gold_file_floor
    assert score(task.gold[0].answer, task, strict).value == 1.0
    with pytest.raises(ValueError):
        RewardSettings(no_edit=0.5)  # never above an applied edit's floor


@settings(max_examples=60, deadline=None)
@given(st.data(), _file, st.sampled_from([2.0, 3.0]))
def test_power_keeps_the_order_of_answers_and_widens_the_gap_to_the_gold(data, base, power):
    """`power`: a positive value v scores v ** power; the order of any two answers, the gold's 1, the
    abstention floor and the failures' -1 stay as they were."""
    gold = data.draw(_edit(base))
    answers = [render_answer({"f.py": base}, {"f.py": data.draw(_edit(base))}) for _ in range(3)]
    assume(gold != base)
    task = make_task({"f.py": base}, {"f.py": gold})
    plain, sharp = RewardSettings(no_edit=-1.0), RewardSettings(no_edit=-1.0, power=power)
    values = [(score(a, task, plain).value, score(a, task, sharp).value) for a in answers + [""]]
    for v, w in values:
        assert w == (pytest.approx(max(v**power, sharp.gold_file_floor)) if v > 0 else v)
    for (v1, w1), (v2, w2) in zip(values, values[1:]):
        assert (v1 < v2) == (w1 < w2) or v1 == v2 or sharp.gold_file_floor in (w1, w2)
    assert score(task.gold[0].answer, task, sharp).value == 1.0


def test_an_edit_of_other_files_only_gets_no_floor():
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold, [{"other.py": "def helper():\n    return 3\n"}])
    answer = render_answer(BASE, {**BASE, "other.py": "def helper():\n    return 2\n"})
    r = score(answer, task)
    assert not r.floored and r.f1["location"] == 0.0
    assert -1.0 < r.value < score(render_answer(BASE, _with(LINES[:5] + LINES[6:])), task).value


def test_an_empty_gold_rewards_an_empty_answer_only():
    # tasks always change something (make_task refuses an empty gold); score_diff takes an empty one
    assert score_diff("", "").value == 1.0
    r = score_diff(files_diff(BASE, _with(LINES[1:])), "")
    assert r.value == 0.0 and not r.floored


# ---------------------------------------------------------------------------------- where credit goes


def test_the_same_change_scores_less_the_further_it_is_from_the_gold():
    gold = _with(LINES[:30] + ["fix_the_bug(value_29)\n"] + LINES[30:])
    task = make_task(BASE, gold)
    values = []
    for at in range(30, 60, 3):
        values.append(
            score(render_answer(BASE, _with(LINES[:at] + ["fix_the_bug(value_29)\n"] + LINES[at:])), task)
        )
    assert values[0].value == 1.0
    assert all(a.value >= b.value for a, b in zip(values, values[1:]))
    assert values[-1].value < values[1].value < 1.0
    assert all(r.f1["added"] == 1.0 for r in values)


def test_adding_the_gold_lines_without_removing_the_old_ones_is_not_the_gold():
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold)
    kept_old = score(
        render_answer(BASE, _with(LINES[:31] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])), task
    )
    assert kept_old.f1["added"] == 1.0 and kept_old.f1["removed"] == 0.0
    assert 0 < kept_old.value < 1.0


def test_units_are_tokens_so_spacing_and_line_breaks_do_not_matter():
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold)
    spaced = _with(LINES[:30] + ["value_30=compute(30,\n", "    limit+1)\n"] + LINES[31:])
    r = score(render_answer(BASE, spaced), task)
    assert r.f1["added"] == 1.0 and r.f1["removed"] == 1.0 and r.value == 1.0
    assert not r.exact  # the same tokens in the same place score as the gold, but are not its text


def test_a_different_fix_in_the_right_place_keeps_the_location_credit():
    gold = _with(LINES[:30] + ["value_30 = compute(30, limit + 1)\n"] + LINES[31:])
    task = make_task(BASE, gold)
    other_fix = score(render_answer(BASE, _with(LINES[:30] + ["value_30 = clamp(30)\n"] + LINES[31:])), task)
    far_fix = score(render_answer(BASE, _with(LINES[:2] + ["value_2 = clamp(30)\n"] + LINES[3:])), task)
    assert other_fix.f1["location"] == 1.0 and far_fix.f1["location"] < 0.5
    assert other_fix.value > far_fix.value > 0


@settings(max_examples=100, deadline=None)
@given(st.data(), _file, st.floats(0, 2))
def test_values_stay_in_range_and_only_the_gold_scores_one(data, base, lam):
    gold = data.draw(_edit(base))
    answer_file = data.draw(_edit(base))
    assume(gold != base)
    task = make_task({"f.py": base}, {"f.py": gold}, [{"f.py": data.draw(_edit(base))}])
    r = score(render_answer({"f.py": base}, {"f.py": answer_file}), task, RewardSettings(penalty_lambda=lam))
    assert -1.0 <= r.value <= 1.0
    if r.value == 1.0:  # every weighted part perfect: the same tokens at the same places
        weights = DEFAULT_SETTINGS.weights.model_dump()
        assert all(v == 1.0 for k, v in r.f1.items() if weights[k])


def test_the_defaults_are_the_documented_fit():
    w = DEFAULT_SETTINGS.weights
    assert (w.added, w.removed, w.context, w.location) == (0.65, 0.05, 0.0, 0.30)
    assert (DEFAULT_SETTINGS.location_scale, DEFAULT_SETTINGS.location_beta) == (5.0, 2.0)
    assert DEFAULT_SETTINGS.gold_file_floor > 0
