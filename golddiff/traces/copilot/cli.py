"""GitHub Copilot CLI sessions -> Episodes (format "copilot_cli").

Two layouts:
- `~/.copilot/session-state/<id>/events.jsonl` (1.x): one event per line, `{type, data, id, timestamp,
  parentId}`. `session.start` (`sessionId`, `copilotVersion`, `context.cwd`), `session.resume` (the
  same file continues), `user.message {content, source, transformedContent}`, `assistant.message
  {content, reasoningText, toolRequests[] {toolCallId, name, arguments}, parentToolCallId}`,
  `tool.execution_complete {toolCallId, success, result {content, detailedContent}, error {message}}`,
  `permission.completed {toolCallId, result {kind}}` (`approved`, `denied-interactively-by-user`, ...),
  `abort {reason}`, and bookkeeping (`assistant.turn_*`, `session.*`, `hook.*`, `model.*`, ...);
- `~/.copilot/history-session-state/session_<id>.json` (0.0.3xx): `{sessionId, startTime, chatMessages[],
  timeline[]}`, the timeline holding `user` / `copilot` / `info` entries and `tool_call_completed
  {callId, name, arguments, result {type, log}}` (`log`: the edit's diff, or a viewed file as a diff).

What becomes of it: one Episode per session; typed user messages are its turns (notices, skill and
instruction injections, and the prompts handed to subagents are not); edit tools (`copilot.edits`) are
edits, replayed on the files the log showed whole (a `view` of the whole file, a `create`) or rebuilt
from the diff Copilot logged for each edit (base "reconstructed"). A permission the user denied, or a
result saying so, rejects the edit ("reject"; the user's next message gives their words); `abort` is an
interrupt and rejects the edits still waiting for a result; any other failure fails the edit. The legacy
layout does not log the working directory: it is the folder the agent `cd`s into, or the one holding
every file it touched. Subagents' edits (`parentToolCallId`) are marked with the launching call's id.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.copilot.edits import EditRunner, ops_of
from golddiff.traces.logs.json_log import first_record, whole_object
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.file_book import FileBook
from golddiff.traces.session.tools import json_args, quiet_rel, tool_path
from golddiff.traces.session.user_words import UserWords

FORMAT = "copilot_cli"

_IGNORED_PREFIXES = ("session.", "assistant.turn_", "hook.", "model.", "system.", "skill.", "subagent.")
_IGNORED_PREFIXES += (
    "external_tool.",
    "permission.requested",
    "tool.execution_partial",
    "tool.user_requested",
)
_DENIED = re.compile(r"(denied|rejected|declined) (by|this|the)|user (denied|rejected|declined)", re.I)
_CD = re.compile(r"^\s*cd\s+(\"[^\"]+\"|'[^']+'|\S+)\s*(&&|;)")
_HUNK_HEADER = re.compile(r"^@@ -1,(\d+) \+1,(\d+) @@$")
_SHELLS = frozenset({"bash", "powershell", "shell", "run_in_terminal"})


def sniff(path: Path, head: str) -> bool:
    """A Copilot CLI session: events whose first is `session.start`, or the legacy timeline object."""
    rec = first_record(head)
    if rec is not None and rec.get("type") == "session.start" and isinstance(rec.get("data"), dict):
        return True
    s = head.lstrip()
    if not s.startswith("{"):
        return False
    top = s[:4000]
    return '"sessionId"' in top and bool(re.search(r'"(timeline|chatMessages)"\s*:\s*\[', s))


def is_attached(path: Path) -> bool:
    return False


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    text = path.read_text(encoding="utf-8", errors="replace")
    head = first_record(text)
    if head is not None and head.get("type") == "session.start":
        yield from _Events(path, report, opts).read(text)
        return
    data = whole_object(path, text, report, "a Copilot CLI session (events.jsonl, or {sessionId, timeline})")
    if data is not None:
        yield from _Legacy(path, data, report, opts).read()


# ------------------------------------------------------------------------------------- shared


class _Reader:
    """What both layouts share: the builder, the files, pending tool calls and their fates."""

    def __init__(self, path: Path, report: IngestReport, opts: ReadOptions, session_id: str | None):
        self.path, self.log, self.report, self.opts = path, str(path), report, opts
        self.b = SessionBuilder(FORMAT, self.log, session_id, report)
        self.book, self.words = FileBook(self.b), UserWords(self.b)
        self.runner = EditRunner(self.book, self._rel, report, self.log)
        self.pending: dict[str, tuple[str, object, str | None]] = {}  # call id -> (name, args, subagent)
        self.denied: dict[str, str | None] = {}  # call id -> the user's words, if any
        self.seen_calls: set[str] = set()

    def call(self, call_id: str, name: str, args: object, subagent: str | None = None) -> None:
        self.b.tool_call(call_id, name, args if isinstance(args, (dict, list, str)) else None)
        self.pending[call_id] = (name, args, subagent)
        self.seen_calls.add(call_id)
        if name in _SHELLS and isinstance(args, dict):
            self.book.shell(str(args.get("command") or ""))

    def result(
        self,
        call_id: str,
        ok: bool,
        text: str,
        diff: str | None,
        where: int | str | None,
        denied: bool = False,
    ) -> None:
        """A tool call's outcome: `diff` is what Copilot logged for it (an edit's diff, a viewed file)."""
        self.b.tool_result(call_id, text, not ok, self.opts.max_output_chars)
        name, args, sub = self.pending.pop(call_id, ("?", None, None))
        ops = ops_of(name, args)
        if ops is None:
            if ok and diff and (name == "view" or (name == "str_replace_editor" and isinstance(args, dict))):
                self._viewed(args, diff)
            return
        denied = denied or call_id in self.denied
        words = self.denied.pop(call_id, None)
        if ok and not denied:
            self.runner.applied(name, ops, call_id, diff, where, sub)
        elif denied or _DENIED.search(text[:300]):
            edits = self.runner.refused(name, ops, call_id, "rejected", words or "the user denied it", sub)
            fb = self.words.verdict("reject", call_id, edits)
            if words:
                self.b.explain(words, fb)
        else:
            self.runner.refused(
                name, ops, call_id, "failed", text.strip()[:300] or "the tool reported an error", sub
            )

    def interrupted(self) -> None:
        """The user stopped the agent: calls still waiting for a result are rejected."""
        edits = []
        for call_id, (name, args, sub) in list(self.pending.items()):
            del self.pending[call_id]
            ops = ops_of(name, args)
            if ops:
                edits += self.runner.refused(
                    name, ops, call_id, "rejected", "the user stopped the agent first", sub
                )
        if not self.words.has_verdict("interrupt"):
            self.words.verdict("interrupt", edits=edits)

    def finish(self) -> list[Episode]:
        for call_id, (name, args, sub) in list(self.pending.items()):
            ops = ops_of(name, args)
            if ops:
                status = "rejected" if call_id in self.denied else "failed"
                why = (
                    "the user denied it"
                    if call_id in self.denied
                    else "no result was logged (the session ended first)"
                )
                self.runner.refused(name, ops, call_id, status, why, sub)
        self.book.finish()
        return self.b.finish()

    def _viewed(self, args: object, diff: str) -> None:
        """A `view` of a whole file, which Copilot logs as a diff of every line against itself."""
        if not isinstance(args, dict) or args.get("view_range") not in (None, [1, -1]):
            return
        rel = self._quiet_rel(args.get("path"))
        lines = diff.split("\n")
        at = next((i for i, ln in enumerate(lines) if ln.startswith("@@")), None)
        if rel is None or at is None:
            return
        m = _HUNK_HEADER.match(lines[at])
        body = lines[at + 1 :]
        if body and body[-1] == "":
            body.pop()
        if m is None or m[1] != m[2] or len(body) != int(m[1]) or not all(ln.startswith(" ") for ln in body):
            return
        self.book.learn(rel, "\n".join(ln[1:] for ln in body))

    def _rel(self, path: str, where: int | str | None) -> str | None:
        return self.b.rel(tool_path(path, None, self.b.cwd or ""), where)

    def _quiet_rel(self, path: object) -> str | None:
        if not isinstance(path, str):
            return None
        return quiet_rel(tool_path(path, None, self.b.cwd or ""), self.b.cwd)


def user_kind(data: dict) -> str:
    """What a `user.message` is: "user" (typed, or sent by another session), "agent" (a prompt the agent
    handed a subagent) or "machinery" (notices, skill and instruction injections, autopilot nudges)."""
    content = str(data.get("content") or "").strip()
    source = str(data.get("source") or "")
    if not content or content.startswith("<system_notification>"):
        return "machinery"
    if source.startswith("agent-"):
        return "agent"
    return "user" if source in ("", "user") else "machinery"


# -------------------------------------------------------------------------------- events.jsonl


class _Events(_Reader):
    def __init__(self, path: Path, report: IngestReport, opts: ReadOptions):
        super().__init__(path, report, opts, None)

    def read(self, text: str) -> list[Episode]:
        for lineno, line in enumerate(text.split("\n"), 1):
            if not line.strip():
                continue
            self.report.counts["records"] += 1
            try:
                rec = json.loads(line)
            except ValueError as e:
                self.report.skip(
                    self.log, lineno, f"not JSON ({str(e)[:80]}); expected one Copilot event per line"
                )
                continue
            if not isinstance(rec, dict) or not isinstance(rec.get("type"), str):
                self.report.skip(
                    self.log, lineno, "an event without a type; expected {type, data, id, timestamp}"
                )
                continue
            self._event(
                lineno, rec["type"], rec.get("data") if isinstance(rec.get("data"), dict) else {}, rec
            )
        return self.finish()

    def _event(self, lineno: int, t: str, data: dict, rec: dict) -> None:
        if t in ("session.start", "session.resume"):
            ctx = data.get("context") if isinstance(data.get("context"), dict) else {}
            fields = {}
            if t == "session.start":
                fields = dict(session_id=data.get("sessionId"), version=data.get("copilotVersion"))
            if isinstance(ctx.get("cwd"), str) and not self.b.cwd:
                fields["cwd"] = ctx["cwd"]
            if isinstance(ctx.get("branch"), str):
                fields["branch"] = ctx["branch"]
            self.b.set_header(**{k: v for k, v in fields.items() if isinstance(v, str)})
            if t == "session.resume":
                self.b.note("the session was resumed", "meta")
        elif t == "user.message":
            kind = user_kind(data)
            if kind == "user":
                self.words.user(str(data["content"]), rec.get("timestamp"))
            elif kind == "agent":
                self.b.note(f"[prompt for a subagent] {data.get('content')}", "meta")
            else:
                self.report.counts["copilot/injected_messages"] += 1
        elif t == "assistant.message":
            self._assistant(data)
        elif t == "tool.execution_start":
            call_id = str(data.get("toolCallId"))
            if call_id not in self.seen_calls:
                self.call(call_id, str(data.get("toolName") or "?"), data.get("arguments"))
        elif t == "tool.execution_complete":
            self._complete(lineno, data)
        elif t == "permission.completed":
            result = data.get("result") if isinstance(data.get("result"), dict) else data
            kind = str(result.get("kind") or "")
            if kind.startswith("denied") and isinstance(data.get("toolCallId"), str):
                said = result.get("feedback") or result.get("message")
                self.denied[data["toolCallId"]] = said if isinstance(said, str) and said.strip() else None
                self.report.counts[f"copilot/permission/{kind}"] += 1
        elif t == "abort":
            self.interrupted()
        elif t == "session.compaction_complete":
            self.b.note(
                str(data.get("summaryContent") or "the conversation was compacted"), "compact_summary"
            )
        elif t.startswith(_IGNORED_PREFIXES) or t in ("tool.execution_progress", "permission.completed"):
            self.report.counts["copilot/ignored_events"] += 1
        else:
            self.report.unknown(self.log, lineno, t)

    def _assistant(self, data: dict) -> None:
        sub = data.get("parentToolCallId") if isinstance(data.get("parentToolCallId"), str) else None
        if data.get("reasoningText"):
            self.b.thinking(str(data["reasoningText"]))
        self.b.assistant_text(str(data.get("content") or ""))
        for req in data.get("toolRequests") or []:
            if isinstance(req, dict) and isinstance(req.get("toolCallId"), str):
                self.call(req["toolCallId"], str(req.get("name") or "?"), req.get("arguments"), sub)

    def _complete(self, lineno: int, data: dict) -> None:
        call_id = str(data.get("toolCallId"))
        result = data.get("result") if isinstance(data.get("result"), dict) else {}
        error = data.get("error") if isinstance(data.get("error"), dict) else {}
        ok = data.get("success") is True
        text = (
            str(result.get("content") or "")
            if ok
            else str(error.get("message") or result.get("content") or "")
        )
        diff = result.get("detailedContent") if isinstance(result.get("detailedContent"), str) else None
        denied = (
            str(error.get("code") or "").lower() in ("rejected", "denied") or data.get("status") == "denied"
        )
        self.result(call_id, ok, text, diff, lineno, denied)


# -------------------------------------------------------------------- history-session-state JSON


class _Legacy(_Reader):
    def __init__(self, path: Path, data: dict, report: IngestReport, opts: ReadOptions):
        sid = data.get("sessionId") if isinstance(data.get("sessionId"), str) else None
        super().__init__(path, report, opts, sid)
        self.data = data
        self.b.set_header(cwd=_legacy_cwd(data))

    def read(self) -> list[Episode]:
        timeline = self.data.get("timeline") if isinstance(self.data.get("timeline"), list) else []
        messages = self.data.get("chatMessages") if isinstance(self.data.get("chatMessages"), list) else []
        self.report.counts["records"] += 1 + len(timeline) + (0 if timeline else len(messages))
        if timeline:
            for i, entry in enumerate(timeline):
                if isinstance(entry, dict):
                    self._entry(f"timeline[{i}]", entry)
                else:
                    self.report.skip(self.log, f"timeline[{i}]", "a timeline entry that is not an object")
        else:
            for i, msg in enumerate(messages):
                if isinstance(msg, dict):
                    self._chat_message(f"chatMessages[{i}]", msg)
        return self.finish()

    def _entry(self, where: str, e: dict) -> None:
        t = e.get("type")
        if t == "user":
            self.words.user(str(e.get("text") or ""), e.get("timestamp"))
        elif t == "copilot":
            self.b.assistant_text(str(e.get("text") or ""))
        elif t in ("tool_call_completed", "tool_call_requested"):
            call_id = str(e.get("callId") or e.get("id"))
            if call_id not in self.pending:
                self.call(call_id, str(e.get("name") or "?"), e.get("arguments"))
            if t == "tool_call_completed":
                res = e.get("result") if isinstance(e.get("result"), dict) else {}
                kind = str(res.get("type") or "")
                log = str(res.get("log") or "")
                denied = kind in ("rejected", "denied", "cancelled")
                self.result(
                    call_id, kind == "success", log, log if kind == "success" else None, where, denied
                )
        elif t in ("info", "warning", "error"):
            self.report.counts["copilot/notices"] += 1
        else:
            self.report.unknown(self.log, None, f"timeline/{t}")

    def _chat_message(self, where: str, msg: dict) -> None:
        role, content = msg.get("role"), msg.get("content")
        text = content if isinstance(content, str) else ""
        if role == "user":
            self.words.user(text)
        elif role == "assistant":
            self.b.assistant_text(text)
            for tc in msg.get("tool_calls") or []:
                fn = (
                    tc.get("function")
                    if isinstance(tc, dict) and isinstance(tc.get("function"), dict)
                    else {}
                )
                self.call(str(tc.get("id")), str(fn.get("name") or "?"), json_args(fn.get("arguments")))
        elif role == "tool":
            self.result(
                str(msg.get("tool_call_id")),
                not text.lower().startswith(("error", "failed")),
                text,
                None,
                where,
            )


def _legacy_cwd(data: dict) -> str | None:
    """The working directory the legacy layout does not log: the folder the agent `cd`s into that holds
    the files it touched, else the deepest folder holding them all."""
    paths, cds = [], Counter()
    for e in data.get("timeline") or []:
        args = e.get("arguments") if isinstance(e, dict) and isinstance(e.get("arguments"), dict) else {}
        ops = ops_of(str(e.get("name") or ""), args) if isinstance(e, dict) else None
        if isinstance(args.get("path"), str) and args["path"].startswith("/"):
            paths.append(args["path"] if ops is None else os.path.dirname(args["path"]))
        m = _CD.match(str(args.get("command") or ""))
        if m:
            cds[m[1].strip("\"'")] += 1
    for cd, _ in cds.most_common():
        if cd.startswith("/") and all(p == cd or p.startswith(cd.rstrip("/") + "/") for p in paths):
            return cd.rstrip("/")
    if not paths:
        return None
    common = os.path.commonpath(paths)
    return common if common != "/" else None
