"""The units the gold-diff reward counts: change blocks of a diff, and their change/context/location units.

A *block* is one run of changed lines: the lines removed, the lines added, where it starts in the base
file, and the few unchanged lines just above and below it. Blocks come from two file contents
(`blocks_from_files`, a line diff) or from a unified diff (`blocks_from_diff`); both give the same blocks
for the same change, so `score` and `score_diff` agree.

Units of a block (multisets, `collections.Counter`), by kind:
- added / removed (together, the "change" units): character n-grams (n = 1..n_max) of the block's added
  text and, kept apart so they count as removed, of its removed text, whitespace collapsed;
- context: the same n-grams of the unchanged lines just above and just below the block;
- location: (file, region) pairs for the lines the block covers, regions being runs of `region` lines on
  two grids offset by half a region (so a near miss still shares one region); plus, once per file, the
  file itself.
In "line" mode (the size fallback) added, removed and context units are whole collapsed lines.

A kind's multiset is the sum of its texts' multisets, so texts both sides have (the same context, the
same added line) need not be cut into n-grams at all: `text_unit_count` counts their units (a text of
length L has Σ_n max(0, L − n + 1) n-grams), and they add to both sides and to the overlap alike.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from golddiff.diffs.core import check_path
from golddiff.diffs.unified import line_diff, parse_unified_diff, split_lines

Mode = Literal["ngram", "line"]
KINDS = ("added", "removed", "context", "location")
TEXT_KINDS = ("added", "removed", "context")


@dataclass(frozen=True, slots=True)
class Block:
    """One run of changed lines, with where it is and what surrounds it."""

    path: str
    old_line: int  # 0-based line of the base file where the change starts
    removed: tuple[str, ...]
    added: tuple[str, ...]
    before: tuple[str, ...] = ()  # up to `context` unchanged lines just above
    after: tuple[str, ...] = ()  # up to `context` unchanged lines just below

    def change_chars(self) -> int:
        return sum(map(len, self.removed)) + sum(map(len, self.added))


# ----------------------------------------------------------------------------------------- blocks


def blocks_from_files(
    path: str, before: str | None, after: str | None, context: int = 3, max_lines: int = 200_000
) -> tuple[list[Block], bool]:
    """The change blocks from `before` to `after` (None = absent = empty), and whether the cap was hit.

    Over `max_lines` lines (both sides) no line diff is run: the part between the common prefix and
    suffix is one block.
    """
    a, b = split_lines(before), split_lines(after)
    capped = len(a) + len(b) > max_lines
    if capped:
        p = 0
        while p < min(len(a), len(b)) and a[p] == b[p]:
            p += 1
        s = 0
        while s < min(len(a), len(b)) - p and a[-1 - s] == b[-1 - s]:
            s += 1
        ranges = [] if a == b else [(p, len(a) - s, p, len(b) - s)]
    else:
        ranges = line_diff(a, b)
    blocks = []
    for k, (i1, i2, j1, j2) in enumerate(ranges):
        prev_end = ranges[k - 1][1] if k else 0
        next_start = ranges[k + 1][0] if k + 1 < len(ranges) else len(a)
        above = tuple(a[max(prev_end, i1 - context) : i1])
        below = tuple(a[i2 : min(next_start, i2 + context)])
        blocks.append(Block(path, i1, tuple(a[i1:i2]), tuple(b[j1:j2]), above, below))
    return blocks, capped


def _hunk_blocks(path: str, lines: list[str], old_line: int, context: int) -> list[Block]:
    """Split one hunk's lines into blocks; context comes from the hunk's own ' ' lines."""
    runs: list[tuple[list[str], list[str], list[str], int]] = []  # (context above, removed, added, line)
    ctx: list[str] = []
    i = 0
    while i < len(lines):
        if lines[i][:1] == " ":
            ctx.append(lines[i][1:])
            old_line += 1
            i += 1
            continue
        start, removed, added = old_line, [], []
        while i < len(lines) and lines[i][:1] in ("-", "+"):
            (removed if lines[i][0] == "-" else added).append(lines[i][1:])
            old_line += lines[i][0] == "-"
            i += 1
        runs.append((ctx, removed, added, start))
        ctx = []
    out = []
    for k, (above, removed, added, start) in enumerate(runs):
        below = runs[k + 1][0] if k + 1 < len(runs) else ctx
        above = above[len(above) - context :] if context else []
        out.append(Block(path, start, tuple(removed), tuple(added), tuple(above), tuple(below[:context])))
    return out


def blocks_from_diff(diff: str, context: int = 3) -> list[Block]:
    """The change blocks of a unified diff. Paths are checked (`check_path` raises PatchError)."""
    blocks: list[Block] = []
    for fp in parse_unified_diff(diff):
        path = check_path(fp.path)
        for h in fp.hunks:
            first = h.old_start if h.old_len == 0 else h.old_start - 1
            blocks.extend(_hunk_blocks(path, h.lines, max(first, 0), context))
    return blocks


# ------------------------------------------------------------------------------------------ units


def collapse(text: str) -> str:
    """Whitespace collapsed: runs of spaces, tabs and newlines become one space; ends stripped."""
    return " ".join(text.split())


def ngrams(text: str, n_max: int) -> list[str]:
    """Every character n-gram of `text` for n = 1..n_max (about n_max·len(text) of them)."""
    size = len(text)
    return [text[i : i + n] for n in range(1, n_max + 1) for i in range(size - n + 1)]


def _lines_of(b: Block, kind: str) -> tuple[tuple[str, ...], ...]:
    if kind == "added":
        return (b.added,)
    if kind == "removed":
        return (b.removed,)
    return (b.before, b.after)


@dataclass(frozen=True)
class UnitSpec:
    """How blocks are cut into units."""

    mode: Mode = "ngram"
    n_max: int = 6
    region: int = 16
    max_chars: int = 1 << 62  # n-grams come from at most this many characters of each text


def kind_texts(blocks: Iterable[Block], kind: str, spec: UnitSpec) -> list[str]:
    """The texts whose units make up `kind` ("added", "removed" or "context") of `blocks`: per block,
    the collapsed text (n-gram mode) or each collapsed line (line mode, where a text is its one unit)."""
    out: list[str] = []
    for b in blocks:
        for lines in _lines_of(b, kind):
            if spec.mode == "line":
                out += [c for c in map(collapse, lines) if c]
            elif text := collapse("".join(lines))[: spec.max_chars]:
                out.append(text)
    return out


def text_units(texts: Iterable[str], spec: UnitSpec) -> Counter:
    """The multiset of units of `texts` (their n-grams, or the texts themselves in line mode)."""
    if spec.mode == "line":
        return Counter(texts)
    units: Counter = Counter()
    for text in texts:
        units.update(ngrams(text, spec.n_max))
    return units


def text_unit_count(texts: Iterable[str], spec: UnitSpec) -> int:
    """How many units `text_units(texts)` has, without building them: Σ_n max(0, L − n + 1) per text."""
    if spec.mode == "line":
        return sum(1 for _ in texts)
    return sum(max(0, len(t) - n + 1) for t in texts for n in range(1, spec.n_max + 1))


def contains_unit(texts: Iterable[str], spec: UnitSpec) -> set[str] | str:
    """A container answering `unit in it` for the units of `texts`: in n-gram mode their joined text (an
    n-gram is a unit of a text exactly when it is a substring, and collapsed texts hold no "\\n")."""
    return set(texts) if spec.mode == "line" else "\n".join(texts)


def _location_units(b: Block, region: int) -> set[tuple]:
    half = max(region // 2, 1)
    last = b.old_line + max(len(b.removed), 1)
    units: set[tuple] = set()
    for line in (*range(b.old_line, last, half), last - 1):  # a step of half a region meets every region
        units.add((b.path, "a", line // region))
        units.add((b.path, "b", (line + half) // region))
    return units


def location_units(blocks: Iterable[Block], region: int) -> Counter:
    """(file, region) units of each block, and each file once."""
    units: Counter = Counter()
    files = set()
    for b in blocks:
        units.update(_location_units(b, region))
        files.add((b.path,))
    units.update(files)
    return units


def overlap(p: Counter, g: Counter) -> int:
    """|p ∩ g| for multisets: the sum over units of the smaller count."""
    if len(p) > len(g):
        p, g = g, p
    total = 0
    for unit, count in p.items():
        other = g.get(unit)
        if other:
            total += count if count < other else other
    return total
