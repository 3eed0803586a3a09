"""Cursor's suggested code blocks: which suggestion of which file the user accepted or rejected, and what
an accepted block does to the file.

    blocks = suggested_blocks(composer)            # in conversation order
    after = merge_lazy(before, block.content)       # None when the block cannot be placed

In Cursor's composer (chat and edit modes) the model answers with fenced code blocks, each for one
file (```` ```ts:src/app.ts ````). Cursor keeps, per file, every version it suggested in the composer's
`codeBlockData` (`{uri: [{version, content, status}]}` up to 0.42; `{uri: {id: {...}}}` later) with a
`status`: `accepted` (the user applied it), `rejected`, `cancelled` (dismissed before it was applied),
`outdated` / `completed` (never decided on). `userResponsesToSuggestedCodeBlocks: [{filePath,
userResponseType}]` (1 accepted, 2 rejected) records the user's last answer per file; it decides
blocks whose status stayed undecided. The assistant bubble that wrote a block lists it in its
`codeBlocks: [{uri, version, codeBlockIdx}]`.

A block is usually the whole new file; sometimes it elides unchanged code with a comment such as
`// ... existing code ...` (a "lazy" block, which Cursor's apply model merges). `merge_lazy` places such a
block on the file's known content by anchoring each kept segment on lines that occur once in the file;
where that is not certain it gives up (None). Pure Python, CPU only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golddiff.traces.cursor.store import Composer, uri_path

ACCEPTED, REJECTED = 1, 2
# a line that only stands for elided code: a comment whose text starts with "..."
_MARKER = re.compile(r"^\s*(?://+|#+|/\*+|<!--|\{/\*|--|;+|%+|\*)\s*\.\.\.[^\n]*$")


@dataclass
class Block:
    uri_path: str  # absolute path of the file
    version: int
    content: str
    status: str  # accepted | rejected | cancelled | outdated | completed | ...
    bubble_id: str | None
    index: int  # order of appearance


def _entries(value: object) -> list[dict]:
    if isinstance(value, list):
        return [e for e in value if isinstance(e, dict)]
    if isinstance(value, dict):
        return [e for e in value.values() if isinstance(e, dict)]
    return []


def suggested_blocks(c: Composer) -> list[Block]:
    """Every suggested block of the composer, in the order its bubbles show them."""
    data = c.data.get("codeBlockData") if isinstance(c.data.get("codeBlockData"), dict) else {}
    by_key: dict[tuple[str, int], dict] = {}
    by_bubble: dict[tuple[str, int], dict] = {}
    for key, value in data.items():
        for e in _entries(value):
            path = uri_path(e.get("uri")) or uri_path(key)
            if path is None:
                continue
            by_key[(path, int(e.get("version") or 0))] = {**e, "_path": path}
            if e.get("bubbleId") is not None:
                by_bubble[(str(e["bubbleId"]), int(e.get("codeBlockIdx") or 0))] = {**e, "_path": path}
    out: list[Block] = []
    used: set[int] = set()
    for b in c.bubbles:
        if b.get("type") != 2:
            continue
        bid = str(b.get("bubbleId"))
        for k, ref in enumerate(r for r in b.get("codeBlocks") or [] if isinstance(r, dict)):
            path = uri_path(ref.get("uri"))
            idx = int(ref.get("codeBlockIdx") if ref.get("codeBlockIdx") is not None else k)
            entry = by_bubble.get((bid, idx))
            if entry is None and path is not None:
                entry = by_key.get((path, int(ref.get("version") or 0)))
            if entry is None or id(entry) in used:
                continue
            used.add(id(entry))
            content = entry.get("content") if isinstance(entry.get("content"), str) else ref.get("content")
            if not isinstance(content, str):
                continue
            out.append(
                Block(
                    entry["_path"],
                    int(entry.get("version") or 0),
                    content,
                    str(entry.get("status")),
                    bid,
                    len(out),
                )
            )
    return out


def responses(c: Composer) -> dict[str, int]:
    """The user's last answer per file (relative path as Cursor wrote it -> 1 accepted | 2 rejected)."""
    out: dict[str, int] = {}
    for r in c.data.get("userResponsesToSuggestedCodeBlocks") or []:
        if isinstance(r, dict) and isinstance(r.get("filePath"), str) and r.get("userResponseType") in (1, 2):
            out[r["filePath"].replace("\\", "/")] = int(r["userResponseType"])
    return out


def is_lazy(content: str) -> bool:
    return any(_MARKER.match(ln) for ln in content.split("\n"))


def _segments(content: str) -> list[tuple[list[str], bool, bool]]:
    """(lines, elided code before, elided code after) of each run of kept lines in a lazy block."""
    segs: list[tuple[list[str], bool, bool]] = []
    cur: list[str] = []
    before = False
    for ln in content.split("\n"):
        if _MARKER.match(ln):
            if any(x.strip() for x in cur):
                segs.append((cur, before, True))
            cur, before = [], True
        else:
            cur.append(ln)
    if any(x.strip() for x in cur):
        segs.append((cur, before, False))
    return segs


def _unique(base: list[str], line: str, start: int) -> int | None:
    hits = [i for i in range(start, len(base)) if base[i].strip() == line.strip()]
    return hits[0] if len(hits) == 1 else None


def merge_lazy(before: str, content: str) -> str | None:
    """The file after a lazy block (module doc), or None when it cannot be placed for certain.

    Each kept segment replaces the lines of the file from its first line to its last one: a segment
    after elided code must start on a line that occurs once in the rest of the file, one before elided
    code must end on such a line; the block's own start and end stand for the file's. Lines between
    are the change. A segment whose ends are changed lines (or repeated ones) is not placed.
    """
    base = before.split("\n")
    trailing = before.endswith("\n")
    if trailing:
        base = base[:-1]
    out: list[str] = []
    p = 0
    for seg, elided_before, elided_after in _segments(content):
        while seg and not seg[0].strip():
            seg = seg[1:]
        while seg and not seg[-1].strip():
            seg = seg[:-1]
        s = _unique(base, seg[0], p) if elided_before else p
        if s is None:
            return None
        e = _unique(base, seg[-1], s) if elided_after else len(base) - 1
        if e is None or e < s - 1:
            return None
        out += base[p:s] + seg
        p = e + 1
    out += base[p:]
    text = "\n".join(out)
    return text + "\n" if trailing or not text.endswith("\n") else text
