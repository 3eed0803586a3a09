"""Give each Claude Code Edit / MultiEdit / Write its fate in the SessionBuilder.

The fate comes from the tool result: applied (rebuilt and checked against the logged `structuredPatch`,
see `patch`), rejected or cancelled by the user, failed (a tool error), or made on a branch
the user abandoned by rewinding. `EditRecorder` also keeps the file state the log has shown so far (by
absolute path): each edit's before and after, and whole-file Read results, so that the edits that carry
no `toolUseResult` (subagent transcripts, rejected or failed calls) can still be re-applied. A rejected or
failed edit is always kept: when the whole file is unknown (only a window was read) or its tracked copy
is stale, it is placed on the latest content seen of the file, with its confidence (`known`).
An edit call that makes no edit at all (no file_path, outside the working directory, no change) tells the
builder why, so that the user's rejection of it is counted as unmapped with that reason.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from golddiff.traces.claude_code.known import FileViews, Window, numbered_window
from golddiff.traces.claude_code.patch import Rebuilt, patch_shape_ok, rebuild, tool_changes
from golddiff.traces.claude_code.text import Verdict
from golddiff.traces.session import IngestReport, SessionBuilder

_REASON = {
    "reject": "rejected by the user",
    "cancel": "cancelled by the user",
    "interrupt": "interrupted by the user",
    "plan_rejected": "the user rejected the plan",
}
_RESULT_KEYS = {
    "Edit": ("oldString", "originalFile", "structuredPatch"),
    "MultiEdit": ("edits", "originalFileContents", "structuredPatch"),
    "Write": ("type", "content", "structuredPatch"),
}


@dataclass(frozen=True)
class Where:
    """Where a record sits: the main line or an abandoned branch, in the session or a subagent's file."""

    line: Literal["main", "abandoned"] = "main"
    branch: str | None = None  # uuid of the abandoned branch's first record
    subagent: str | None = None  # agentId of the subagent transcript
    src: Path | None = None  # the subagent transcript, when it is not the session file

    def at(self, lineno: int) -> int | str:
        """The line, as the session's problems name it."""
        return lineno if self.src is None else f"{self.src.name}:{lineno}"


@dataclass
class Call:
    """A tool call waiting for its result."""

    name: str
    input: dict
    where: Where


class EditRecorder:
    """Turns edit tool results into `apply_edit` / `propose_edit` calls on one SessionBuilder."""

    def __init__(self, builder: SessionBuilder, report: IngestReport, path: Path):
        self.b, self.report, self.path = builder, report, path
        self.state: dict[str, str | None] = {}  # absolute path -> content as the log last showed it
        self.partly_read: set[str] = set()  # files seen to exist, content not all known
        self.views = FileViews()  # windows read of files, and tracked copies found stale
        self.branches: dict[str, dict[str, str | None]] = {}  # branch -> its own file states

    def key(self, file_path: str) -> str:
        p = file_path.replace("\\", "/")
        if not (p.startswith("/") or re.match(r"^[A-Za-z]:/", p)):
            p = posixpath.join((self.b.cwd or "").replace("\\", "/"), p)
        return posixpath.normpath(p)

    def saw_read(self, inp: dict, result: object, text: str = "") -> None:
        """A Read result: a whole file read makes its content known; a window is kept as the latest view
        of those lines (and shows a tracked copy stale when it disagrees with it)."""
        f = result.get("file") if isinstance(result, dict) else None
        fp = f.get("filePath") if isinstance(f, dict) and isinstance(f.get("filePath"), str) else None
        fp = fp or inp.get("file_path")
        if not isinstance(fp, str):
            return
        key = self.key(fp)
        if isinstance(f, dict) and isinstance(f.get("content"), str):
            total, start = f.get("totalLines"), f.get("startLine", 1)
            if start == 1 and isinstance(total, int) and f.get("numLines") == total:
                self.state[key] = f["content"]
                self.views.saw_whole(key)
                return
            window = Window(start if isinstance(start, int) and start > 0 else 1, f["content"])
        else:
            window = numbered_window(text)  # no toolUseResult (a subagent's Read): the numbered text
            if window is None:
                return
        if key not in self.state:
            self.partly_read.add(key)
        self.views.saw_window(key, window.start, window.text, self.state.get(key))

    def outcome(
        self,
        call: Call,
        call_id: str,
        where: Where,
        verdict: Verdict | None,
        text: str,
        is_error: bool,
        result: object,
        lineno: int,
    ) -> None:
        """Record what became of one edit call, given its tool result."""
        fp = call.input.get("file_path")
        if not isinstance(fp, str) or not fp:
            what = f"{call.name} call {call_id} has no file_path; edit left out"
            self.report.skip(str(where.src or self.path), lineno, what, "bad_tool_input")
            self.b.no_edit(call_id, "its input has no file_path")
            return
        rel = self.b.rel(fp, lineno, str(where.src) if where.src else None)
        if rel is None:
            self.b.no_edit(call_id, "it edits a file outside the session's working directory")
            return
        if verdict is not None:
            self._refused(rel, fp, call, call_id, where, "rejected", verdict.reason or _REASON[verdict.kind])
        elif is_error:
            first = text.strip().replace("<tool_use_error>", "").splitlines()[:1]
            self._refused(rel, fp, call, call_id, where, "failed", (first or ["tool error"])[0][:200])
        else:
            known, before = self._known(self.key(fp), call, where)
            self._applied(rel, fp, call, call_id, where, result, before, known, lineno)

    def _refused(
        self, rel: str, fp: str, call: Call, call_id: str, where: Where, status: str, reason: str
    ) -> None:
        """A rejected or failed edit, always kept as a negative: rebuilt on the whole file when it is known
        and current, else placed on the latest content seen of it (`FileViews.place`)."""
        key = self.key(fp)
        changes = tool_changes(call.name, call.input)
        if changes is None:
            self.b.no_edit(call_id, f"its {call.name} input is not of a known shape")
            return
        known, before = self._known(key, call, where)
        stale = key in self.views.stale and where.line == "main"
        if known and not stale:
            rb = rebuild(call.name, call.input, None, before, known)
            if rb.after is not None:
                self._propose(rel, rb, call, call_id, where, status, reason)
                return
        placed = self.views.place(key, rel, changes, before if known and stale else None)
        if not placed.diff:
            self.b.no_edit(call_id, "the edit changes nothing (its new text equals the old)")
            return
        self.report.counts[f"negatives_{placed.confidence}"] += 1
        self.b.propose_edit(
            rel,
            None,
            None,
            call.name,
            status,
            reason if where.line == "main" else f"abandoned branch: {reason}",
            call_id,
            on_main_line=where.line == "main",
            subagent=where.subagent,
            diff=placed.diff,
            record_base=False,
            confidence=placed.confidence,
        )

    def _known(self, key: str, call: Call, where: Where) -> tuple[bool, str | None]:
        """(whether it is known, the file's content) just before this call."""
        if where.line == "abandoned" and key in self.branches.get(where.branch or "", {}):
            return True, self.branches[where.branch or ""][key]
        if key in self.state:
            return True, self.state[key]
        if key not in self.partly_read and _creates(call):
            return True, None  # never seen, and the call writes a whole file: a new file
        return False, None

    def _applied(
        self,
        rel: str,
        fp: str,
        call: Call,
        call_id: str,
        where: Where,
        result: object,
        before: str | None,
        known: bool,
        lineno: int,
    ) -> None:
        logged = self._result(call, call_id, fp, where, result, lineno)
        rb = rebuild(call.name, call.input, logged, before, known)
        label = f"{rel}: {call.name} {call_id} (line {where.at(lineno)})"
        if rb.checked:
            self.report.counts["patch_checked"] += 1
        if rb.mismatch:
            self.report.counts["patch_mismatch"] += 1
            self.b.warn(f"{label}: {rb.note}")
        if rb.after is None:
            what = f"{call.name} of {fp}: {rb.note}; edit left out"
            self.report.skip(str(where.src or self.path), lineno, what, "unknown_base")
            self.b.warn(f"{label}: {rb.note}; edit left out")
            return
        key = self.key(fp)
        if where.line == "abandoned":
            self.branches.setdefault(where.branch or "", {})[key] = rb.after
            self._propose(rel, rb, call, call_id, where, "reverted", "the user rewound to before this edit")
            return
        self.b.apply_edit(rel, rb.before, rb.after, call.name, call_id, where.subagent)
        self.state[key] = rb.after
        self.views.saw_whole(key)

    def _result(
        self, call: Call, call_id: str, fp: str, where: Where, result: object, lineno: int
    ) -> dict | None:
        """The call's toolUseResult if it has a known shape and is this call's; unexpected shapes reported."""
        if result is None:
            return None  # subagent transcripts log none: the input is re-applied
        if not _result_shape_ok(call.name, result):
            what = (
                f"toolUseResult of {call.name} {call_id} has an unexpected shape "
                f"({type(result).__name__}); re-applied its input instead"
            )
            self.report.skip(str(where.src or self.path), lineno, what, "bad_tool_result")
            return None
        assert isinstance(result, dict)
        logged = result.get("filePath")
        if isinstance(logged, str) and self.key(logged) != self.key(fp):
            return None  # the result of another call in the same record
        return result

    def _propose(
        self, rel: str, rb: Rebuilt, call: Call, call_id: str, where: Where, status: str, reason: str
    ) -> None:
        """A negative edit rebuilt on the file as it was (a no-op is no edit: said so for its rejection)."""
        if rb.after is None or rb.after == rb.before:
            self.b.no_edit(call_id, "the edit changes nothing (its new text equals the old)")
            return
        on_main = where.line == "main"
        if not on_main:
            reason = f"abandoned branch: {reason}"
        if rb.before is not None and rel not in self.b.files:
            # the file is as the log showed it: later edits and episodes start from this content
            self.b.revise(rel, current=rb.before)
        self.b.propose_edit(
            rel,
            rb.before,
            rb.after,
            call.name,
            status,
            reason,
            call_id,
            on_main_line=on_main,
            subagent=where.subagent,
        )


def _creates(call: Call) -> bool:
    if call.name == "Write":
        return True
    edits = call.input.get("edits") if call.name == "MultiEdit" else [call.input]
    return (
        isinstance(edits, list)
        and bool(edits)
        and isinstance(edits[0], dict)
        and edits[0].get("old_string") == ""
    )


def _result_shape_ok(tool: str, result: object) -> bool:
    if not isinstance(result, dict) or not any(k in result for k in _RESULT_KEYS[tool]):
        return False
    for key in ("originalFile", "originalFileContents", "content"):
        if result.get(key) is not None and not isinstance(result[key], str):
            return False
    return "structuredPatch" not in result or patch_shape_ok(result["structuredPatch"])
