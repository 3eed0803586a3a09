"""Unified diffs: make, parse, apply; awkward lines (form feeds, no final newline, '-- ' lines)."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import (
    PatchError,
    apply_unified_diff,
    changed_paths,
    files_diff,
    line_diff,
    normalize_text,
    parse_unified_diff,
    split_lines,
    unified_diff,
)


def test_round_trip_multi_file_with_new_and_deleted_files():
    base = {"a.py": "x = 1\ny = 2\n", "gone.py": "old\n", "new.py": None}
    final = {"a.py": "x = 1\ny = 3\n", "gone.py": None, "new.py": "fresh\n"}
    diff = files_diff(base, final)
    assert "new file mode" in diff and "deleted file mode" in diff
    assert apply_unified_diff(base, diff) == final
    assert changed_paths(base, final) == ["a.py", "gone.py", "new.py"]


def test_form_feed_and_missing_final_newline_round_trip():
    before = "import os\n\x0c\ndef f():\n    return 1"
    after = "import os\n\x0c\ndef f():\n    return 2"
    diff = unified_diff("m.py", before, after)
    assert "\\ No newline at end of file" in diff
    assert apply_unified_diff({"m.py": before}, diff) == {"m.py": after}
    assert split_lines("a\x0cb\nc") == ["a\x0cb\n", "c"]


def test_removed_line_that_looks_like_a_file_header_stays_in_its_hunk():
    before = "keep\n-- x\nend\n"
    after = "keep\n++ y\nend\n"
    diff = unified_diff("f.txt", before, after)
    [fp] = parse_unified_diff(diff)
    assert fp.hunks[0].old_side() == ["keep\n", "-- x\n", "end\n"]
    assert apply_unified_diff({"f.txt": before}, diff)["f.txt"] == after


def test_git_show_output_parses_and_ignores_the_commit_message():
    text = (
        "commit 0123abcd\nAuthor: A <a@b>\n\n    Fix the thing\n    --- not a header\n\n"
        "diff --git a/a.py b/a.py\nindex 1..2 100644\n--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n"
    )
    [fp] = parse_unified_diff(text)
    assert fp.path == "a.py" and fp.hunks[0].lines == ["-x = 1\n", "+x = 2\n"]


def test_hunk_before_header_and_mismatch_raise():
    with pytest.raises(PatchError, match="before any"):
        parse_unified_diff("@@ -1 +1 @@\n-a\n+b\n")
    with pytest.raises(PatchError, match="does not match"):
        apply_unified_diff({"a.py": "other\n"}, unified_diff("a.py", "x\n", "y\n"))
    with pytest.raises(PatchError, match="climbs out"):
        apply_unified_diff({}, unified_diff("../a.py", None, "y\n"))


def test_normalize_text():
    assert (
        normalize_text(None) == "" and normalize_text("a\r\nb") == "a\nb\n" and normalize_text("a\n") == "a\n"
    )


_line = st.sampled_from(["x = 1\n", "y = 2\n", "\n", "    return x\n", "\x0c\n", "def f():\n", "-- a\n"])


@settings(max_examples=150, deadline=None)
@given(st.lists(_line, max_size=25), st.lists(_line, max_size=25), st.booleans())
def test_any_change_round_trips(before_lines, after_lines, drop_final_newline):
    before, after = "".join(before_lines), "".join(after_lines)
    if drop_final_newline and after:
        after = after[:-1]
    diff = unified_diff("f.py", before, after)
    assert apply_unified_diff({"f.py": before}, diff) == {"f.py": after}


@settings(max_examples=200, deadline=None)
@given(st.lists(_line, max_size=40), st.lists(_line, max_size=40))
def test_line_diff_ranges_rebuild_the_new_lines(a, b):
    ops = line_diff(a, b)
    out, pos = [], 0
    for i1, i2, j1, j2 in ops:
        assert i1 >= pos and (i1, j1) != (i2, j2)
        out += a[pos:i1] + b[j1:j2]
        pos = i2
    assert out + a[pos:] == b


def test_line_diff_on_a_large_input_where_difflib_is_quadratic():
    # correctness on the input that makes difflib quadratic; its speed is bench/'s claim, not a test's
    a = [f"value_{i} = {i}\n" for i in range(40_000)]
    b = [ln.replace("=", ":=") if i % 2 else ln for i, ln in enumerate(a)]
    ops = line_diff(a, b)
    assert len(ops) == 20_000 and all(i2 - i1 == 1 for i1, i2, _, _ in ops)
