"""One OpenCode session -> Episodes: its messages and parts walked in order into a SessionBuilder.

    episodes = SessionWalk(session, report, opts).episodes()

User messages: their non-synthetic `text` parts are the request (the first one the task); their
`summary.diffs` (`{file, before, after}` per file the turn changed) give each file's content before
the turn, so the base of every file the agent edits is known ("logged"). Assistant messages:
`reasoning` and `text` parts, and `tool` parts (`{callID, tool, state: {status, input, output |
error, metadata}}`). Edits come from the `edit`, `write`, `multiedit`, `apply_patch` and `patch`
tools: from their record of the file before and after (`metadata.filediff`, `metadata.files[]`) when
there is one, else replayed from their input (`oldString`/`newString`, `content`, `patchText`). A tool
error "The user rejected permission to use this specific tool call[ with the following feedback: ...]"
is a rejection (with the user's words as the reason); "Tool execution aborted" a cancel; a rule that
denied the call, or any other error, a failed edit. A message that ended in `MessageAbortedError` is an
interrupt. A pending revert (`info.revert`, the user's /undo not yet followed by a new prompt) undoes
the edits from its message on. Files a turn changed that no edit tool touched (by the user, a shell
command or another session: `patch` parts and `summary.diffs`) are counted and named in a warning,
never put in the gold. Subagent sessions (the `task` tool) are replayed where their call completes.

Episode choice: one episode per session (OpenCode starts a new session for a new task; `/new`), the
accepted state where the session left the files. Pure Python, CPU only.
"""

from __future__ import annotations

import re

from golddiff.episodes import Episode
from golddiff.traces.opencode.sources import Message, Session
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.replay import EditReplay

EDIT_TOOLS = {"edit", "write", "multiedit", "apply_patch", "patch"}
_REJECTED = "The user rejected permission to use this specific tool call"
_WITH_FEEDBACK = re.compile(r"with the following feedback:\s*(.*)", re.S)
_DENIED_BY_RULE = "The user has specified a rule which prevents"
_QUIET_PARTS = {"step-start", "step-finish", "snapshot", "file", "agent", "retry", "subtask"}
_READ_LINE = re.compile(r"^(\d+)(?:: |\| )(.*)$")


def read_output_content(output: str) -> str | None:
    """The whole file a `read` tool printed (`<content>1: ...` or `00001| ...` lines ending with
    "(End of file ...)"), or None when it printed only part of it."""
    if "(End of file" not in output:
        return None
    lines, expect = [], 1
    for raw in output.split("\n"):
        m = _READ_LINE.match(raw.removeprefix("<content>"))
        if m is None:
            continue
        if int(m[1]) != expect:
            return None
        lines.append(m[2])
        expect += 1
    return "\n".join(lines) + "\n" if lines else None


class SessionWalk:
    """Walks one session (module doc)."""

    def __init__(self, session: Session, report: IngestReport, opts: ReadOptions):
        self.s, self.report, self.opts = session, report, opts
        info = session.info
        self.b = SessionBuilder(
            "opencode",
            session.path,
            str(info.get("id")),
            report,
            version=info.get("version") if isinstance(info.get("version"), str) else None,
            cwd=info.get("directory") if isinstance(info.get("directory"), str) else None,
        )
        self.replay = EditReplay(self.b)
        self.turn_diffs: dict[str, dict] = {}  # file -> the current turn's summary diff
        self.edited: set[str] = set()
        self.outside: set[str] = set()
        self.reverting = False
        self.reverted: list[str] = []
        self.last_rejection = None

    # ------------------------------------------------------------------------------ session

    def episodes(self) -> list[Episode]:
        self.report.counts["records"] += self.s.records
        for diff in self.s.diffs:  # the session's net change: each file's content before the session
            self._learn_before(diff)
        revert = self.s.info.get("revert") if isinstance(self.s.info.get("revert"), dict) else {}
        for m in self.s.messages:
            if revert.get("messageID") and m.info.get("id") == revert["messageID"]:
                self.reverting = True
            self.message(m, revert)
        self._end_turn()
        if self.reverted:
            self.replay.revert(self.reverted, "undone by the user (/undo: a pending revert)")
            self.b.feedback("undo")
        if self.outside:
            self.report.counts["opencode/files_changed_outside_tools"] += len(self.outside)
            self.b.warn(
                f"{len(self.outside)} file(s) changed during the session by something other than the "
                "agent's edit tools (the user, a shell command, another session); not in the gold: "
                + ", ".join(sorted(self.outside)[:10])
            )
        self.replay.finish()
        return self.b.finish()

    def message(self, m: Message, revert: dict) -> None:
        role = m.info.get("role")
        if role == "user":
            self._end_turn()
            self.user(m)
        elif role == "assistant":
            for part in m.parts:
                if self.reverting is False and part.get("id") == revert.get("partID"):
                    self.reverting = True
                self.part(part, m)
            self._assistant_error(m)
        else:
            self.report.unknown(self.b.path, None, f"message:{role}")

    def user(self, m: Message) -> None:
        texts = [p.get("text", "") for p in m.parts if p.get("type") == "text" and not p.get("synthetic")]
        for p in m.parts:
            if p.get("type") == "text" and p.get("synthetic"):
                self._synthetic_read(str(p.get("text", "")))
            elif p.get("type") == "compaction":
                self.b.note("the conversation was compacted", "compact_summary")
        summary = m.info.get("summary") if isinstance(m.info.get("summary"), dict) else {}
        self.turn_diffs = {}
        for diff in summary.get("diffs") or []:
            if isinstance(diff, dict) and isinstance(diff.get("file"), str):
                self.turn_diffs[diff["file"]] = diff
                self._learn_before(diff)
        text = "\n".join(t for t in texts if t.strip())
        ts = (m.info.get("time") or {}).get("created") if isinstance(m.info.get("time"), dict) else None
        self.b.user(text or "(no text)", "followup", str(ts) if ts is not None else None)
        if self.last_rejection is not None and text:
            fb, edit_ids = self.last_rejection
            if fb.text is None:
                self.b.explain(text, fb, edit_ids)
        self.last_rejection = None

    def _learn_before(self, diff: dict) -> None:
        rel = self.b.rel(str(diff.get("file")), None) if diff.get("file") else None
        before = diff.get("before")
        known = rel is None or self.replay.exists(rel) is not None
        if not known and isinstance(before, str) and diff.get("status") != "added":
            self.replay.learn(rel, before)

    def _synthetic_read(self, text: str) -> None:
        m = re.match(r"\s*<path>(.*?)</path>\s*<type>file</type>", text)
        if m:
            content = read_output_content(text)
            rel = self._quiet_rel(m[1])
            if rel is not None and content is not None and self.replay.exists(rel) is None:
                self.replay.learn(rel, content)

    def _end_turn(self) -> None:
        """Files the turn changed that no edit tool touched: someone else's change (module doc)."""
        for file in self.turn_diffs:
            rel = self._quiet_rel(file)
            if rel is not None and rel not in self.edited:
                self.outside.add(rel)
        self.turn_diffs = {}

    def _assistant_error(self, m: Message) -> None:
        err = m.info.get("error") if isinstance(m.info.get("error"), dict) else None
        if err is None:
            return
        name = str(err.get("name", ""))
        if name == "MessageAbortedError":
            self.b.feedback("interrupt", "the user stopped the agent (Esc)")
        else:
            data = err.get("data") if isinstance(err.get("data"), dict) else {}
            self.b.warn(f"an assistant message ended in {name}: {str(data.get('message', ''))[:200]}")

    # ------------------------------------------------------------------------------ parts

    def part(self, p: dict, m: Message) -> None:
        kind = p.get("type")
        if kind == "text" and not p.get("synthetic"):
            self.b.assistant_text(str(p.get("text", "")))
        elif kind == "reasoning":
            self.b.thinking(str(p.get("text", "")))
        elif kind == "tool":
            self.tool(p, m)
        elif kind == "patch":
            for file in p.get("files") or []:
                rel = self._quiet_rel(str(file))
                if rel is not None and rel not in self.edited:
                    self.outside.add(rel)
        elif kind == "compaction":
            self.b.note("the conversation was compacted", "compact_summary")
        elif kind not in _QUIET_PARTS and kind != "text":
            self.report.unknown(self.b.path, None, f"part:{kind}")

    def tool(self, p: dict, m: Message) -> None:
        state = p.get("state") if isinstance(p.get("state"), dict) else {}
        name, call_id = str(p.get("tool", "?")), str(p.get("callID") or p.get("id"))
        inp = state.get("input") if isinstance(state.get("input"), dict) else {}
        status = state.get("status")
        self.b.tool_call(call_id, name, inp)
        if status == "completed":
            self.b.tool_result(call_id, str(state.get("output", "")), False, self.opts.max_output_chars)
        elif status == "error":
            self.b.tool_result(call_id, str(state.get("error", "")), True, self.opts.max_output_chars)
        meta = state.get("metadata") if isinstance(state.get("metadata"), dict) else {}
        if name == "read" and status == "completed" and not inp.get("offset") and not inp.get("limit"):
            rel = self._quiet_rel(str(inp.get("filePath", "")))
            content = read_output_content(str(state.get("output", "")))
            if rel is not None and content is not None and self.replay.exists(rel) is None:
                self.replay.learn(rel, content)
        if name == "task" and isinstance(meta.get("sessionId"), str):
            self._subagent(meta["sessionId"])
        if name not in EDIT_TOOLS:
            return
        verdict, reason, feedback = self._verdict(status, state, m)
        if verdict is None:
            return
        edits = self._edit(name, inp, meta, call_id, verdict, reason)
        self.edited.update(e.path for e in edits)
        if verdict == "applied" and self.reverting:
            self.reverted += [e.edit_id for e in edits]
        if feedback is not None:
            fb = self.b.feedback(feedback[0], feedback[1], call_id)
            if feedback[0] == "reject":
                self.last_rejection = (fb, [e.edit_id for e in edits])

    def _verdict(
        self, status: object, state: dict, m: Message
    ) -> tuple[str | None, str | None, tuple | None]:
        """(edit status, reason, (feedback kind, text) or None) of an edit tool call."""
        if status == "completed":
            return "applied", None, None
        if status == "error":
            err = str(state.get("error", ""))
            if _REJECTED in err:
                said = _WITH_FEEDBACK.search(err)
                if said:
                    return "rejected", said[1].strip(), ("reject_with_reason", said[1].strip())
                return "rejected", "rejected by the user", ("reject", None)
            if "aborted" in err.lower():
                return "rejected", "cancelled by the user (the run was stopped)", ("cancel", None)
            if _DENIED_BY_RULE in err:
                return "failed", "denied by a permission rule", None
            return "failed", err[:300] or None, None
        aborted = (
            isinstance(m.info.get("error"), dict) and m.info["error"].get("name") == "MessageAbortedError"
        )
        self.report.counts["opencode/unfinished_tool_calls"] += 1
        if aborted:
            return "rejected", "cancelled by the user (the run was stopped)", ("cancel", None)
        return "failed", f"the call never finished (status {status})", None

    def _edit(self, name: str, inp: dict, meta: dict, call_id: str, status: str, reason: str | None) -> list:
        r, edits = self.replay, []
        if name in ("apply_patch", "patch"):
            files = meta.get("files") if isinstance(meta.get("files"), list) else []
            if status == "applied" and files and all(isinstance(f, dict) for f in files):
                for f in files:
                    edits += self._file_record(f, name, call_id)
                return edits
            text = str(inp.get("patchText") or inp.get("patch") or "")
            return r.patch(text, self._quiet_rel, name, call_id, status=status, reason=reason)
        rel = self.b.rel(str(inp.get("filePath") or inp.get("file_path") or ""), None)
        if rel is None:
            return []
        filediff = meta.get("filediff") if isinstance(meta.get("filediff"), dict) else None
        if status == "applied" and filediff and "after" in filediff:
            before = filediff.get("before") if r.exists(rel) is not False else None
            edit = r.exact(
                rel, before if isinstance(before, str) else None, str(filediff["after"]), name, call_id
            )
            return [edit] if edit else []
        if name == "write":
            existed = meta.get("exists") if isinstance(meta.get("exists"), bool) else None
            edit = r.write(
                rel, str(inp.get("content", "")), name, call_id, existed=existed, status=status, reason=reason
            )
        else:
            pairs = self._pairs(name, inp)
            if any(e.get("replaceAll") for e in ([inp] if name == "edit" else inp.get("edits") or [])):
                edit = self._replace_all(rel, pairs, name, call_id, status, reason)
            else:
                edit = r.replace(rel, pairs, name, call_id, status=status, reason=reason)
        return [edit] if edit else []

    @staticmethod
    def _pairs(name: str, inp: dict) -> list[tuple[str, str]]:
        items = [inp] if name == "edit" else [e for e in inp.get("edits") or [] if isinstance(e, dict)]
        return [(str(e.get("oldString", "")), str(e.get("newString", ""))) for e in items]

    def _replace_all(self, rel: str, pairs: list, name: str, call_id: str, status: str, reason: str | None):
        text = self.replay.text(rel)
        if text is None:  # not known whole: each pair placed once
            return self.replay.replace(rel, pairs, name, call_id, status=status, reason=reason)
        after = text
        for old, new in pairs:
            after = after.replace(old, new) if old else after
        return self.replay.exact(rel, text, after, name, call_id, status=status, reason=reason)

    def _file_record(self, f: dict, tool: str, call_id: str) -> list:
        """One `metadata.files[]` entry of apply_patch: the file before and after, as recorded."""
        rel = self._quiet_rel(str(f.get("filePath") or f.get("relativePath") or ""))
        if rel is None:
            return []
        kind = f.get("type")
        before = f.get("before") if isinstance(f.get("before"), str) and kind != "add" else None
        after = f.get("after") if isinstance(f.get("after"), str) and kind != "delete" else None
        dest = self._quiet_rel(str(f["movePath"])) if kind == "move" and f.get("movePath") else None
        if dest is not None:
            out = [self.replay.exact(rel, before, None, tool, call_id)]
            out.append(self.replay.exact(dest, None, after, tool, call_id))
            return [e for e in out if e is not None]
        edit = self.replay.exact(rel, before, after, tool, call_id)
        return [edit] if edit is not None else []

    def _subagent(self, sid: str) -> None:
        child = self.s.children.get(sid)
        if child is None:
            return
        self.report.counts["records"] += child.records
        self.replay.subagent = sid
        for m in child.messages:
            if m.info.get("role") != "assistant":
                continue
            for p in m.parts:
                if p.get("type") == "tool" and p.get("tool") in EDIT_TOOLS:
                    self.tool(p, m)
        self.replay.subagent = None

    def _quiet_rel(self, path: str) -> str | None:
        cwd = (self.b.cwd or "").rstrip("/")
        if path.startswith("/") and not (cwd and (path == cwd or path.startswith(cwd + "/"))):
            return None
        return self.b.rel(path, None)
