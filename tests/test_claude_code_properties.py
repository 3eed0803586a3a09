"""Property tests of the Claude Code reader: random Edit sequences rebuild the file Claude Code left, and
randomly mangled records are reported, never raised.

The hand-made fixture tests are in test_claude_code.py.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from golddiff.diffs import apply_unified_diff
from golddiff.episodes import Episode
from golddiff.traces import claude_code
from golddiff.traces.claude_code.patch import norm_lines, same_lines, structured_patch
from golddiff.traces.session import IngestReport, ReadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "claude_code"


def gold_diff_applies(ep: Episode) -> bool:
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == ep.final.files


_ALPHABET = "ab x=()\n\t'\"é"


def _claude_edit(text: str, old: str, new: str, replace_all: bool) -> tuple[str | None, str]:
    """Claude Code's Edit on `text`: (the new file, or None and the error it reports)."""
    search = old + "\n" if new == "" and not old.endswith("\n") and old + "\n" in text else old
    n = text.count(search)
    if old == new:
        return None, "No changes to make: old_string and new_string are exactly the same."
    if n == 0:
        return None, f"String to replace not found in file.\nString: {old}"
    if n > 1 and not replace_all:
        return None, f"Found {n} matches of the string to replace, but replace_all is false."
    return (text.replace(search, new) if replace_all else text.replace(search, new, 1)), ""


class _EditLog:
    """A Claude Code log of tool calls on one session, each result a user line under its call."""

    def __init__(self) -> None:
        self.records: list[dict] = []

    def add(self, kind: str, **kw) -> None:
        n = len(self.records)
        env = {"uuid": f"u{n}", "parentUuid": f"u{n - 1}" if n else None, "sessionId": "p", "cwd": "/w"}
        self.records.append({"type": kind, **env, "timestamp": f"2025-01-01T00:00:00.{n:03d}Z", **kw})

    def call(self, cid: str, name: str, inp: dict, out: str, err: bool = False, tur: object = None) -> None:
        use = {"type": "tool_use", "id": cid, "name": name, "input": inp}
        self.add("assistant", message={"id": f"m{cid}", "role": "assistant", "content": [use]})
        block = {"type": "tool_result", "tool_use_id": cid, "content": out, "is_error": err}
        self.add(
            "user",
            message={"role": "user", "content": [block]},
            **({} if tur is None else {"toolUseResult": tur}),
        )


def _session(steps: list[tuple[str, str, bool]], base: str, logged: bool) -> tuple[list[dict], str]:
    """A log of a Read of f.py then Edit calls on it (results with toolUseResult if `logged`), and the
    file Claude Code would leave."""
    log = _EditLog()
    log.add("user", message={"role": "user", "content": "edit f.py"})
    n = len(base.splitlines())
    whole = {"filePath": "/w/f.py", "content": base, "numLines": n, "startLine": 1, "totalLines": n}
    log.call("r", "Read", {"file_path": "/w/f.py"}, "...", tur={"type": "text", "file": whole})
    text = base
    for i, (old, new, replace_all) in enumerate(steps):
        inp = {"file_path": "/w/f.py", "old_string": old, "new_string": new, "replace_all": replace_all}
        after, error = _claude_edit(text, old, new, replace_all)
        if after is None:
            log.call(
                f"e{i}", "Edit", inp, f"<tool_use_error>{error}</tool_use_error>", True, "Error: " + error
            )
            continue
        patch = structured_patch(text, after)
        tur = {
            "filePath": "/w/f.py",
            "oldString": old,
            "newString": new,
            "originalFile": text,
            "structuredPatch": patch,
        }
        log.call(f"e{i}", "Edit", inp, "The file was updated.", tur=tur if logged else None)
        text = after
    return log.records, text


@st.composite
def _edit_sequences(draw) -> tuple[str, list[tuple[str, str, bool]]]:
    lines = draw(st.lists(st.text(_ALPHABET.replace("\n", ""), max_size=8), min_size=1, max_size=8))
    base = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    text, steps = base, []
    for _ in range(draw(st.integers(1, 6))):
        if not text:
            break
        i = draw(st.integers(0, len(text) - 1))
        j = draw(st.integers(i + 1, min(len(text), i + 12)))
        old, new = text[i:j], draw(st.text(_ALPHABET, max_size=10))
        replace_all = draw(st.booleans()) and draw(st.booleans())
        steps.append((old, new, replace_all))
        after = _claude_edit(text, old, new, replace_all)[0]
        text = text if after is None else after
    return base, steps


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_edit_sequences(), st.booleans())
def test_random_edit_sequences_rebuild_the_file_claude_code_left(case, logged):
    base, steps = case
    records, expected = _session(steps, base, logged)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "p.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        report = IngestReport(quiet=True)
        episodes = list(claude_code.read(path, report, ReadOptions()))
    final = episodes[0].final.files["f.py"] if episodes else base
    assert final == expected
    assert report.counts["patch_mismatch"] == 0 and report.counts["skipped_records"] == 0
    if episodes:
        assert gold_diff_applies(episodes[0])


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.text(_ALPHABET, max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["type", "id", "x"]), inner, max_size=3)
    ),
    max_leaves=6,
)
_MANGLED = [
    "rejections.jsonl",
    "compaction.jsonl",
    "rewind_branch.jsonl",
    "human_change.jsonl",
    "sidechain_inline.jsonl",
    "multiedit.jsonl",
    "write_create_update.jsonl",
    "plan_and_question.jsonl",
    "record_types.jsonl",
]


def _mangle(rec: dict, data: st.DataObject) -> None:
    """Replace one value somewhere inside a record (up to four levels down) with random JSON."""
    node: dict | list = rec
    for depth in range(4):
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return
        key = data.draw(st.sampled_from(keys))
        child = node[key]  # type: ignore[index]
        if depth == 3 or not isinstance(child, (dict, list)) or not child or data.draw(st.booleans()):
            node[key] = data.draw(_JSON)  # type: ignore[index]
            return
        node = child


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_records_are_reported_never_raised(data):
    name = data.draw(st.sampled_from(_MANGLED))
    records = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines()]
    for _ in range(data.draw(st.integers(1, 4))):
        _mangle(data.draw(st.sampled_from(records)), data)
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / name
        path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
        report = IngestReport(quiet=True)
        episodes = list(claude_code.read(path, report, ReadOptions()))
    assert all(p.startswith(str(path)) for p in report.problems)
    for ep in episodes:
        assert gold_diff_applies(ep)


_PATCH_TEXT = st.text("ab\n\r\t ", max_size=12)


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text("ab\n\r\t ", max_size=4), max_size=5), _PATCH_TEXT)
def test_same_lines_is_norm_lines_equality_without_the_split(lines, text):
    """`same_lines` (the patch check of every Edit) agrees with comparing `norm_lines` lists, whatever
    newlines, carriage returns and tabs the lines and the text hold."""
    assert same_lines(lines, text) == (lines == norm_lines(text))
    assert same_lines(norm_lines(text), text)
