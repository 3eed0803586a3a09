"""SEARCH/REPLACE: the strict answer parser, applying answers safely, rendering answers that re-apply."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import (
    PatchError,
    apply_answer,
    apply_search_replace,
    normalize_text,
    parse_answer,
    parse_search_replace,
    render_search_replace,
)

BLOCK = "a.py\n<<<<<<< SEARCH\ny = 2\n=======\ny = 3\n>>>>>>> REPLACE\n"
BASE = {"a.py": "x = 1\ny = 2\nz = 3\n"}


def test_reasoning_fences_and_thinking_around_blocks_are_allowed():
    answer = (
        "<think>draft:\nb.py\n<<<<<<< SEARCH\nnope\n</think>\n"
        "y should be 3.\n\n" + BLOCK.replace("a.py\n", "a.py\n```python\n") + "```\nDone.\n"
    )
    [b] = parse_answer(answer)
    assert (b.path, b.search, b.replace) == ("a.py", "y = 2\n", "y = 3\n")
    assert b.line == 10  # counted in the whole answer, thinking included
    assert apply_answer(BASE, [b])["a.py"] == "x = 1\ny = 3\nz = 3\n"
    assert parse_answer("no blocks here, just words\n=======\n") == []


@pytest.mark.parametrize(
    "answer, message",
    [
        ("a.py\n<<<<<<< SEARCH\ny = 2\n", "not closed"),
        ("a.py\n<<<<<<< SEARCH\ny = 2\n=======\ny = 3\n", "not closed"),
        ("\n<<<<<<< SEARCH\ny\n=======\nz\n>>>>>>> REPLACE\n", "no file path"),
        ("<<<<<<< SEARCH\ny\n=======\nz\n>>>>>>> REPLACE\n", "no file path"),
        ("a.py\n<<<<<<< SEARCH\ny\n>>>>>>> REPLACE\n", "unexpected"),
        ("a.py\n<<<<<<< SEARCH\ny\n=======\nz\n=======\nw\n>>>>>>> REPLACE\n", "unexpected"),
        ("a.py\n<<<<<<< SEARCH\ny\n<<<<<<< SEARCH\n=======\nz\n>>>>>>> REPLACE\n", "unexpected"),
        ("text\n>>>>>>> REPLACE\n", "outside a block"),
    ],
)
def test_malformed_blocks_are_errors(answer, message):
    with pytest.raises(PatchError, match=message):
        parse_answer(answer)


@pytest.mark.parametrize(
    "path, message", [("/etc/passwd", "absolute"), ("../a.py", "climbs out"), ("b.py", "not one of")]
)
def test_paths_outside_the_task_are_refused(path, message):
    blocks = parse_answer(BLOCK.replace("a.py", path, 1))
    with pytest.raises(PatchError, match=message):
        apply_answer(BASE, blocks, allowed=["a.py"])


def test_new_files_only_where_nothing_exists():
    create = parse_answer("new.py\n<<<<<<< SEARCH\n=======\nprint(1)\n>>>>>>> REPLACE\n")
    assert apply_answer({"new.py": None}, create, ["new.py"])["new.py"] == "print(1)\n"
    with pytest.raises(PatchError, match="empty SEARCH"):
        apply_answer({"new.py": "exists\n"}, create, ["new.py"])
    with pytest.raises(PatchError, match="does not exist"):
        apply_answer({"a.py": None}, parse_answer(BLOCK), ["a.py"])


def test_search_must_match_whole_lines_first_match_and_trailing_space_tolerated():
    base = {"a.py": "xy = 2\ny = 2\ny = 2\n"}
    assert apply_answer(base, parse_answer(BLOCK))["a.py"] == "xy = 2\ny = 3\ny = 2\n"
    loose = parse_answer(BLOCK.replace("y = 2\n=", "y = 2   \n="))
    assert apply_answer(BASE, loose)["a.py"] == "x = 1\ny = 3\nz = 3\n"
    with pytest.raises(PatchError, match="not found"):
        apply_answer(BASE, parse_answer(BLOCK.replace("y = 2\n=", "w = 9\n=")))


METHOD = "class A:\n    def f(self, x):\n        if x:\n\n            return 1\n        return 2\n"


def _block(search: str, replace: str) -> list:
    return parse_answer(f"a.py\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n")


def test_a_block_quoted_at_the_wrong_depth_applies_reindented():
    fixed = METHOD.replace("return 2", "return None")
    shallow = _block("if x:\n\n    return 1\nreturn 2\n", "if x:\n\n    return 1\nreturn None\n")
    assert apply_answer({"a.py": METHOD}, shallow)["a.py"] == fixed  # 8 spaces too shallow
    deep = _block(
        "            return 1\n            return 2\n", "            return 1\n            return None\n"
    )
    with pytest.raises(PatchError, match="not found"):  # the two lines' depths differ in the file
        apply_answer({"a.py": METHOD}, deep)
    deep = _block(
        "            if x:\n\n                return 1\n",
        "            if not x:\n\n                return 1\n",
    )
    assert apply_answer({"a.py": METHOD}, deep)["a.py"] == METHOD.replace("if x", "if not x")
    # Aider's blocks (the lenient reader) are re-indented the same way
    lenient = parse_search_replace("a.py\n<<<<<<< SEARCH\nreturn 2\n=======\nreturn 3\n>>>>>>> REPLACE\n")
    assert apply_search_replace({"a.py": METHOD}, lenient)["a.py"] == METHOD.replace("return 2", "return 3")


def test_reindenting_refuses_what_it_cannot_shift_uniformly():
    for search, replace in [
        ("if x:\n    return 1\n", "if x:\n    return 0\n"),  # the blank line between them is missing
        ("    if x:\n\n            return 1\n", "    if x:\n\n            return 0\n"),  # two shifts
    ]:
        with pytest.raises(PatchError, match="not found"):
            apply_answer({"a.py": METHOD}, _block(search, replace))
    # quoted 4 too deep, and a REPLACE line shallower than that cannot be shifted back
    with pytest.raises(PatchError, match="not found"):
        apply_answer({"a.py": METHOD}, _block("            return 2\n", "  return 2\n"))
    # the trailing-whitespace match comes first: a shifted copy further down is not taken
    base = {"a.py": "x = 1\nif y:\n    x = 1\n"}
    assert apply_answer(base, _block("x = 1  \n", "x = 0\n"))["a.py"] == "x = 0\nif y:\n    x = 1\n"


@given(
    body=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["a = 1", "if a:", "b = 2", "", "c"])), min_size=1
    ),
    start=st.integers(0, 7),
    size=st.integers(1, 4),
    depth=st.sampled_from(["    ", "\t", "  "]),  # one level of indentation
    shift=st.sampled_from(["", "+", "-"]),  # as quoted, one level deeper, one level shallower
)
@settings(max_examples=200, deadline=None)
def test_reindented_blocks_give_what_the_exactly_quoted_block_gives(body, start, size, depth, shift):
    lines = [depth * (level + 1) + text + "\n" if text else "\n" for level, text in body[:8]]
    start = min(start, len(lines) - 1)
    quoted = lines[start : start + size]
    if not any(ln.strip() for ln in quoted):
        return
    new = [ln.replace("1", "9") for ln in quoted] + [depth + "z = 0\n"]
    base = {"a.py": "".join(lines)}
    want = apply_answer(base, _block("".join(quoted), "".join(new)))["a.py"]

    def moved(ls: list[str]) -> str:
        if shift == "-":
            return "".join(ln[len(depth) :] if ln.strip() else ln for ln in ls)
        return "".join(depth + ln if ln.strip() and shift else ln for ln in ls)

    stripped = [ln.strip() for ln in lines]
    windows = [stripped[k : k + len(quoted)] for k in range(len(lines) - len(quoted) + 1)]
    if windows.count(stripped[start : start + len(quoted)]) == 1:  # nowhere else, at any depth
        assert apply_answer(base, _block(moved(quoted), moved(new)))["a.py"] == want


def test_files_are_compared_normalised():
    out = apply_answer({"a.py": "x = 1\r\ny = 2"}, parse_answer(BLOCK))
    assert out["a.py"] == "x = 1\ny = 3\n"


def test_render_uses_enough_context_to_be_unique_and_reapplies():
    base = {"a.py": "def f():\n    return 1\n\ndef g():\n    return 1\n"}
    final = {"a.py": "def f():\n    return 1\n\ndef g():\n    return 2\n"}
    answer = render_search_replace(base, final)
    [b] = parse_answer(answer)
    assert b.search == "def g():\n    return 1\n"  # "return 1" alone would match f first
    assert apply_answer(base, [b]) == final


def test_render_marker_lines_cannot_be_written():
    with pytest.raises(PatchError, match="marker"):
        render_search_replace({"a.txt": "=======\nx\n"}, {"a.txt": "=======\ny\n"})


def test_lenient_parser_still_reads_aider_style():
    text = "a.py\n```\n<<<<<<< ORIGINAL\ny = 2\n=======\ny = 3\n>>>>>>> UPDATED\n```\n"
    assert apply_search_replace(BASE, parse_search_replace(text))["a.py"] == "x = 1\ny = 3\nz = 3\n"


_line = st.sampled_from(["a\n", "b\n", "a\n", "\n", "    x = 1\n", "}\n", "c d\n"])
_content = st.one_of(st.none(), st.lists(_line, max_size=20).map("".join))


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(["p.py", "q/r.py"]), st.tuples(_content, _content), min_size=1))
def test_rendered_answers_reapply_exactly(pairs):
    base = {p: before for p, (before, _) in pairs.items()}
    final = {p: after for p, (_, after) in pairs.items()}
    answer = render_search_replace(base, final)
    got = apply_answer(base, parse_answer(answer), allowed=base.keys())
    assert {p: normalize_text(c) for p, c in got.items()} == {p: normalize_text(c) for p, c in final.items()}
