"""The units the gold-diff reward counts: change blocks of a diff, their token units and where they are.

A *block* is one run of changed lines: the lines removed, the lines added, where it starts in the base
file, and the few unchanged lines just above and below it. Blocks come from two file contents
(`blocks_from_files`, a line diff) or from a unified diff (`blocks_from_diff`); both give the same blocks
for the same change, so `score` and `score_diff` agree.

Units of a block (multisets, `collections.Counter`), by kind:
- added / removed: token n-grams (n = 1..n_max) of the block's added text and, kept apart, of its
  removed text. A token is a run of word characters (an identifier, a keyword, a number) or one other
  non-space character, so whitespace and line breaks never matter and `x=1` is `x = 1`;
- context: the same n-grams of the unchanged lines just above and just below the block.
A unit is written as its tokens joined by single spaces (tokens hold no whitespace), so a text is the
n-gram of all its tokens, and an n-gram is a unit of a text exactly when " unit " is a substring of
" text ". In "line" mode (the size fallback) a unit is a whole line, whitespace collapsed.

Location is not a multiset: `location_scores` measures, for each gold block, how far (in base lines) the
nearest answer block in the same file is, and the reverse, with a smooth decay: exp(−distance / scale).

A kind's multiset is the sum of its texts' multisets, so texts both sides have (the same context, the
same added line) need not be cut into n-grams at all: `text_unit_count` counts their units (a text of
T tokens has Σ_n max(0, T − n + 1) n-grams), and they add to both sides and to the overlap alike.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from golddiff.diffs.core import check_path
from golddiff.diffs.unified import line_diff, parse_unified_diff, split_lines

Mode = Literal["ngram", "line"]
TEXT_KINDS = ("added", "removed", "context")
TOKEN = re.compile(r"\w+|[^\w\s]")


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

    def span(self) -> tuple[int, int]:
        """The base lines [start, end) the block covers; an insertion covers the line it goes before."""
        return self.old_line, self.old_line + max(len(self.removed), 1)


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


def tokens(text: str) -> list[str]:
    """Words (identifiers, keywords, numbers) and single other non-space characters, in order.

    >>> tokens("if x.mask is None:  return -1")
    ['if', 'x', '.', 'mask', 'is', 'None', ':', 'return', '-', '1']
    """
    return TOKEN.findall(text)


def ngrams(text: str, n_max: int) -> list[str]:
    """Every token n-gram of `text` (a space-joined token sequence) for n = 1..n_max, space-joined."""
    toks = text.split(" ") if text else []
    size = len(toks)
    return [" ".join(toks[i : i + n]) for n in range(1, n_max + 1) for i in range(size - n + 1)]


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
    n_max: int = 3
    max_chars: int = 1 << 62  # tokens come from at most this many characters of each text


def kind_texts(blocks: Iterable[Block], kind: str, spec: UnitSpec) -> list[str]:
    """The texts whose units make up `kind` ("added", "removed" or "context") of `blocks`: per block,
    its tokens space-joined (n-gram mode) or each collapsed line (line mode, where a text is its one unit)."""
    out: list[str] = []
    for b in blocks:
        for lines in _lines_of(b, kind):
            if spec.mode == "line":
                out += [c for c in map(collapse, lines) if c]
            elif text := " ".join(tokens("".join(lines)[: spec.max_chars])):
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
    """How many units `text_units(texts)` has, without building them: Σ_n max(0, T − n + 1) per text."""
    if spec.mode == "line":
        return sum(1 for _ in texts)
    total = 0
    for t in texts:
        size = t.count(" ") + 1
        total += sum(max(0, size - n + 1) for n in range(1, spec.n_max + 1))
    return total


class _Substrings:
    """`unit in it` for the n-grams of space-joined token texts: " unit " is a substring of one of them."""

    def __init__(self, texts: Iterable[str]) -> None:
        self.joined = "\n".join(f" {t} " for t in texts)

    def __contains__(self, unit: object) -> bool:
        return f" {unit} " in self.joined


def contains_unit(texts: Iterable[str], spec: UnitSpec) -> set[str] | _Substrings:
    """A container answering `unit in it` for the units of `texts`."""
    return set(texts) if spec.mode == "line" else _Substrings(texts)


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


# --------------------------------------------------------------------------------------- location


def _nearness(blocks: list[Block], others: list[Block], scale: float) -> float:
    """Mean over `blocks` of exp(−d / scale), d = base lines to the nearest block of `others` in the same
    file (0 when they overlap or touch); a block with none in its file counts 0. O((n + m) log m)."""
    by_file: dict[str, list[tuple[int, int]]] = {}
    for b in others:
        by_file.setdefault(b.path, []).append(b.span())
    index = {}
    for path, spans in by_file.items():
        spans.sort()
        ends, top = [], -(1 << 62)
        for _, end in spans:
            top = max(top, end)
            ends.append(top)  # the furthest end among spans starting at or before this one
        index[path] = ([s for s, _ in spans], ends)
    total = 0.0
    for b in blocks:
        if b.path not in index:
            continue
        starts, ends = index[b.path]
        start, end = b.span()
        k = bisect.bisect_left(starts, end)  # spans from k on start at or after this block's end
        d = starts[k] - end if k < len(starts) else math.inf
        if k:
            d = min(d, max(0, start - ends[k - 1]))
        total += math.exp(-d / scale)
    return total / len(blocks)


def location_scores(pred: list[Block], gold: list[Block], scale: float) -> tuple[float, float]:
    """(precision, recall) of where the answer changes: recall = how near the answer comes to each gold
    block, precision = how near each answer block is to a gold one (both 1 when a side is empty)."""
    precision = _nearness(pred, gold, scale) if pred else 1.0
    recall = _nearness(gold, pred, scale) if gold else 1.0
    return precision, recall


def fbeta(precision: float, recall: float, beta: float) -> float:
    """F-beta: recall counts beta² times as much as precision (β = 1: F1)."""
    b2 = beta * beta
    return (1 + b2) * precision * recall / (b2 * precision + recall) if precision and recall else 0.0
