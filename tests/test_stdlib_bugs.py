"""The standard-library bug miner: each mutation kind on a real file, determinism, and the gold fixes it."""

from __future__ import annotations

import ast
import random
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from golddiff.diffs import apply_answer, apply_unified_diff, normalize_text, parse_answer
from golddiff.reward import score
from golddiff.tasks import task_from_episode
from golddiff.traces.stdlib_bugs import (
    KINDS,
    Settings,
    bugs_in,
    every_bug,
    functions_in,
    mine,
    mine_bugs,
    module_files,
    stdlib_root,
    to_episode,
)

LIB = '''"""A tiny module with one function per mutation kind."""


def clamp(x, lo, hi):
    if x < lo:
        return lo
    return min(x, hi)


def total(xs):
    s = 0
    for x in xs:
        s += x
    return s


def both(a, b):
    ok = a and b
    return ok


def head(xs, n):
    out = []
    for i in range(n):
        out.append(xs[i])
    return out


def ratio(a, b):
    value = divmod(a, b)
    return value


def first(xs):
    if xs is None:
        return None
    return xs[0]


class Box:
    def grow(self, n):
        size = self.size + n
        return size
'''


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "shapes.py").write_text(LIB)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "test_shapes.py").write_text("def test_x():\n    assert 1\n    assert 2\n")
    return tmp_path


def _all_bugs(root: Path) -> list:
    fns = list(functions_in(root / "pkg" / "shapes.py", root, Settings()))
    return [b for fn in fns for b in every_bug(fn, random.Random(0))]


def test_finds_small_functions_and_skips_tests(lib: Path) -> None:
    assert [p.relative_to(lib).as_posix() for p in module_files(lib)] == ["pkg/shapes.py"]
    names = [fn.qualname for fn in functions_in(lib / "pkg" / "shapes.py", lib, Settings())]
    assert names == ["clamp", "total", "both", "head", "ratio", "first", "Box.grow"]
    grow = [
        fn for fn in functions_in(lib / "pkg" / "shapes.py", lib, Settings()) if fn.qualname == "Box.grow"
    ][0]
    assert grow.class_line == "class Box:\n" and grow.name == "pkg.shapes.Box.grow"


@pytest.mark.parametrize(
    ("kind", "before", "after"),
    [
        ("flip_compare", "    if x < lo:\n", "    if x <= lo:\n"),
        ("flip_arith", "        s += x\n", "        s -= x\n"),
        ("flip_bool", "    ok = a and b\n", "    ok = a or b\n"),
        ("off_by_one", "    for i in range(n):\n", "    for i in range(n + 1):\n"),
        ("swap_args", "    value = divmod(a, b)\n", "    value = divmod(b, a)\n"),
        ("remove_guard", "    if xs is None:\n        return None\n", ""),
    ],
)
def test_each_mutation_kind(lib: Path, kind: str, before: str, after: str) -> None:
    bugs = [b for b in _all_bugs(lib) if b.kind == kind]
    assert bugs, f"no {kind} bug found"
    hit = [
        b
        for b in bugs
        if before in b.function.source and b.buggy == b.function.source.replace(before, after, 1)
    ]
    assert hit, [b.buggy for b in bugs]
    bug = hit[0]
    assert bug.buggy != bug.function.source
    ast.parse(textwrap.dedent(bug.buggy))  # still compiles
    assert f"`{bug.function.name}`" in bug.report


def test_off_by_one_in_a_subscript(lib: Path) -> None:
    bugs = [b for b in _all_bugs(lib) if b.kind == "off_by_one" and "xs[i - 1]" in b.buggy]
    assert bugs
    assert "xs[i - 1]" in bugs[0].report  # the report quotes the code as it reads now, with the bug


def test_bugs_in_takes_different_kinds(lib: Path) -> None:
    fns = {fn.qualname: fn for fn in functions_in(lib / "pkg" / "shapes.py", lib, Settings())}
    bugs = bugs_in(fns["head"], random.Random(1), Settings(per_function=len(KINDS)))
    kinds = [b.kind for b in bugs]
    assert len(kinds) == len(set(kinds)) and set(kinds) <= set(KINDS)
    assert len(bugs_in(fns["head"], random.Random(1), Settings(per_function=1))) == 1


def test_gold_reapplies_and_fixes_the_bug(lib: Path) -> None:
    for bug in _all_bugs(lib):
        ep = to_episode(bug, lib)
        path = bug.function.relpath
        assert ep.source.tool == "stdlib_bugs"
        assert ep.repo.base_files[path] != ep.final.files[path]
        assert apply_unified_diff(ep.repo.base_files, ep.final.diff)[path] == ep.final.files[path]
        task = task_from_episode(ep)
        fixed = apply_answer(task.base_files, parse_answer(task.gold[0].answer), task.allowed_paths)
        assert normalize_text(fixed[path]) == normalize_text(ep.final.files[path])
        assert bug.function.source in fixed[path]  # the original function is back
        result = score(task.gold[0].answer, task)
        assert result.value == 1.0 and result.exact


def test_mining_the_real_stdlib_is_deterministic_and_varied() -> None:
    a, b = mine_bugs(60, seed=3), mine_bugs(60, seed=3)
    assert [(x.function.relpath, x.function.qualname, x.kind, x.buggy) for x in a] == [
        (x.function.relpath, x.function.qualname, x.kind, x.buggy) for x in b
    ]
    assert len(a) == 60
    assert len(Counter(x.kind for x in a)) >= 5
    c = mine_bugs(60, seed=4)
    assert [x.buggy for x in a] != [x.buggy for x in c]
    for bug in a:
        assert bug.buggy != bug.function.source
        ast.parse(textwrap.dedent(bug.buggy))


def test_stdlib_episodes_make_tasks_through_ingest(tmp_path: Path) -> None:
    from golddiff.episodes import read_episodes
    from golddiff.traces.ingest import ingest

    episodes = mine(12, seed=0)
    assert len({ep.episode_id for ep in episodes}) == 12
    out = tmp_path / "episodes.jsonl"
    ingest([], out, extra_episodes=episodes)
    read = list(read_episodes(out))
    assert [ep.episode_id for ep in read] == [ep.episode_id for ep in episodes]
    root = stdlib_root()
    for ep in read:
        task = task_from_episode(ep)
        assert score(task.gold[0].answer, task).exact
        assert (root / task.allowed_paths[0]).exists()
        assert len(task.prompt[1]["content"]) < 1200
