"""StrippedLines answers `in` exactly as a set of the text's stripped lines would."""

from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.traces.session.stripped import StrippedLines

_piece = st.sampled_from(
    ["a", "b", " a", "a ", "ab", "\n", "\n", "\r\n", "\x0c", "  x = 1", "x = 1", "\t", ""]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(_piece, max_size=20).map("".join), st.lists(_piece, max_size=4).map("".join))
def test_same_answers_as_the_set_of_stripped_lines(text, line):
    expected = set(map(str.strip, text.splitlines()))
    lines = StrippedLines(text)
    assert (line in lines) == (line in expected)
    for candidate in expected:
        assert candidate in lines


def test_a_line_found_inside_a_longer_line_does_not_count():
    lines = StrippedLines("def run():\n    return value + 1\n")
    assert "return value + 1" in lines and "return value" not in lines and "value" not in lines
