"""Unified diffs: make them (git style, multi-file), parse them, apply them by context.

Lines are split on "\\n" only (never on form feeds or other characters `str.splitlines` treats as line
breaks), so a diff made here re-applies exactly to a file that contains them.

    diff = unified_diff("a.py", "x = 1\\n", "x = 2\\n")
    assert apply_unified_diff({"a.py": "x = 1\\n"}, diff) == {"a.py": "x = 2\\n"}
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from golddiff.diffs.core import Files, PatchError, _find_block, check_path


def split_lines(text: str | None) -> list[str]:
    """Lines of `text`, each keeping its "\\n" (the last one may lack it). Splits on "\\n" only."""
    if not text:
        return []
    lines = text.split("\n")
    out = [ln + "\n" for ln in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def normalize_text(text: str | None) -> str:
    """The form files are compared in: "\\n" line endings and, unless empty, a final newline."""
    if not text:
        return ""
    text = text.replace("\r\n", "\n")
    return text if text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------------------- line diff

_MAX_DEPTH = 24  # nested anchor searches; deeper gaps are diffed by difflib if small, else kept whole


def _trim(a: list[str], b: list[str], alo: int, ahi: int, blo: int, bhi: int) -> tuple[int, int, int, int]:
    while alo < ahi and blo < bhi and a[alo] == b[blo]:
        alo, blo = alo + 1, blo + 1
    while alo < ahi and blo < bhi and a[ahi - 1] == b[bhi - 1]:
        ahi, bhi = ahi - 1, bhi - 1
    return alo, ahi, blo, bhi


def _unique_pairs(
    a: list[str], alo: int, ahi: int, b: list[str], blo: int, bhi: int
) -> list[tuple[int, int]]:
    """(i, j) for each line that occurs exactly once in a[alo:ahi] and once in b[blo:bhi], by i."""
    part_a, part_b = a[alo:ahi], b[blo:bhi]
    count_a, count_b = Counter(part_a), Counter(part_b)
    where_b = {ln: j for j, ln in enumerate(part_b, blo) if count_b[ln] == 1 and count_a.get(ln) == 1}
    return [(i, where_b[ln]) for i, ln in enumerate(part_a, alo) if ln in where_b]


def _increasing_run(pairs: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The longest subsequence of `pairs` (sorted by i) whose j increase too (patience sorting)."""
    js = [j for _, j in pairs]
    if js == sorted(js):  # already increasing (no line moved: most edits): all of them, found in C
        return pairs
    tails: list[int] = []  # tails[k]: j of the smallest tail of an increasing run of length k + 1
    tail_idx: list[int] = []
    prev = [-1] * len(pairs)
    for n, (_, j) in enumerate(pairs):
        k = bisect.bisect_left(tails, j)
        if k == len(tails):
            tails.append(j)
            tail_idx.append(n)
        else:
            tails[k], tail_idx[k] = j, n
        prev[n] = tail_idx[k - 1] if k else -1
    out, n = [], tail_idx[-1] if tail_idx else -1
    while n >= 0:
        out.append(pairs[n])
        n = prev[n]
    return out[::-1]


def line_diff(a: list[str], b: list[str], small: int = 40_000) -> list[tuple[int, int, int, int]]:
    """The changed ranges (i1, i2, j1, j2) that turn lines `a` into lines `b`, in order.

    Patience diff: lines unique on both sides anchor the match (their longest increasing run), and the
    gaps between anchors are diffed the same way; a gap with no anchors is diffed by difflib when
    len·len ≤ `small`, else kept as one change. Near-linear, where difflib alone is quadratic on files
    whose changes alternate with unchanged lines.
    """
    out: list[tuple[int, int, int, int]] = []
    todo = [(0, len(a), 0, len(b), 0)]
    while todo:
        alo, ahi, blo, bhi, depth = todo.pop()
        alo, ahi, blo, bhi = _trim(a, b, alo, ahi, blo, bhi)
        if alo == ahi and blo == bhi:
            continue
        anchors = _unique_pairs(a, alo, ahi, b, blo, bhi) if alo < ahi and blo < bhi else []
        if anchors and depth < _MAX_DEPTH:
            for i, j in _increasing_run(anchors):
                # a gap between two anchors: diff it on its own, unless its lines are the same
                if (i > alo or j > blo) and (i - alo != j - blo or a[alo:i] != b[blo:j]):
                    todo.append((alo, i, blo, j, depth + 1))
                alo, blo = i + 1, j + 1
            todo.append((alo, ahi, blo, bhi, depth + 1))
        elif 0 < (ahi - alo) * (bhi - blo) <= small:
            ops = difflib.SequenceMatcher(None, a[alo:ahi], b[blo:bhi], autojunk=False).get_opcodes()
            out += [(i1 + alo, i2 + alo, j1 + blo, j2 + blo) for tag, i1, i2, j1, j2 in ops if tag != "equal"]
        else:
            out.append((alo, ahi, blo, bhi))
    return _merge_touching(sorted(out))


def _merge_touching(ops: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    merged: list[tuple[int, int, int, int]] = []
    for op in ops:
        if merged and merged[-1][1] == op[0] and merged[-1][3] == op[2]:
            merged[-1] = (merged[-1][0], op[1], merged[-1][2], op[3])
        else:
            merged.append(op)
    return merged


# ------------------------------------------------------------------------------------- unified diff


def _range(start: int, stop: int) -> str:
    """A hunk header range, as difflib and git write it."""
    length = stop - start
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _hunk_lines(
    a: list[str], b: list[str], ops: list[tuple[int, int, int, int]], n: int, offset: int = 0
) -> list[str]:
    """The `@@` hunks for changed ranges `ops`, with `n` lines of context; nearby changes share a hunk.
    `offset`: how many lines (the same on both sides) precede `a` and `b` in the files."""
    groups: list[list[tuple[int, int, int, int]]] = []
    for op in ops:
        if groups and op[0] - groups[-1][-1][1] <= 2 * n:
            groups[-1].append(op)
        else:
            groups.append([op])
    out: list[str] = []
    for g in groups:
        a0, a1 = max(0, g[0][0] - n), min(len(a), g[-1][1] + n)
        b0, b1 = g[0][2] - (g[0][0] - a0), g[-1][3] + (a1 - g[-1][1])
        out.append(f"@@ -{_range(a0 + offset, a1 + offset)} +{_range(b0 + offset, b1 + offset)} @@\n")
        pos = a0
        for i1, i2, j1, j2 in g:
            out += (
                [" " + ln for ln in a[pos:i1]] + ["-" + ln for ln in a[i1:i2]] + ["+" + ln for ln in b[j1:j2]]
            )
            pos = i2
        out += [" " + ln for ln in a[pos:a1]]
    return out


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix, found by comparing halves (C-speed slices, not a loop)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[lo:mid] == b[lo:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: str, b: str, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid : len(a) - lo] == b[len(b) - mid : len(b) - lo]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _changed_middle(a: str, b: str, context: int) -> tuple[int, list[str], list[str]]:
    """(lines before, the lines of `a` and of `b` from `context` lines before their first difference to
    `context` lines after their last one). Equal leading and trailing lines are found on the texts, so
    a one-line edit of a big file is not split into lines and compared line by line."""
    p = _common_prefix(a, b)
    p = a.rfind("\n", 0, p) + 1  # the start of the first line that differs
    s = _common_suffix(a, b, min(len(a), len(b)) - p)
    sa, sb = len(a) - s, len(b) - s
    while sa < len(a) and not (a[sa - 1 : sa] in ("", "\n") and b[sb - 1 : sb] in ("", "\n")):
        step = a.find("\n", sa)
        step = len(a) if step < 0 else step + 1
        sb, sa = sb + (step - sa), step  # the next line start after the last difference
    head = a.rfind("\n", 0, max(p - 1, 0))
    for _ in range(context - 1):
        if head < 0:
            break
        head = a.rfind("\n", 0, head)
    start = head + 1 if p else 0  # `context` whole lines before the first difference
    tail = sa
    for _ in range(context):
        nl = a.find("\n", tail)
        tail = len(a) if nl < 0 else nl + 1
    before = a.count("\n", 0, start)
    return before, split_lines(a[start:tail]), split_lines(b[start : sb + (tail - sa)])


def unified_diff(path: str, before: str | None, after: str | None, context: int = 3) -> str:
    """A git-style unified diff of one file ('' when nothing changed). None = absent file."""
    if before == after:
        return ""
    offset, a, b = _changed_middle(before or "", after or "", context)
    old_name = "/dev/null" if before is None else f"a/{path}"
    new_name = "/dev/null" if after is None else f"b/{path}"
    out = [f"diff --git a/{path} b/{path}\n"]
    if before is None:
        out.append("new file mode 100644\n")
    elif after is None:
        out.append("deleted file mode 100644\n")
    ops = line_diff(a, b)
    if not ops:
        return ""  # the same lines (e.g. "" against None)
    out += [f"--- {old_name}\n", f"+++ {new_name}\n"]
    for line in _hunk_lines(a, b, ops, context, offset):
        if not line.endswith("\n"):
            line += "\n\\ No newline at end of file\n"
        out.append(line)
    return "".join(out)


_HUNK_HEADER = re.compile(r"^@@ -(\d+)(,\d+)? \+(\d+)(,\d+)? @@", re.MULTILINE)


def shift_hunks(diff: str, by: int) -> str:
    """A unified diff with every hunk moved `by` lines down (a window's diff placed in its file)."""
    if not by:
        return diff

    def move(m: re.Match) -> str:
        return f"@@ -{int(m[1]) + by}{m[2] or ''} +{int(m[3]) + by}{m[4] or ''} @@"

    return _HUNK_HEADER.sub(move, diff)


def bare_diff(path: str, changes: Iterable[tuple[str | None, str]]) -> str:
    """One diff of `path` holding each (old text, new text) change as its own hunk, placed nowhere: for
    an edit whose file was never seen whole. Its line numbers mean nothing; old None = a whole new text.

    >>> print(bare_diff("a.py", [("x = 1", "x = 2")]), end="")
    diff --git a/a.py b/a.py
    --- a/a.py
    +++ b/a.py
    @@ -1 +1 @@
    -x = 1
    +x = 2
    """
    header, hunks = "", []
    for old, new in changes:
        d = unified_diff(path, _with_newline(old) if old is not None else "", _with_newline(new))
        head, sep, body = d.partition("\n@@")
        if sep:
            header = header or head + "\n"
            hunks.append("@@" + body)
    return header + "".join(hunks) if hunks else ""


def _with_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


def files_diff(base: Files, final: Files, context: int = 3) -> str:
    """The multi-file unified diff from `base` to `final`, files in sorted order."""
    paths = sorted(set(base) | set(final))
    return "".join(unified_diff(p, base.get(p), final.get(p), context) for p in paths)


@dataclass
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    lines: list[str] = field(default_factory=list)  # each starts with ' ', '-' or '+', keeps its '\n'

    def old_side(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[:1] in (" ", "-")]

    def new_side(self) -> list[str]:
        return [ln[1:] for ln in self.lines if ln[:1] in (" ", "+")]


@dataclass
class FilePatch:
    old_path: str | None  # None = created
    new_path: str | None  # None = deleted
    hunks: list[Hunk] = field(default_factory=list)

    @property
    def path(self) -> str:
        return self.new_path or self.old_path or ""


_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


def _strip_prefix(name: str) -> str | None:
    name = name.split("\t")[0].strip()
    if name == "/dev/null":
        return None
    if name[:2] in ("a/", "b/"):
        name = name[2:]
    return name


def _is_file_header(lines: list[str], i: int) -> bool:
    return (
        lines[i].startswith("--- ")
        and i + 2 < len(lines)
        and lines[i + 1].startswith("+++ ")
        and lines[i + 2].startswith("@@ ")
    )


def _read_hunk(lines: list[str], i: int, hunk: Hunk) -> int:
    """Read the body of `hunk` starting at line i; returns the index of the first line after it.

    The header's line counts say where the hunk ends (so a removed line that starts with "-- " is not
    mistaken for a file header). A line that cannot be part of a hunk also ends it, for hand-written
    diffs whose counts are off.
    """
    old_left, new_left = hunk.old_len, hunk.new_len
    while i < len(lines) and (old_left > 0 or new_left > 0):
        line = lines[i]
        tag = line[:1]
        if _is_file_header(lines, i):
            break  # the counts were too large: the next file starts here
        if line in ("\n", "\r\n"):
            line, tag = " \n", " "  # editors strip the space from empty context lines
        if tag == " ":
            old_left, new_left = old_left - 1, new_left - 1
        elif tag == "-":
            old_left -= 1
        elif tag == "+":
            new_left -= 1
        elif tag == "\\":
            if hunk.lines:  # "\ No newline at end of file" applies to the line before it
                hunk.lines[-1] = hunk.lines[-1].rstrip("\n")
            i += 1
            continue
        else:
            break
        hunk.lines.append(line if line.endswith("\n") else line + "\n")
        i += 1
    if i < len(lines) and lines[i].startswith("\\") and hunk.lines:
        hunk.lines[-1] = hunk.lines[-1].rstrip("\n")
        i += 1
    return i


def parse_unified_diff(text: str) -> list[FilePatch]:
    """Parse a (multi-file, git or plain) unified diff. Raises PatchError naming the line.

    Lines outside file sections (commit headers, `diff --git`, `index` lines) are skipped.
    """
    patches: list[FilePatch] = []
    lines = split_lines(text)
    i, cur = 0, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            cur = FilePatch(_strip_prefix(line[4:]), _strip_prefix(lines[i + 1][4:]))
            patches.append(cur)
            i += 2
            continue
        m = _HUNK_RE.match(line)
        if m:
            if cur is None:
                raise PatchError(f"diff line {i + 1}: hunk header before any '---'/'+++' file header")
            hunk = Hunk(int(m[1]), int(m[2] or 1), int(m[3]), int(m[4] or 1))
            cur.hunks.append(hunk)
            i = _read_hunk(lines, i + 1, hunk)
            continue
        i += 1
    return patches


def apply_hunks(content: str | None, hunks: list[Hunk], path: str = "?") -> str:
    """Apply hunks to one file's content, each found by its context near where its header says."""
    lines = split_lines(content)
    offset = 0
    for h in hunks:
        old, new = h.old_side(), h.new_side()
        at = _find_block(lines, old, h.old_start - 1 + offset)
        if at < 0:
            preview = "".join(old[:3]).rstrip()
            raise PatchError(f"{path}: hunk @@ -{h.old_start} does not match the file (expected {preview!r})")
        lines[at : at + len(old)] = new
        offset += len(new) - len(old)
    return "".join(lines)


def apply_unified_diff(
    files: Files, diff: str, allowed: Iterable[str] | None = None
) -> dict[str, str | None]:
    """Apply a multi-file unified diff to `files`; missing files count as empty/absent."""
    out = dict(files)
    for fp in parse_unified_diff(diff):
        if fp.new_path is None:
            out[check_path(fp.old_path or "", allowed)] = None
            continue
        path = check_path(fp.new_path, allowed)
        src = out.get(check_path(fp.old_path, allowed)) if fp.old_path else None
        out[path] = apply_hunks(src, fp.hunks, path)
        if fp.old_path and fp.old_path != fp.new_path:
            out[check_path(fp.old_path, allowed)] = None
    return out


def changed_paths(base: Files, final: Files) -> list[str]:
    """Paths whose content differs between `base` and `final` (a missing path counts as absent)."""
    return sorted(p for p in set(base) | set(final) if base.get(p) != final.get(p))
