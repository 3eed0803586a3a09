"""unified_diff trims equal leading and trailing lines on the texts; it must give exactly the diff of
the whole line lists, and re-apply."""

from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import apply_unified_diff, unified_diff
from golddiff.diffs.unified import _hunk_lines, line_diff, split_lines


def whole_file_diff(path: str, before: str | None, after: str | None, context: int) -> str:
    """The reference: line_diff on every line of both files."""
    if before == after:
        return ""
    a, b = split_lines(before), split_lines(after)
    ops = line_diff(a, b)
    if not ops:
        return ""
    out = [f"diff --git a/{path} b/{path}\n"]
    out += (
        ["new file mode 100644\n"]
        if before is None
        else ["deleted file mode 100644\n"]
        if after is None
        else []
    )
    out += [
        f"--- {'/dev/null' if before is None else 'a/' + path}\n",
        f"+++ {'/dev/null' if after is None else 'b/' + path}\n",
    ]
    for line in _hunk_lines(a, b, ops, context):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


_text = st.lists(st.sampled_from(["a\n", "b\n", "x = 1\n", "\n", "c", "\n\n", "a"]), max_size=14).map("".join)


@settings(max_examples=400, deadline=None)
@given(_text, _text, st.sampled_from([0, 1, 3]), st.sampled_from(["both", "created", "deleted"]))
def test_same_diff_as_on_whole_line_lists_and_it_applies(before, after, context, kind):
    b = None if kind == "created" else before
    a = None if kind == "deleted" else after
    diff = unified_diff("f.py", b, a, context)
    assert diff == whole_file_diff("f.py", b, a, context)
    if diff and a is not None and b is not None and context:
        assert apply_unified_diff({"f.py": b}, diff)["f.py"] == a


def test_a_one_line_edit_of_a_long_file_has_the_right_line_numbers():
    before = "".join(f"line {i}\n" for i in range(10_000))
    after = before.replace("line 5000\n", "line five thousand\n")
    diff = unified_diff("big.txt", before, after)
    assert "@@ -4998,7 +4998,7 @@" in diff and "-line 5000\n+line five thousand\n" in diff
    assert diff == whole_file_diff("big.txt", before, after, 3)
