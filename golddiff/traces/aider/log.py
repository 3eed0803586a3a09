"""Aider's `.aider.chat.history.md`, read as text: sessions, events (user lines, aider's own messages, reply
text, failed-match notices), the edit blocks of a reply in each edit format, and turns with their commits.

    for start, first, lines in log_sessions(text):
        turns = log_turns(log_events(lines, first))     # each with its user line, events, commits, undos
    blocks = reply_blocks(reply_text, "diff")             # SEARCH/REPLACE, whole, udiff, V4A patches

Pure Python, CPU only; used by `aider/reader.py` (whose docstring describes the log).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from golddiff.diffs import PatchError, PatchOp, SearchReplace, parse_apply_patch, parse_search_replace

_SESSION = re.compile(r"^# aider chat started at (.+?)\s*$")
_FAILED = re.compile(r"^# (\d+) SEARCH/REPLACE blocks? failed to match!")
_FAILED_END = re.compile(r"^Just reply with fixed versions of the blocks? above")
_SR_MARK = re.compile(r"^(<{5,9} ?(SEARCH|ORIGINAL)|={5,9}|>{5,9} ?(REPLACE|UPDATED))\s*$")
_NO_MATCH_HDR = re.compile(
    r"^## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in (.+)$"
)
FORMAT_LINE = re.compile(r"^(Main model|Model|Models|Editor model): .*? with ([\w-]+) edit format")
COMMIT = re.compile(r"^Commit ([0-9a-f]{7,40}) ?(.*)$")
REMOVED = re.compile(r"^Removed: ([0-9a-f]{7,40}) ?(.*)$")
APPLIED = re.compile(r"^Applied edit to (.+?)\s*$")
FAILED_APPLY = re.compile(r"^Failed to apply edit to (.+?)\s*$")
DECLINED = re.compile(r"^(Allow edits to .*|Allow creation of new file|Create new file)\?.*\s(n|no)$", re.I)
_BREAKS_FENCE = re.compile(r"^(#### |> (Tokens:|Applied edit|Commit [0-9a-f]{7}))")
THINKING = re.compile(r"<thinking-content-\w+>(.*?)</thinking-content-\w+>", re.S)
_FENCE = re.compile(r"^(`{3,}|~{3,})(.*)$")
_PATHLIKE = re.compile(r"^[\w.@+\-/\\]+$")


# ------------------------------------------------------------------------------------ lines -> events


@dataclass
class Event:
    kind: str  # user | tool | text | failed
    text: str
    line: int  # 1-based line of the log where it starts


def log_sessions(text: str) -> Iterator[tuple[str, int, list[str]]]:
    """(start time, first line number, lines) of each session in the log."""
    start, first, lines = None, 1, []
    for no, line in enumerate(text.split("\n"), 1):
        m = _SESSION.match(line)
        if m:
            if start is not None or any(s.strip() for s in lines):
                yield start or "unknown", first, lines
            start, first, lines = m[1], no + 1, []
        else:
            lines.append(line)
    if start is not None or any(s.strip() for s in lines):
        yield start or "unknown", first, lines


def log_events(lines: list[str], first: int) -> list[Event]:
    """User, tool, reply-text and failed-block events; fenced code in a reply is never split."""
    events: list[Event] = []
    fence: str | None = None  # the open code fence of the reply being read
    blanks = 1  # blank lines right before this one
    i = 0
    while i < len(lines):
        line, no = lines[i], first + i
        last = events[-1] if events else None
        reply = last is not None and last.kind == "text"
        if reply and fence and not _BREAKS_FENCE.match(line):
            last.text += "\n" + line
            if line.strip() == fence:
                fence = None
        elif (line.startswith("#### ") or line.rstrip() == "####") and (not reply or blanks >= 2):
            # in a reply, `#### x` is a heading (a whole-file name, often) unless two blank lines precede
            # it: a reply ends with one and the user's input starts with another
            fence, text = None, line[5:].rstrip()
            if last is not None and last.kind == "user" and not blanks:
                last.text += "\n" + text
            else:
                events.append(Event("user", text, no))
        elif line.startswith(">") and not _SR_MARK.match(line):
            fence, text = None, line[1:].removeprefix(" ").rstrip()
            if _FAILED.match(text):
                notice, i = _failure_notice(lines, i)
                events.append(Event("failed", notice, no))
            else:
                events.append(Event("tool", text, no))
        elif not line.strip():
            if reply:
                last.text += "\n"
        elif last is not None and last.kind == "tool" and not blanks:
            last.text += "\n" + line  # an aider message's later lines carry no `> `
        else:
            if reply:
                last.text += "\n" + line
            else:
                events.append(Event("text", line, no))
            m = _FENCE.match(line.strip())
            fence = m[1] if m else None
        blanks = blanks + 1 if not line.strip() else 0
        i += 1
    return events


def _failure_notice(lines: list[str], i: int) -> tuple[str, int]:
    """The whole failed-match notice starting at line i, and the index of its last line."""
    out = [lines[i][1:].strip()]
    j = i + 1
    while j < len(lines) and j - i < 5000:
        line = lines[j]
        if line.startswith("#### ") or _SESSION.match(line):
            return "\n".join(out), j - 1
        text = line[2:] if line.startswith("> ") else line
        out.append(text.rstrip())
        if _FAILED_END.match(text):
            return "\n".join(out), j
        if text.startswith("The SEARCH section must exactly match"):
            k = j + 1
            while k < len(lines) and not lines[k].strip():
                k += 1
            if k >= len(lines) or not lines[k].lstrip("> ").startswith("# The other"):
                return "\n".join(out), j
        j += 1
    return "\n".join(out), j - 1


# ------------------------------------------------------------------------------------ edit blocks


@dataclass
class Block:
    path: str
    kind: str  # SEARCH/REPLACE | whole | udiff | apply_patch
    search: str = ""
    replace: str = ""
    op: PatchOp | None = None


def reply_blocks(text: str, fmt: str) -> list[Block]:
    """The edits in one reply, read in the session's edit format (SEARCH/REPLACE markers always count)."""
    text = THINKING.sub("", text)
    blocks: list[Block] = []
    if re.search(r"(?m)^<{5,9} ?(SEARCH|ORIGINAL)\s*$", text):
        blocks += [Block(b.path, "SEARCH/REPLACE", b.search, b.replace) for b in parse_search_replace(text)]
    if "*** Begin Patch" in text:
        blocks += [Block(op.path, "apply_patch", op=op) for op in parse_apply_patch(text)]
    if not blocks and ("udiff" in fmt or re.search(r"(?m)^```diff\s*$", text)):
        blocks += _udiff_blocks(text)
    if not blocks and "whole" in fmt:
        blocks += _whole_blocks(text)
    return blocks


def _clean_name(line: str) -> str:
    return line.strip().strip("`*").lstrip("#").strip().rstrip(":").strip()


def _whole_blocks(text: str) -> list[Block]:
    lines, blocks, i = text.split("\n"), [], 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or i == 0:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == m[1]), len(lines))
        name = _clean_name(lines[i - 1])
        if name and _PATHLIKE.match(name) and ("." in name or "/" in name):
            blocks.append(Block(name, "whole", replace="".join(ln + "\n" for ln in lines[i + 1 : end])))
        i = end + 1
    return blocks


def _udiff_blocks(text: str) -> list[Block]:
    """Aider's udiff: `--- a` / `+++ b` headers and `@@ ... @@` hunks without line numbers."""
    blocks: list[Block] = []
    path: str | None = None
    old: list[str] = []
    new: list[str] = []
    in_hunk = False

    def flush() -> None:
        while old and new and old[-1] == new[-1] == "\n":  # blank lines after the hunk
            old.pop()
            new.pop()
        if path and (old or new):
            blocks.append(Block(path, "udiff", "".join(old), "".join(new)))
        old.clear()
        new.clear()

    lines = text.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            flush()
            name = lines[i + 1][4:].split("\t")[0].strip()
            path, in_hunk = (name[2:] if name[:2] in ("a/", "b/") else name), False
        elif line.startswith("+++ ") or _FENCE.match(line):
            in_hunk = in_hunk and line.startswith("+++ ")
        elif line.startswith("@@"):
            flush()
            in_hunk = True
        elif in_hunk and path and (line[:1] in ("-", "+", " ") or not line):
            sign, body = (line[0], line[1:]) if line else (" ", "")
            (old if sign != "+" else new).append(body + "\n")
            if sign == " ":
                new.append(body + "\n")
    flush()
    return blocks


def failed_blocks(notice: str) -> list[SearchReplace]:
    """The blocks a failed-match notice lists (its `## ...lines in <path>` headers name their files)."""
    text = "\n".join(_NO_MATCH_HDR.sub(r"\1", ln) for ln in notice.split("\n"))
    try:
        return parse_search_replace(text)
    except PatchError:
        return []


# ------------------------------------------------------------------------------------ turns


@dataclass
class LogTurn:
    user: Event | None  # None for the session header
    events: list[Event] = field(default_factory=list)
    commits: list[tuple[str, bool]] = field(default_factory=list)  # (sha, dirty: the user's own changes)
    removed: list[str] = field(default_factory=list)
    applied: bool = False
    end_group: bool = False


def _is_request(text: str) -> bool:
    """A user line that starts a turn (not the answer to a yes/no prompt, not an empty input)."""
    return bool(text.strip()) and text.strip() != "<blank>" and "(Y)es/(N)o" not in text


def log_turns(events: list[Event]) -> list[LogTurn]:
    turns = [LogTurn(None)]
    for ev in events:
        if ev.kind == "user" and _is_request(ev.text):
            turns.append(LogTurn(ev))
        else:
            turns[-1].events.append(ev)
    for t in turns:
        dirty = False
        for ev in t.events:
            if ev.kind != "tool":
                continue
            commit, removed = COMMIT.match(ev.text), REMOVED.match(ev.text)
            if commit:
                t.commits.append((commit[1], dirty))
            elif removed:
                t.removed.append(removed[1])
            t.applied = t.applied or bool(APPLIED.match(ev.text))
            dirty = ev.text.startswith("Committing ") and "before applying edits" in ev.text
    undone = [sha for t in turns for sha in t.removed]
    any_commit = any(t.commits for t in turns)
    for t in turns:
        alive = [s for s, dirty in t.commits if not dirty and not among(s, undone)]
        t.end_group = bool(alive) if any_commit else t.applied
    return turns


def among(sha: str, shas: list[str]) -> bool:
    return any(s.startswith(sha) or sha.startswith(s) for s in shas)
