"""Rebuild a Claude Code Edit / MultiEdit / Write on a known file and check it against the logged patch.

A successful edit's `toolUseResult` holds the whole file before it (`originalFile`, MultiEdit:
`originalFileContents`) and a `structuredPatch`: jsdiff hunks `{oldStart, oldLines, newStart, newLines,
lines}` whose lines start with ' ', '-' or '+' and show leading tabs as two spaces each. `rebuild()`
re-applies the tool's input the way Claude Code's `applyEditToFile` does (the first match, or every match
with `replace_all`; deleting text that ends a line also takes its newline; an empty `old_string` writes
the whole file) and compares the result with the patch line by line. Subagent transcripts and rejected
edits have no `toolUseResult`: there the known file state is all there is. Pure functions, no I/O.

    rb = rebuild("Edit", {"file_path": "/r/a.py", "old_string": "1", "new_string": "2"}, None, "x = 1\\n", True)
    assert rb.after == "x = 2\\n"
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write"})

# (old_string, new_string, replace_all); old_string None = write the whole file (Write)
Change = tuple[str | None, str, bool]
_LEADING_TABS = re.compile(r"^\t+")
_LEADING_TABS_ML = re.compile(r"^\t+", re.MULTILINE)
_LINE_END_CR = re.compile(r"\r+$", re.MULTILINE)
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


@dataclass
class Rebuilt:
    """An edit re-applied: the file before and after it, and what the check against the log found."""

    before: str | None  # None = the file did not exist
    after: str | None  # None = the intended change could not be formed (see `note`)
    checked: bool = False  # a structuredPatch was compared with the result
    mismatch: bool = False  # ... and they disagreed
    note: str | None = None


@dataclass
class Hunk:
    old_start: int
    new_start: int
    old: list[str]  # the lines the hunk replaces (context and '-'), tabs shown as spaces
    new: list[str]  # the lines it writes (context and '+')


def replace_in(content: str | None, old: str, new: str, replace_all: bool) -> str | None:
    """Claude Code's applyEditToFile; None when `old` is not in the file."""
    if old == "":
        return new
    if content is None:
        return None
    search = old
    if new == "" and not old.endswith("\n") and old + "\n" in content:
        search = old + "\n"
    if search not in content:
        search = _actual_string(content, search)
        if search is None:
            return None
    return content.replace(search, new) if replace_all else content.replace(search, new, 1)


def _actual_string(content: str, search: str) -> str | None:
    """The file's own spelling of `search` when they differ only in curly vs straight quotes."""
    plain = search.translate(_QUOTES)
    at = content.translate(_QUOTES).find(plain)
    return content[at : at + len(search)] if at >= 0 else None


def apply_changes(before: str | None, changes: list[Change]) -> str | None:
    """The file after `changes`, applied in order; None if one of them does not apply."""
    text = before
    for old, new, replace_all in changes:
        text = new if old is None else replace_in(text, old, new, replace_all)
        if text is None:
            return None
    return text


def tool_changes(tool: str, inp: dict) -> list[Change] | None:
    """The changes a tool call asks for, from its input; None if the input is not of the known shape."""
    if tool == "Write":
        content = inp.get("content")
        return [(None, content, False)] if isinstance(content, str) else None
    edits = inp.get("edits") if tool == "MultiEdit" else [inp]
    if not isinstance(edits, list) or not edits:
        return None
    out: list[Change] = []
    for e in edits:
        if not isinstance(e, dict):
            return None
        old, new = e.get("old_string"), e.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            return None
        out.append((old, new, bool(e.get("replace_all"))))
    return out


def _variants(tool: str, inp: dict, result: dict | None) -> list[list[Change]]:
    """The input's changes, then the logged (normalised) strings, then new_string without trailing blanks."""
    first = tool_changes(tool, inp)
    out = [first] if first else []
    if result and tool == "Edit" and isinstance(result.get("oldString"), str):
        logged_input = {
            "old_string": result["oldString"],
            "new_string": result.get("newString"),
            "replace_all": result.get("replaceAll", inp.get("replace_all")),
        }
        logged = tool_changes("Edit", logged_input)
        if logged and logged not in out:
            out.append(logged)
    if result and tool == "MultiEdit":
        logged = tool_changes("MultiEdit", {"edits": result.get("edits")})
        if logged and logged not in out:
            out.append(logged)
    if first and tool != "Write":
        stripped = [(o, re.sub(r"[ \t]+$", "", n, flags=re.M), ra) for o, n, ra in first]
        if stripped not in out:
            out.append(stripped)
    return out


def parse_hunks(patch: object) -> list[Hunk] | None:
    """A structuredPatch as hunks; None if it is not of the known shape."""
    if not isinstance(patch, list):
        return None
    hunks = []
    for h in patch:
        if not isinstance(h, dict) or not isinstance(h.get("lines"), list):
            return None
        old_start, new_start = h.get("oldStart", 1), h.get("newStart", 1)
        if not isinstance(old_start, int) or not isinstance(new_start, int):
            return None
        old, new = [], []
        for ln in h["lines"]:
            if not isinstance(ln, str):
                return None
            body = _norm_line(ln[1:])
            if ln[:1] in (" ", "-"):
                old.append(body)
            if ln[:1] in (" ", "+"):
                new.append(body)
        hunks.append(Hunk(old_start, new_start, old, new))
    return hunks


def patch_shape_ok(patch: object) -> bool:
    """Whether `parse_hunks(patch)` is not None, without building the hunks."""
    if not isinstance(patch, list):
        return False
    for h in patch:
        if not isinstance(h, dict) or not isinstance(h.get("lines"), list):
            return False
        if not isinstance(h.get("oldStart", 1), int) or not isinstance(h.get("newStart", 1), int):
            return False
        if not all(isinstance(ln, str) for ln in h["lines"]):
            return False
    return True


def structured_patch(before: str, after: str) -> list[dict]:
    """`before` -> `after` as Claude Code logs it: jsdiff hunks with 3 lines of context, lines without their
    newline and leading tabs shown as two spaces each (what `parse_hunks` reads back)."""
    a, b = before.splitlines(), after.splitlines()
    hunks = []
    for group in difflib.SequenceMatcher(None, a, b, autojunk=False).get_grouped_opcodes(3):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        lines = []
        for tag, x1, x2, y1, y2 in group:
            if tag == "equal":
                lines += [" " + s for s in a[x1:x2]]
            else:
                lines += ["-" + s for s in a[x1:x2]] + ["+" + s for s in b[y1:y2]]
        lines = [line[0] + _LEADING_TABS.sub(lambda m: "  " * len(m[0]), line[1:]) for line in lines]
        hunks.append(
            {"oldStart": i1 + 1, "oldLines": i2 - i1, "newStart": j1 + 1, "newLines": j2 - j1, "lines": lines}
        )
    return hunks


def _norm_line(line: str) -> str:
    line = line.rstrip("\r")
    return _LEADING_TABS.sub(lambda m: "  " * len(m.group()), line) if line.startswith("\t") else line


def _norm_text(text: str) -> str:
    """A file's text as the patch shows it: no carriage returns at line ends, leading tabs as two spaces."""
    if "\r" in text:
        text = _LINE_END_CR.sub("", text)
    if "\t" in text:
        text = _LEADING_TABS_ML.sub(lambda m: "  " * len(m.group()), text)
    return text


def norm_lines(text: str | None) -> list[str]:
    """A file as the patch shows it: split on newlines, leading tabs as two spaces each."""
    if not text:
        return []
    lines = _norm_text(text).split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def same_lines(lines: list[str], text: str | None) -> bool:
    """`lines == norm_lines(text)`, without splitting `text` into a list: as many lines, and the same
    text once joined (together these mean no element of `lines` holds a newline, so the lists match)."""
    t = _norm_text(text) if text else ""
    if t.endswith("\n"):
        t = t[:-1]
        n = t.count("\n") + 1
    else:
        n = t.count("\n") + 1 if t else 0
    return len(lines) == n and "\n".join(lines) == t


def _find(lines: list[str], block: list[str], hint: int) -> int:
    """Where `block` starts in `lines`: at `hint` if it is there, else the nearest match, else -1."""
    hint = min(max(hint, 0), len(lines))
    n = len(block)
    if not block or lines[hint : hint + n] == block:
        return hint
    starts = [k for k in range(len(lines) - n + 1) if lines[k] == block[0] and lines[k : k + n] == block]
    return min(starts, key=lambda k: abs(k - hint)) if starts else -1


def _walk(lines: list[str], hunks: list[Hunk], forward: bool) -> list[str] | None:
    """`lines` with every hunk applied (old -> new), or undone (new -> old) when not `forward`; each hunk is
    looked for nearest its logged start; None if one does not match."""
    offset = 0
    for h in hunks:
        frm, to, start = (h.old, h.new, h.old_start) if forward else (h.new, h.old, h.new_start)
        at = _find(lines, frm, start - 1 + offset)
        if at < 0:
            return None
        lines[at : at + len(frm)] = to
        offset += len(to) - len(frm)
    return lines


def patched_lines(before: str | None, hunks: list[Hunk]) -> list[str] | None:
    """The file's lines after the logged patch (tabs shown as spaces); None if a hunk does not match."""
    return _walk(norm_lines(before), hunks, forward=True)


def unpatch(after: str, hunks: list[Hunk]) -> str | None:
    """The file before a patch, from the file after it (a Write 'update' logged without originalFile)."""
    if "\t" in after:
        return None  # the patch shows tabs as spaces: going back would lose them
    lines = _walk(norm_lines(after), hunks, forward=False)
    if lines is None:
        return None
    return "\n".join(lines) + ("\n" if lines and after.endswith("\n") else "")


def logged_before(tool: str, result: dict | None) -> tuple[bool, str | None]:
    """(whether the log says, the file before the edit) from a toolUseResult."""
    if not result:
        return False, None
    if tool == "Write" and result.get("type") == "create":
        return True, None
    key = (
        "originalFileContents" if tool == "MultiEdit" and "originalFileContents" in result else "originalFile"
    )
    value = result.get(key)
    return (True, value) if isinstance(value, str) else (False, None)


def rebuild(tool: str, inp: dict, result: dict | None, before: str | None, known: bool) -> Rebuilt:
    """Re-apply a tool call to the file; with a logged result, trust its `originalFile` and check its patch.

    `before`/`known`: the file as the session left it so far, and whether that is known at all.
    """
    has, logged = logged_before(tool, result)
    if has:
        before, known = logged, True
    hunks = parse_hunks(result.get("structuredPatch")) if result else None
    if not known and tool == "Write" and hunks and isinstance(inp.get("content"), str):
        before = unpatch(inp["content"], hunks)
        known = before is not None
    if not known:
        return Rebuilt(None, None, note="the file's content before the edit is unknown")
    results = [apply_changes(before, v) for v in _variants(tool, inp, result)]
    formed = next((r for r in results if r is not None), None)
    if hunks is None:
        why = None if formed is not None else "its old_string is not in the file"
        return Rebuilt(before, formed, note=why)
    if tool == "Write" and before is None and not hunks and formed is not None:
        return Rebuilt(before, formed, checked=True)  # a created file: the log has no hunks for it
    patched = patched_lines(before, hunks)  # once, not once per variant
    for r in results:
        if r is not None and patched is not None and same_lines(patched, r):
            return Rebuilt(before, r, checked=True)
    return _disagreed(before, formed, patched)


def _disagreed(before: str | None, formed: str | None, patched: list[str] | None) -> Rebuilt:
    """The rebuilt file disagrees with the logged patch (`patched`: the file after it, None when it does
    not apply): trust the patch where it loses nothing."""
    after = formed
    if patched is not None and (formed is None or "\t" not in (before or "")):
        after = "\n".join(patched) + ("\n" if patched and (before or "\n").endswith("\n") else "")
    what = "could not be re-applied" if formed is None else "re-applied differs from the logged patch"
    if patched is None:
        what += "; the logged patch does not match the file either"
    return Rebuilt(before, after, checked=True, mismatch=True, note=what)
