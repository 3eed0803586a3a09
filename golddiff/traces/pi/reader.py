"""pi coding agent sessions: `~/.pi/agent/sessions/--<cwd>--/<timestamp>_<uuid>.jsonl` -> Episodes.

A pi session (format v3, badlogic/pi-mono `packages/coding-agent/src/core/session-manager.ts`) is JSONL:
a header `{type: "session", version, id, timestamp, cwd, parentSession?}`, then entries that form a
tree through `id`/`parentId`: `message` (an agent message: `user`, `assistant` with `text`, `thinking`
and `toolCall {id, name, arguments}` blocks, `toolResult {toolCallId, toolName, content, details,
isError}`, `bashExecution` for a command the user ran with `!`, `custom`), `compaction {summary,
firstKeptEntryId}`, `branch_summary {fromId, summary}`, `custom_message`, and bookkeeping
(`model_change`, `thinking_level_change`, `label`, `session_info`, `custom`). v1 files have no ids: each
entry is the child of the one before (pi's own migration).

What becomes of it:
- one Episode per session; the user's messages are its turns, assistant text, thinking and tool calls
  its steps;
- `edit {path, edits: [{oldText, newText}]}` (older: `{path, oldText, newText}`) and `write {path,
  content}` are edits. A successful edit is replayed on the file when the log showed it whole (a `read`
  with no offset/limit that was not truncated, or an earlier `write`), else rebuilt from the result's diff
  (`details.patch`, or pi's numbered `details.diff`): the base is then "reconstructed" (see `file_book`);
- a tool result with `isError` fails the edit, unless it says the call was blocked or denied (a
  permission hook: rejected, "reject" feedback with the hook's reason) or aborted (the user pressed Esc:
  rejected, "interrupt"); an assistant message that stopped with `stopReason: "aborted"` is an interrupt,
  and its edit calls that never got a result are rejected. The user's next message gives their words;
- moving back in the tree (`/tree`: an entry whose parent is not the entry before it) is a "rewind"
  feedback. pi does not restore files when it branches, so the abandoned branch's edits stay applied
  and are labelled against the final state like any other;
- a session forked from another (`parentSession`) starts with a copy of its parent's entries: when the
  parent file is there, the copied entries are left to it;
- compaction and branch summaries become notes; bookkeeping entries are counted, unknown ones warned
  about once and counted.

    from golddiff.traces import pi
    episodes = list(pi.read(Path("session.jsonl"), IngestReport(), ReadOptions()))

Pure Python, CPU only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from golddiff.diffs.core import PatchError
from golddiff.episodes import Episode
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.file_book import FileBook, Hunk, parse_hunks
from golddiff.traces.session.tools import quiet_rel, tool_path
from golddiff.traces.session.user_words import UserWords

FORMAT = "pi"

_QUIET = frozenset({"model_change", "thinking_level_change", "label", "session_info", "custom"})
_EDIT_TOOLS = frozenset({"edit", "write"})
_READ_NOTICE = re.compile(r"\n\n\[(Showing lines \d+-\d+ of \d+|\d+ more lines in file\.)[^\n]*\]$")
_PI_DIFF_LINE = re.compile(r"^([+\- ])( *\d+) (.*)$")
_BLOCKED = re.compile(r"\b(blocked|denied|den(y|ies)|rejected|not allowed|permission)\b", re.I)
_DEFAULT_BLOCK = "Tool execution was blocked"
# how pi's own edit and write tools fail: failures, never the user's verdict
_TOOL_ERRORS = ("Could not", "Found ", "No changes made", "File not found", "Edit tool input", "Error")
_TOOL_ERRORS += ("EACCES", "EPERM", "ENOENT", "EISDIR", "EROFS")


def sniff(path: Path, head: str) -> bool:
    """A pi session: the first line is its header `{"type": "session", "id", "cwd", ...}`."""
    first = head.lstrip().split("\n", 1)[0]
    try:
        rec = json.loads(first)
    except ValueError:
        return False
    return (
        isinstance(rec, dict)
        and rec.get("type") == "session"
        and isinstance(rec.get("id"), str)
        and "cwd" in rec
        and "sessionId" not in rec
    )


def is_attached(path: Path) -> bool:
    return False


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    header, entries = _load(path, report)
    if header is None:
        return
    yield from _Session(path, header, entries, report, opts).episodes()


def _load(path: Path, report: IngestReport) -> tuple[dict | None, list[tuple[int, dict]]]:
    """The header and the entries (line number, entry); v1 entries get ids chaining them in order."""
    header: dict | None = None
    entries: list[tuple[int, dict]] = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except ValueError as e:
                report.skip(str(path), lineno, f"not JSON ({str(e)[:80]}); expected one pi entry per line")
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
                report.skip(str(path), lineno, "an entry without a type; expected {type, id, parentId, ...}")
                continue
            if rec["type"] == "session" and header is None:
                header = rec
                continue
            entries.append((lineno, rec))
    report.counts["records"] += len(entries) + (header is not None)
    if header is None:
        report.skip(
            str(path), 1, "no session header; expected a first line {type: 'session', id, cwd}", "no_header"
        )
        return None, []
    if not isinstance(header.get("version"), int) or header["version"] < 2:
        prev = None
        for i, (_, rec) in enumerate(entries):
            rec.setdefault("id", f"v1-{i}")
            rec.setdefault("parentId", prev)
            prev = rec["id"]
    return header, entries


def _main_path(entries: list[tuple[int, dict]]) -> set[str]:
    """The ids on the path from the last entry back to the root: the conversation as it was left."""
    by_id = {rec.get("id"): rec for _, rec in entries if isinstance(rec.get("id"), str)}
    out: set[str] = set()
    cur = entries[-1][1] if entries else None
    while isinstance(cur, dict) and isinstance(cur.get("id"), str) and cur["id"] not in out:
        out.add(cur["id"])
        cur = by_id.get(cur.get("parentId"))
    return out


def _inherited(header: dict, report: IngestReport) -> set[str]:
    """The ids of the entries a forked session copied from its parent file, when that file is there."""
    parent = header.get("parentSession")
    if not isinstance(parent, str) or not Path(parent).is_file():
        return set()
    ids: set[str] = set()
    with open(parent, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and rec.get("type") != "session" and isinstance(rec.get("id"), str):
                ids.add(rec["id"])
    return ids


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            str(c.get("text"))
            for c in content
            if isinstance(c, dict) and c.get("type") == "text" and c.get("text")
        )
    return ""


class _Session:
    """One pi session file read into a SessionBuilder, entry by entry in file order."""

    def __init__(
        self,
        path: Path,
        header: dict,
        entries: list[tuple[int, dict]],
        report: IngestReport,
        opts: ReadOptions,
    ):
        self.path, self.log, self.entries, self.report, self.opts = path, str(path), entries, report, opts
        cwd = header.get("cwd") if isinstance(header.get("cwd"), str) and header.get("cwd") else None
        self.b = SessionBuilder(
            FORMAT, self.log, str(header["id"]), report, version=f"v{header.get('version', 1)}", cwd=cwd
        )
        self.book, self.words = FileBook(self.b), UserWords(self.b)
        self.main = _main_path(entries)
        self.inherited = _inherited(header, report)
        self.calls: dict[str, tuple[str, dict]] = {}  # pending tool calls: id -> (name, arguments)

    def episodes(self) -> list[Episode]:
        prev: str | None = None
        for lineno, rec in self.entries:
            if rec.get("id") in self.inherited:
                self.report.counts["pi/inherited_entries"] += 1
                prev = rec.get("id")
                continue
            if prev is not None and rec.get("parentId") != prev:
                self._branched(rec)
            self._entry(lineno, rec)
            prev = rec.get("id") if isinstance(rec.get("id"), str) else prev
        self._unanswered(status="failed", reason="no result was logged (the session ended first)")
        self.book.finish()
        return self.b.finish()

    def _branched(self, rec: dict) -> None:
        """The user went back to an earlier entry (/tree) and continued from there."""
        self._unanswered()
        where = "on the final branch" if rec.get("id") in self.main else "on a branch later left too"
        self.words.verdict(
            "rewind", text=f"the user went back to an earlier point of the conversation ({where})"
        )
        self.report.counts["pi/branches"] += 1

    # ---------------------------------------------------------------------------------- entries

    def _entry(self, lineno: int, rec: dict) -> None:
        t = rec["type"]
        if t == "message":
            msg = rec.get("message")
            if not isinstance(msg, dict):
                self.report.skip(self.log, lineno, "a message entry without a message object")
                return
            self._message(lineno, msg, rec.get("timestamp"))
        elif t == "compaction":
            self.b.note(str(rec.get("summary") or ""), "compact_summary")
        elif t == "branch_summary":
            self.b.note(f"summary of the branch left: {rec.get('summary') or ''}", "compact_summary")
        elif t == "custom_message":
            self.b.note(_text(rec.get("content")), "meta")
        elif t in _QUIET:
            self.report.counts[f"pi/ignored/{t}"] += 1
        else:
            self.report.unknown(self.log, lineno, t)

    def _message(self, lineno: int, msg: dict, timestamp: str | None) -> None:
        role = msg.get("role")
        if role == "user":
            text = _text(msg.get("content"))
            if text.strip():
                self.words.user(text, timestamp)
        elif role == "assistant":
            self._assistant(msg)
        elif role == "toolResult":
            self._result(lineno, msg)
        elif role == "bashExecution":
            cmd = str(msg.get("command") or "")
            self.b.note(f"$ {cmd}\n{str(msg.get('output') or '')[:2000]}", "command")
            self.book.shell(cmd)
        elif role in ("custom", "hookMessage", "branchSummary", "compactionSummary"):
            self.b.note(_text(msg.get("content")) or str(msg.get("summary") or ""), "meta")
        else:
            self.report.unknown(self.log, lineno, f"message/{role}")

    def _assistant(self, msg: dict) -> None:
        content = msg.get("content")
        blocks = content if isinstance(content, list) else [{"type": "text", "text": _text(content)}]
        for block in blocks:
            if not isinstance(block, dict):
                continue
            kind = block.get("type")
            if kind == "text":
                self.b.assistant_text(str(block.get("text") or ""))
            elif kind == "thinking":
                self.b.thinking(str(block.get("thinking") or ""))
            elif kind == "toolCall":
                call_id, name = str(block.get("id")), str(block.get("name") or "?")
                args = block.get("arguments") if isinstance(block.get("arguments"), dict) else {}
                self.b.tool_call(call_id, name, args)
                self.calls[call_id] = (name, args)
        if msg.get("stopReason") == "aborted":
            self._unanswered(interrupt=True)
        elif msg.get("stopReason") == "error" and msg.get("errorMessage"):
            self.b.note(f"the model call failed: {str(msg['errorMessage'])[:300]}", "meta")

    def _unanswered(
        self,
        interrupt: bool = False,
        status: str = "rejected",
        reason: str = "the user stopped the turn before it ran",
    ) -> None:
        """Tool calls left without a result: the user stopped the turn (or moved elsewhere in the tree)."""
        edits = []
        for call_id, (name, args) in list(self.calls.items()):
            del self.calls[call_id]
            if name in _EDIT_TOOLS:
                edits += self._refused(name, args, call_id, status, reason)
        if interrupt and not self.words.has_verdict("interrupt"):
            self.words.verdict("interrupt", edits=edits)

    # ------------------------------------------------------------------------------ tool results

    def _result(self, lineno: int, msg: dict) -> None:
        call_id = str(msg.get("toolCallId"))
        text, is_error = _text(msg.get("content")), bool(msg.get("isError"))
        self.b.tool_result(call_id, text, is_error, self.opts.max_output_chars)
        name, args = self.calls.pop(call_id, (str(msg.get("toolName") or "?"), {}))
        if name == "read" and not is_error:
            self._read(args, msg, text)
        elif name == "bash":
            self.book.shell(str(args.get("command") or ""))
        elif name in _EDIT_TOOLS:
            if not is_error:
                self._applied(lineno, name, args, msg, call_id)
            elif text.strip().lower().startswith(("operation aborted", "aborted")):
                edits = self._refused(name, args, call_id, "rejected", "the user aborted it (Esc)")
                if not self.words.has_verdict("interrupt"):
                    self.words.verdict("interrupt", call_id, edits)
            elif _BLOCKED.search(text[:300]) and not text.lstrip().startswith(_TOOL_ERRORS):
                said = text.strip() if text.strip() and not text.startswith(_DEFAULT_BLOCK) else None
                edits = self._refused(name, args, call_id, "rejected", said or "blocked before it ran")
                self.words.verdict("reject_with_reason" if said else "reject", call_id, edits, text=said)
            else:
                self._refused(
                    name, args, call_id, "failed", text.strip()[:300] or "the tool reported an error"
                )

    def _read(self, args: dict, msg: dict, text: str) -> None:
        rel = self._quiet_rel(args.get("path"))
        if rel is None or args.get("offset") not in (None, 0, 1) or args.get("limit") is not None:
            return
        content = msg.get("content")
        if isinstance(content, list) and any(
            isinstance(c, dict) and c.get("type") == "image" for c in content
        ):
            return
        if _READ_NOTICE.search(text) or text.startswith("[Line "):
            return
        self.book.learn(rel, text)

    def _applied(self, lineno: int, name: str, args: dict, msg: dict, call_id: str) -> None:
        rel = self._rel(args.get("path"), lineno)
        if rel is None:
            return
        try:
            if name == "write":
                change = self.book.write(rel, str(args.get("content") or ""), absent=None)
            else:
                change = self._edit_change(rel, args, msg.get("details"))
        except PatchError as e:
            self.report.skip(self.log, lineno, f"edit of {rel}: {e}; the edit is left out", "edit_not_placed")
            return
        self.book.apply(change, name, call_id)

    def _edit_change(self, rel: str, args: dict, details: object):
        """The change an applied `edit` made: its arguments on a file known whole, else its logged diff."""
        pairs = _replacements(args)
        if self.book.known(rel) and pairs:
            before = self.book.text(rel) or ""
            after = _replace_all(before, pairs)
            if after is not None:
                return self.book.write(rel, after, absent=False)
        hunks = _details_hunks(details) or [Hunk(_split(o), _split(n)) for o, n in pairs]
        if not hunks:
            raise PatchError("neither the arguments nor the result say what changed")
        return self.book.hunks(rel, hunks)

    def _refused(self, name: str, args: dict, call_id: str, status: str, reason: str) -> list:
        """A negative edit for a call that did not write: rebuilt on the file as far as it is known."""
        rel = self._quiet_rel(args.get("path"))
        if rel is None:
            return []
        if name == "write":
            content = str(args.get("content") or "")
            change = self.book.write(rel, content, absent=None, mode="scratch")
            return [self.book.propose(change, name, status, reason, call_id)]
        out = []
        for old, new in _replacements(args):
            try:
                change = self.book.replace(rel, old, new, mode="scratch")
                out.append(self.book.propose(change, name, status, reason, call_id))
            except PatchError:
                out.append(self.book.propose_fragment(rel, old, new, name, status, reason, call_id))
        return out

    # ----------------------------------------------------------------------------------- paths

    def _rel(self, path: object, lineno: int) -> str | None:
        if not isinstance(path, str) or not path:
            self.report.skip(
                self.log, lineno, "an edit without a path; the edit is left out", "bad_tool_input"
            )
            return None
        return self.b.rel(tool_path(path.removeprefix("@"), None, self.b.cwd or ""), lineno)

    def _quiet_rel(self, path: object) -> str | None:
        if not isinstance(path, str) or not path:
            return None
        return quiet_rel(tool_path(path.removeprefix("@"), None, self.b.cwd or ""), self.b.cwd)


def _replacements(args: dict) -> list[tuple[str, str]]:
    """The (oldText, newText) pairs of an edit call, in the current and the older argument shapes."""
    edits = args.get("edits")
    if isinstance(edits, str):
        try:
            edits = json.loads(edits)
        except ValueError:
            edits = None
    out = []
    for e in edits if isinstance(edits, list) else []:
        if isinstance(e, dict):
            old, new = e.get("oldText", e.get("old_string")), e.get("newText", e.get("new_string"))
            if isinstance(old, str) and isinstance(new, str):
                out.append((old, new))
    old, new = args.get("oldText", args.get("old_string")), args.get("newText", args.get("new_string"))
    if isinstance(old, str) and isinstance(new, str):
        out.append((old, new))
    return out


def _replace_all(text: str, pairs: list[tuple[str, str]]) -> str | None:
    """Every pair applied to `text` as pi does: each `old` matched once in the original, no overlaps."""
    norm = text.replace("\r\n", "\n")
    spots = []
    for old, new in pairs:
        old, new = old.replace("\r\n", "\n"), new.replace("\r\n", "\n")
        at = norm.find(old) if old else -1
        if at < 0:
            return None
        spots.append((at, at + len(old), new))
    spots.sort()
    out, pos = [], 0
    for start, end, new in spots:
        if start < pos:
            return None
        out += [norm[pos:start], new]
        pos = end
    result = "".join(out) + norm[pos:]
    return result.replace("\n", "\r\n") if "\r\n" in text else result


def _details_hunks(details: object) -> list[Hunk]:
    """The hunks of an edit result's `details`: the unified `patch`, else pi's numbered `diff`."""
    if not isinstance(details, dict):
        return []
    if isinstance(details.get("patch"), str) and details["patch"].strip():
        return parse_hunks(details["patch"])
    diff = details.get("diff")
    if not isinstance(diff, str):
        return []
    hunks, cur = [], Hunk([], [])
    for line in diff.split("\n"):
        m = _PI_DIFF_LINE.match(line)
        if m is None:  # " ... " between hunks, or anything else
            if cur.old or cur.new:
                hunks.append(cur)
            cur = Hunk([], [])
            continue
        sign, text = m[1], m[3]
        if sign in (" ", "-"):
            cur.old.append(text)
        if sign in (" ", "+"):
            cur.new.append(text)
    if cur.old or cur.new:
        hunks.append(cur)
    return hunks


def _split(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines
