"""Stated-change requests on stdlib functions: each kind on a real file, determinism, exclusion, and gold
answers that re-apply and score 1."""

from __future__ import annotations

import ast
import random
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from golddiff.diffs import apply_answer, normalize_text, parse_answer
from golddiff.reward import score
from golddiff.tasks import task_from_episode
from golddiff.traces.stdlib_bugs import Settings, functions_in
from golddiff.traces.stdlib_edits import KINDS, every_edit, function_key, mine, mine_edits

LIB = '''"""A tiny module for the stated-edit kinds."""


def clamp(x, lo, hi=10):
    """Clamp x."""
    if x < lo:
        return lo
    return min(x, hi)


def total(xs, strict=False):
    s = 0
    for x in xs:
        s += x
    return s


class Box:
    def grow(self, n):
        size = self.size + n
        return size
'''


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shapes.py").write_text(LIB)
    return tmp_path


def _edits(root: Path) -> dict[str, list]:
    out: dict[str, list] = {}
    for fn in functions_in(root / "pkg" / "shapes.py", root, Settings()):
        for e in every_edit(fn, random.Random(0)):
            out.setdefault(e.kind, []).append(e)
    return out


def test_each_kind_states_the_change_and_makes_it(lib: Path) -> None:
    edits = _edits(lib)
    assert set(edits) == set(KINDS)
    for e in (x for kind in edits.values() for x in kind):
        assert e.before != e.after and f"`{e.function.name}`" in e.request
        ast.parse(textwrap.dedent(e.after))

    fix = next(e for e in edits["stated_fix"] if "`if x <= lo:` to `if x < lo:`" in e.request)
    assert fix.before.replace("if x <= lo:", "if x < lo:") == fix.after == fix.function.source  # the fix
    renames = {e.request: e for e in edits["rename"]}
    s = next(e for r, e in renames.items() if "rename the variable `s` to" in r)
    new = s.request.rsplit("`", 2)[1]
    assert s.after == s.before.replace("s = 0", f"{new} = 0").replace("s += x", f"{new} += x").replace(
        "return s", f"return {new}"
    )
    hi = next(e for e in edits["change_default"] if "default of `hi`" in e.request)
    value = hi.request.rsplit(" ", 1)[1].rstrip(".")
    assert hi.after == hi.before.replace("hi=10", f"hi={value}") and value != "10"
    strict = next(e for e in edits["change_default"] if "default of `strict`" in e.request)
    assert "strict=True" in strict.after and strict.request.endswith("to True.")
    guard = next(e for e in edits["none_guard"] if "when `x` is None" in e.request)
    assert guard.after == guard.before.replace(
        '    """Clamp x."""\n', '    """Clamp x."""\n    if x is None:\n        return None\n'
    )  # after the docstring, at the body's indentation
    assert not any("`self`" in e.request for e in edits["rename"] + edits["none_guard"])


def test_gold_answers_reapply_and_score_one(lib: Path) -> None:
    for e in (x for kind in _edits(lib).values() for x in kind):
        from golddiff.traces.stdlib_bugs import function_episode

        ep = function_episode(e.function, e.before, e.after, e.request, e.kind, "stdlib_edits", lib)
        task = task_from_episode(ep)
        path = e.function.relpath
        got = apply_answer(task.base_files, parse_answer(task.gold[0].answer), task.allowed_paths)
        assert normalize_text(got[path]) == normalize_text(ep.final.files[path])
        assert score(task.gold[0].answer, task).exact
        assert e.request in task.prompt[-1]["content"]


def test_mining_is_deterministic_balanced_and_honours_exclude() -> None:
    small = Settings(max_lines=8, max_chars=260, per_file=4)
    a = mine_edits(80, seed=1, settings=small)
    b = mine_edits(80, seed=1, settings=small)
    assert [(e.request, e.before) for e in a] == [(e.request, e.before) for e in b]
    assert len(a) == 80 and len({function_key(e.function) for e in a}) == 80  # one edit per function
    counts = Counter(e.kind for e in a)
    assert {"stated_fix", "rename", "none_guard"} <= set(counts)
    assert max(counts.values()) - min(counts[k] for k in ("stated_fix", "rename", "none_guard")) <= 5
    excluded = {function_key(e.function) for e in a[:20]}
    c = mine_edits(80, seed=1, settings=small, exclude=excluded)
    assert not excluded & {function_key(e.function) for e in c}
    episodes = mine(10, seed=2, settings=small, kinds=("rename",))
    assert {ep.source.tool for ep in episodes} == {"stdlib_edits"} and len(episodes) == 10
    assert all("rename the" in ep.task for ep in episodes)
