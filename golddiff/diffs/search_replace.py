"""SEARCH/REPLACE edit blocks: the model's answer format (strict) and Aider's (lenient).

The answer format, which `parse_answer` reads strictly and `render_search_replace` writes (shown here
with a margin, since a line starting with seven '>' would read as a doctest prompt):

    | optional reasoning, in any words
    | path/to/file.py
    | <<<<<<< SEARCH
    | lines copied exactly from the file
    | =======
    | the lines that replace them
    | >>>>>>> REPLACE

- The line right above `<<<<<<< SEARCH` names the file; one fence line (```` ```python ````) may sit
  between them. Text before, between and after blocks is free; a `<think>...</think>` section is ignored.
- Markers are exactly seven characters; a block missing its path, divider or end marker, a second
  divider, a nested SEARCH or a stray `>>>>>>> REPLACE` is malformed (`PatchError`).
- `apply_answer`: the SEARCH text must match whole lines of the file: exactly, else ignoring trailing
  whitespace, else up to one indentation change for the whole block (one level too deep or too
  shallow: the REPLACE lines are shifted the same way, as Aider does); the first match is replaced; blocks
  apply in order. An empty SEARCH creates a file, and only
  a file that does not exist (or is empty). Paths are checked (`check_path`): no absolute paths, no `..`,
  nothing outside `allowed`. Files are compared with "\\n" line endings and a final newline.

    >>> base = {"a.py": "x = 1\\ny = 2\\n"}
    >>> answer = render_search_replace(base, {"a.py": "x = 1\\ny = 3\\n"})
    >>> apply_answer(base, parse_answer(answer))["a.py"]
    'x = 1\\ny = 3\\n'
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from golddiff.diffs.core import Files, PatchError, _find_block, check_path
from golddiff.diffs.unified import line_diff, normalize_text, parse_unified_diff, split_lines

SEARCH_MARK = "<<<<<<< SEARCH"
DIVIDER = "======="
REPLACE_MARK = ">>>>>>> REPLACE"
_MARKS = (SEARCH_MARK, DIVIDER, REPLACE_MARK)

_SEARCH_RE = re.compile(r"^<{5,9} ?(SEARCH|ORIGINAL)\s*$")
_DIVIDER_RE = re.compile(r"^={5,9}\s*$")
_REPLACE_RE = re.compile(r"^>{5,9} ?(REPLACE|UPDATED)\s*$")


@dataclass
class SearchReplace:
    path: str
    search: str
    replace: str
    line: int  # 1-based line of the SEARCH marker in the text it came from


# ------------------------------------------------------------------------------------------ lenient


def _clean_filename(line: str) -> str:
    name = line.strip().strip("`*").strip()
    if name.startswith("#"):
        name = name.lstrip("#").strip()
    return name.rstrip(":").strip()


def parse_search_replace(text: str) -> list[SearchReplace]:
    """Find every SEARCH/REPLACE block leniently (5–9 markers; old ORIGINAL/UPDATED form too).

    The file name is the nearest non-fence line above the SEARCH marker. Raises PatchError on an
    unterminated block or a block with no file name. For model answers use the strict `parse_answer`.
    """
    lines = split_lines(text)
    blocks: list[SearchReplace] = []
    i = 0
    while i < len(lines):
        if not _SEARCH_RE.match(lines[i].rstrip("\n")):
            i += 1
            continue
        start = i
        name = ""
        j = i - 1
        while j >= 0 and (not lines[j].strip() or lines[j].strip().startswith("```")):
            j -= 1
        if j >= 0:
            name = _clean_filename(lines[j])
        if not name or _REPLACE_RE.match(name) or _DIVIDER_RE.match(name):
            name = blocks[-1].path if blocks else ""
        if not name:
            raise PatchError(f"SEARCH/REPLACE block at line {start + 1}: no file name on the line above it")
        search: list[str] = []
        replace: list[str] = []
        i += 1
        while i < len(lines) and not _DIVIDER_RE.match(lines[i].rstrip("\n")):
            search.append(lines[i])
            i += 1
        if i >= len(lines):
            raise PatchError(f"SEARCH/REPLACE block at line {start + 1}: no '=======' divider")
        i += 1
        while i < len(lines) and not _REPLACE_RE.match(lines[i].rstrip("\n")):
            replace.append(lines[i])
            i += 1
        if i >= len(lines):
            raise PatchError(f"SEARCH/REPLACE block at line {start + 1}: no '>>>>>>> REPLACE' marker")
        blocks.append(SearchReplace(name, "".join(search), "".join(replace), start + 1))
        i += 1
    return blocks


def apply_search_replace(
    files: Files, blocks: list[SearchReplace], allowed: Iterable[str] | None = None
) -> dict[str, str | None]:
    """Apply blocks leniently, in order. An empty SEARCH creates the file (or appends to it).

    The SEARCH text must occur in the file exactly (then, failing that, ignoring trailing whitespace on
    each line, then up to one indentation change, as Aider applies them); its first occurrence is replaced.
    """
    out = dict(files)
    for b in blocks:
        path = check_path(b.path, allowed)
        cur = out.get(path)
        if not b.search.strip():
            out[path] = (cur or "") + b.replace
            continue
        if cur is None:
            raise PatchError(f"block at line {b.line}: {path} does not exist, and its SEARCH is not empty")
        k = cur.find(b.search)
        if k >= 0:
            out[path] = cur[:k] + b.replace + cur[k + len(b.search) :]
            continue
        lines, old, new = split_lines(cur), split_lines(b.search), split_lines(b.replace)
        at = _find_block(lines, old, 0)
        if at < 0:
            at, new = _find_reindented(lines, old, new)
        if at < 0:
            raise PatchError(f"block at line {b.line}: SEARCH text not found in {path}: {b.search[:80]!r}")
        lines[at : at + len(old)] = new
        out[path] = "".join(lines)
    return out


# ------------------------------------------------------------------------------------------- strict


def _mark(line: str) -> str | None:
    s = line.rstrip()
    return s if s in _MARKS else None


def _strip_thinking(text: str) -> tuple[str, int]:
    """The text after the last `</think>`, and how many lines were dropped before it."""
    k = text.rfind("</think>")
    if k < 0:
        return text, 0
    k += len("</think>")
    return text[k:], text.count("\n", 0, k)


def _path_above(lines: list[str], i: int, lineno: int) -> str:
    j = i - 1
    if j >= 0 and lines[j].lstrip().startswith("```"):
        j -= 1
    name = lines[j].strip().strip("`").strip() if j >= 0 else ""
    if not name or _mark(name):
        raise PatchError(
            f"answer line {lineno}: '<<<<<<< SEARCH' has no file path on the line above it "
            "(write the path, then the block)"
        )
    return name


def _read_part(lines: list[str], i: int, end: str, lineno0: int) -> tuple[list[str], int]:
    """Lines from i up to the marker `end`; returns them and the index of that marker."""
    part: list[str] = []
    while i < len(lines):
        m = _mark(lines[i])
        if m == end:
            return part, i
        if m is not None:
            raise PatchError(f"answer line {lineno0 + i + 1}: unexpected {m!r} (expected {end!r} first)")
        part.append(lines[i])
        i += 1
    raise PatchError(f"answer: a block is not closed: no {end!r} line before the end of the answer")


def parse_answer(text: str) -> list[SearchReplace]:
    """Parse a model's answer strictly: free reasoning, then SEARCH/REPLACE blocks (see the module doc).

    Raises PatchError (with the line) on any malformed block; an answer without blocks gives [].
    """
    body, skipped = _strip_thinking(text.replace("\r\n", "\n"))
    lines = split_lines(body)
    blocks: list[SearchReplace] = []
    i = 0
    while i < len(lines):
        m = _mark(lines[i])
        if m == REPLACE_MARK:
            raise PatchError(f"answer line {skipped + i + 1}: '>>>>>>> REPLACE' outside a block")
        if m != SEARCH_MARK:
            i += 1
            continue
        lineno = skipped + i + 1
        path = _path_above(lines, i, lineno)
        search, i = _read_part(lines, i + 1, DIVIDER, skipped)
        replace, i = _read_part(lines, i + 1, REPLACE_MARK, skipped)
        blocks.append(SearchReplace(path, "".join(search), "".join(replace), lineno))
        i += 1
    return blocks


def _find_aligned(text: str, search: str) -> int:
    """Offset of the first occurrence of `search` in `text` that starts a line, or -1."""
    k = text.find(search)
    while k > 0 and text[k - 1] != "\n":
        k = text.find(search, k + 1)
    return k


def _find_lines_loose(lines: list[str], block: list[str]) -> int:
    """Index of the first run of `lines` equal to `block` ignoring trailing whitespace, or -1."""
    have = [ln.rstrip() for ln in lines]
    want = [ln.rstrip() for ln in block]
    k = -1
    while True:
        try:
            k = have.index(want[0], k + 1)
        except ValueError:
            return -1
        if have[k : k + len(want)] == want:
            return k


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t"))]


def _reindent(lines: list[str], k: int, block: list[str], replace: list[str]) -> list[str] | None:
    """`replace` re-indented if `block` equals lines[k:] up to one indentation change, else None.

    The change is read off the first non-blank line: the file's indentation there either extends the
    block's (`add`: the block was quoted too shallow) or is a prefix of it (`cut`: quoted too deep). Every
    non-blank line of the block must then be `cut` + text where the file has `add` + text (trailing
    whitespace ignored), blank lines must face blank lines, and every non-blank REPLACE line must start
    with `cut`; REPLACE lines get the same change.
    """
    first = next(j for j, ln in enumerate(block) if ln.strip())
    have, want = _indent(lines[k + first]), _indent(block[first])
    if have.startswith(want):
        add, cut = have[len(want) :], ""
    elif want.startswith(have):
        add, cut = "", want[len(have) :]
    else:
        return None
    for got, ln in zip(lines[k : k + len(block)], block, strict=True):
        if not ln.strip():
            if got.strip():
                return None
        elif not ln.startswith(cut) or got.rstrip() != add + ln[len(cut) :].rstrip():
            return None
    if any(ln.strip() and not ln.startswith(cut) for ln in replace):
        return None
    return [add + ln[len(cut) :] if ln.strip() else ln for ln in replace]


def _find_reindented(lines: list[str], block: list[str], replace: list[str]) -> tuple[int, list[str]]:
    """The first run of `lines` equal to `block` up to one indentation change (`_reindent`), and `replace`
    re-indented to fit it; (-1, []) if there is none or the block is all blank."""
    if not any(ln.strip() for ln in block):
        return -1, []
    key = next(ln for ln in block if ln.strip()).strip()
    first = next(j for j, ln in enumerate(block) if ln.strip())
    for k in range(len(lines) - len(block) + 1):
        if lines[k + first].strip() == key:
            fitted = _reindent(lines, k, block, replace)
            if fitted is not None:
                return k, fitted
    return -1, []


def _apply_block(cur: str | None, b: SearchReplace, path: str) -> str:
    search, replace = normalize_text(b.search), normalize_text(b.replace)
    if not search:
        if cur:
            raise PatchError(
                f"answer line {b.line}: empty SEARCH on {path}, which exists: "
                "quote the lines to change (an empty SEARCH only creates a new file)"
            )
        return replace
    if cur is None:
        raise PatchError(f"answer line {b.line}: {path} does not exist, and its SEARCH is not empty")
    k = _find_aligned(cur, search)
    if k >= 0:
        return cur[:k] + replace + cur[k + len(search) :]
    lines, old = split_lines(cur), split_lines(search)
    new = split_lines(replace)
    at = _find_lines_loose(lines, old)
    if at < 0:
        at, new = _find_reindented(lines, old, new)
    if at < 0:
        raise PatchError(f"answer line {b.line}: SEARCH text not found in {path}: {search[:80]!r}")
    lines[at : at + len(old)] = new
    return "".join(lines)


def apply_answer(
    files: Files, blocks: list[SearchReplace], allowed: Iterable[str] | None = None
) -> dict[str, str | None]:
    """Apply strictly parsed blocks, in order, to `files` (normalised first); returns the new mapping."""
    allowed_set = None if allowed is None else set(allowed)
    out: dict[str, str | None] = {p: None if c is None else normalize_text(c) for p, c in files.items()}
    for b in blocks:
        path = check_path(b.path, allowed_set)
        out[path] = _apply_block(out.get(path), b, path)
    return out


# ------------------------------------------------------------------------------------------- render


def format_block(path: str, search: str, replace: str) -> str:
    return f"{path}\n{SEARCH_MARK}\n{search}{DIVIDER}\n{replace}{REPLACE_MARK}\n"


def _check_renderable(path: str, lines: list[str]) -> None:
    for ln in lines:
        if _mark(ln):
            raise PatchError(f"{path}: a line of the file is a SEARCH/REPLACE marker ({ln.strip()!r})")


def _change_groups(a: list[str], b: list[str], merge_gap: int) -> list[tuple[int, int, int, int]]:
    """Changed line ranges (i1, i2, j1, j2), merging changes at most `merge_gap` lines apart."""
    groups: list[tuple[int, int, int, int]] = []
    for i1, i2, j1, j2 in line_diff(a, b):
        if groups and i1 - groups[-1][1] <= merge_gap:
            g = groups[-1]
            groups[-1] = (g[0], i2, g[2], j2)
        else:
            groups.append((i1, i2, j1, j2))
    return groups


def _first_match_is(head: str, x: int, tail: str, y: int, search: str, start: int) -> bool:
    """In the text head[:x] + tail[y:], is the first line-aligned match of `search` at `start` (≤ x)?

    Works on the two pieces without joining them: matches inside head[:x], then matches that start
    in head and run into tail. A match known to be at x is the first if none starts before it.
    """
    k = head.find(search, 0, x)
    while k > 0 and head[k - 1] != "\n":
        k = head.find(search, k + 1, x)
    if k >= 0:
        return k == start
    lo = max(0, x - len(search) + 1)
    window = head[lo:x] + tail[y : y + len(search) - 1]
    q = window.find(search)
    while 0 <= q < x - lo:
        if lo + q == 0 or head[lo + q - 1] == "\n":
            return lo + q == start
        q = window.find(search, q + 1)
    return start == x


def _render_file(path: str, before: str, after: str, merge_gap: int = 2) -> list[str]:
    """Blocks for one file, in file order. When a block applies, the file reads after[:line j1] (earlier
    blocks applied) + before[line i1:] (not yet changed); each block takes the fewest lines of context
    (above from the first piece, below from the second) that make its first match the right one."""
    a, b = split_lines(before), split_lines(after)
    _check_renderable(path, a + b)
    if not a:
        return [format_block(path, "", after)]
    a_off, b_off = _offsets(a), _offsets(b)
    blocks = []
    for i1, i2, j1, j2 in _change_groups(a, b, merge_gap):
        c = 0 if i2 > i1 else 1
        while True:
            up, down = min(c, j1), min(c, len(a) - i2)
            search = after[b_off[j1 - up] : b_off[j1]] + before[a_off[i1] : a_off[i2 + down]]
            whole = up == j1 and down == len(a) - i2  # the whole file cannot be ambiguous
            if whole or (
                search and _first_match_is(after, b_off[j1], before, a_off[i1], search, b_off[j1 - up])
            ):
                break
            c += 1
        replace = after[b_off[j1 - up] : b_off[j2]] + before[a_off[i2] : a_off[i2 + down]]
        blocks.append(format_block(path, search, replace))
    return blocks


def _offsets(lines: list[str]) -> list[int]:
    """Character offset of the start of each line, and the length of the text last."""
    out = [0]
    for ln in lines:
        out.append(out[-1] + len(ln))
    return out


def answer_from_diff(diff: str) -> str:
    """A unified diff as SEARCH/REPLACE blocks, one per hunk (its old side and new side); '' if unreadable."""
    try:
        patches = parse_unified_diff(diff)
    except PatchError:
        return ""
    hunks = [(fp.path, h) for fp in patches for h in fp.hunks]
    return "\n".join(format_block(p, "".join(h.old_side()), "".join(h.new_side())) for p, h in hunks)


def render_search_replace(base: Files, final: Files, paths: Iterable[str] | None = None) -> str:
    """SEARCH/REPLACE blocks that turn `base` into `final` under `apply_answer` (files compared normalised).

    Blocks are small (the changed lines plus the least context that makes each match unique) and in file
    order. Paths missing from `final` are unchanged; a deleted file (None) is emptied. Raises PatchError
    when a line of a file is a marker line.
    """
    todo = sorted(final) if paths is None else list(paths)
    blocks: list[str] = []
    for path in todo:
        before, after = normalize_text(base.get(path)), normalize_text(final.get(path))
        if before != after:
            blocks.extend(_render_file(path, before, after))
    return "\n".join(blocks)
