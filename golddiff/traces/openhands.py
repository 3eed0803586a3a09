"""OpenHands conversations: v0 event streams and v1 (SDK) event folders, one Episode per conversation.

    from golddiff.traces import openhands
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in openhands.read(Path("trajectory.json"), IngestReport(), ReadOptions()):
        print(ep.task[:60], [e.status for e in ep.edits])

or `golddiff ingest conversations/`. Pure Python, CPU only.

v0 (a JSON array, or JSONL, of `{id, source, action|observation, args|content+extras, cause}`):
`message` actions from the user are requests, from the agent replies; `run`, `run_ipython`, `read`,
`browse`... are tool calls answered by the observation whose `cause` is their id; an `edit` (or `write`)
action is applied by its `edit` observation (`extras.old_content/new_content`, or else its `args`
`command` replayed on what the conversation has shown of the file). An `error` observation fails the
edit; a `user_rejected` observation, or `args.confirmation_state` "rejected" with no observation, rejects
it, with "reject" feedback.

v1 (a conversation folder `<id>/base_state.json` + `<id>/events/event-00000-<uuid>.json`, one JSON event
per file, discriminated by `kind`): `MessageEvent` (user request / agent reply), `ActionEvent` (tool
call; `FileEditorAction`/`StrReplaceEditorAction` with `command` create|str_replace|insert are edits),
`ObservationEvent` (`FileEditorObservation` has `old_content/new_content`), `UserRejectObservation`
(`rejection_reason`: "reject_with_reason" feedback, the edit rejected), `AgentErrorEvent` (the edit
failed), `PauseEvent` (interrupt). Any event file of a folder names the whole folder; the others are
"attached". A JSON array or JSONL of v1 events is read too.

Episode choice: one episode per conversation. OpenHands has no /clear and no commit per request, so the
accepted state is where the conversation left the files (`final.source = "last_state"`); later requests
are follow-ups. Paths are made relative to the workspace (`base_state.json`, the first command's
`working_dir`, else the deepest folder holding the files the agent touched, else /workspace).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from golddiff.diffs import unified_diff
from golddiff.episodes import Episode
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder

FORMAT = "openhands"

_EVENT_FILE = re.compile(r"^event-(\d{5,})-[0-9A-Za-z\-]+\.json$")
_V1_KINDS = (
    "MessageEvent",
    "ActionEvent",
    "ObservationEvent",
    "UserRejectObservation",
    "AgentErrorEvent",
    "SystemPromptEvent",
    "PauseEvent",
    "ConversationStateUpdateEvent",
)
_V1_QUIET = {"SystemPromptEvent", "ConversationStateUpdateEvent", "TokenEvent", "Condensation"}
_V1_QUIET |= {"CondensationRequest", "CondensationSummaryEvent", "LLMCompletionLogEvent"}
_V0_QUIET = {"change_agent_state", "agent_state_changed", "null", "recall", "system", "condensation"}
_V0_ACTIONS = {
    "message",
    "think",
    "finish",
    "reject",
    "run",
    "run_ipython",
    "read",
    "write",
    "edit",
    "browse",
}
_V0_ACTIONS |= {"browse_interactive", "delegate", "call_tool_mcp", "mcp", "task_tracking"}
_V0_OBSERVATIONS = {"run", "run_ipython", "read", "write", "edit", "browse", "error", "user_rejected"}
_V0_OBSERVATIONS |= {"delegate", "mcp", "success", "think", "chat", "task_tracking", "reject"}
_EDIT_COMMANDS = ("create", "str_replace", "insert", "write")
_DEFAULT_REJECTION = "User rejected the action"


def _first_record(head: str) -> dict | None:
    """The first event of a JSON array, a JSONL file or a single event file, if `head` holds it whole."""
    s = head.lstrip()
    start = 1 if s.startswith("[") else 0
    try:
        ev, _ = json.JSONDecoder().raw_decode(s[start:].lstrip())
    except ValueError:
        return None
    return ev if isinstance(ev, dict) else None


def sniff(path: Path, head: str) -> bool:
    ev = _first_record(head)
    if ev is None:  # a first event longer than the head: look for its keys near the start
        ev = {}
        for key in ("kind", "action", "observation", "source"):
            m = re.search(rf'"{key}"\s*:\s*"(\w+)"', head[:4000])
            if m:
                ev[key] = m[1]
    if ev.get("kind") in _V1_KINDS or (isinstance(ev.get("kind"), str) and ev["kind"].endswith("Event")):
        return "source" in ev or "id" in ev
    return ev.get("source") in ("agent", "user", "environment") and (
        isinstance(ev.get("action"), str) or isinstance(ev.get("observation"), str)
    )


@functools.lru_cache(maxsize=256)
def _first_event_file(folder: str) -> str | None:
    names = [p.name for p in Path(folder).iterdir() if _EVENT_FILE.match(p.name)]
    return min(names, key=lambda n: int(_EVENT_FILE.match(n)[1]), default=None)  # type: ignore[index]


def is_attached(path: Path) -> bool:
    """A v1 event file other than its folder's first: read with the folder, through the first one."""
    if not _EVENT_FILE.match(path.name):
        return False
    return path.name != _first_event_file(str(path.parent))


# ------------------------------------------------------------------------------------ loading


def _records(path: Path, report: IngestReport) -> tuple[list[tuple[str, int | str, dict]], Path | None]:
    """(file, line or index, event) of every event, and the v1 conversation folder if there is one."""
    folder = path if path.is_dir() else path.parent if _EVENT_FILE.match(path.name) else None
    if folder is not None:
        events_dir = folder / "events" if (folder / "events").is_dir() else folder
        conv = events_dir.parent if events_dir.name == "events" else events_dir
        files = sorted((p for p in events_dir.iterdir() if _EVENT_FILE.match(p.name)), key=_event_index)
        out = []
        for f in files:
            ev = _json(f.read_text(encoding="utf-8", errors="replace"), str(f), None, report)
            if ev is not None:
                out.append((str(f), f.name, ev))
        return out, conv
    text = path.read_text(encoding="utf-8", errors="replace")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as e:
            report.skip(str(path), None, f"not a JSON array of events ({e})", "bad_json")
            return [], None
        out = []
        for i, ev in enumerate(data if isinstance(data, list) else []):
            if isinstance(ev, dict):
                out.append((str(path), f"[{i}]", ev))
            else:
                report.skip(str(path), f"[{i}]", "event is not an object")
        return out, None
    out = []
    for no, line in enumerate(text.split("\n"), 1):
        if line.strip():
            ev = _json(line, str(path), no, report)
            if ev is not None:
                out.append((str(path), no, ev))
    return out, None


def _event_index(p: Path) -> int:
    m = _EVENT_FILE.match(p.name)
    return int(m[1]) if m else 0


def _json(text: str, where: str, line: int | None, report: IngestReport) -> dict | None:
    try:
        ev = json.loads(text)
    except ValueError as e:
        report.skip(where, line, f"not JSON ({str(e)[:80]})", "bad_json")
        return None
    if not isinstance(ev, dict):
        report.skip(where, line, "event is not an object")
        return None
    return ev


def _content_text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(c.get("text", "") for c in content if isinstance(c, dict) and c.get("text"))
    return ""


def _workspace(records: list[tuple[str, int | str, dict]], conv: Path | None) -> str:
    if conv is not None and (conv / "base_state.json").is_file():
        try:
            state = json.loads((conv / "base_state.json").read_text())
            wd = (state.get("workspace") or {}).get("working_dir")
            if isinstance(wd, str) and wd.startswith("/"):
                return wd.rstrip("/")
        except ValueError:
            pass
    paths = []
    for _, _, ev in records:
        extras = ev.get("extras") if isinstance(ev.get("extras"), dict) else {}
        wd = (
            (extras.get("metadata") or {}).get("working_dir")
            if isinstance(extras.get("metadata"), dict)
            else None
        )
        if isinstance(wd, str) and wd.startswith("/"):
            return wd.rstrip("/")
        args = ev.get("args") if isinstance(ev.get("args"), dict) else ev.get("action")
        if isinstance(args, dict) and isinstance(args.get("path"), str) and args["path"].startswith("/"):
            paths.append(os.path.dirname(args["path"]))
    if paths:  # no workspace named: the deepest folder holding the files the agent touched most
        top = Counter("/".join(p.split("/")[:3]) for p in paths).most_common(1)[0][0]
        common = os.path.commonpath([p for p in paths if p == top or p.startswith(top + "/")])
        if common != "/":
            return common
    return "/workspace"


# ------------------------------------------------------------------------------------ edits


class _Edits:
    """Pending edit actions, applied, failed or rejected when their outcome arrives."""

    def __init__(self, b: SessionBuilder, log: str):
        self.b, self.log = b, log
        self.pending: dict[str, tuple[str, dict, int | str]] = {}  # call id -> (tool, args, where)

    def propose(self, call_id: str, tool: str, args: dict, where: int | str) -> None:
        self.pending[call_id] = (tool, args, where)

    def _take(self, call_id: str) -> tuple[str, dict, int | str, str] | None:
        """(tool, args, where, repo-relative path) of the proposed edit `call_id`, now answered; None if it is not
        pending or its path is outside the repo."""
        if call_id not in self.pending:
            return None
        tool, args, where = self.pending.pop(call_id)
        rel = self.b.rel(str(args.get("path", "")), where)
        return None if rel is None else (tool, args, where, rel)

    def applied(self, call_id: str, old: str | None, new: str | None, prev_exist: bool | None) -> None:
        if (taken := self._take(call_id)) is None:
            return
        tool, args, where, rel = taken
        old = old if isinstance(old, str) else None
        new = new if isinstance(new, str) else None
        if new is None:  # no contents in the observation: replay the command on what is known
            old, new = self._replay(rel, args)
            if new is None:
                self.b.report.skip(self.log, where, f"edit of {rel}: no contents and no replayable command")
                return
        before = None if prev_exist is False else old
        if before == new:
            return
        self.b.apply_edit(rel, before, new, tool, call_id=call_id)

    def refused(self, call_id: str, status: str, reason: str | None) -> None:
        if (taken := self._take(call_id)) is None:
            return
        tool, args, _, rel = taken
        cur = self.b.files.get(rel)
        old, new = self._replay(rel, args)
        self.b.propose_edit(
            rel,
            cur,
            cur,
            tool,
            status,
            reason=reason,
            call_id=call_id,
            diff=unified_diff(rel, old, new),
            record_base=rel in self.b.files,  # a file never seen: this edit says nothing about its base
        )

    def _replay(self, rel: str, args: dict) -> tuple[str | None, str | None]:
        """(before, after) of an editor command on the file as the conversation knows it."""
        args = {k: v for k, v in args.items() if isinstance(v, str) or k == "insert_line"}
        cmd, cur = args.get("command"), self.b.files.get(rel)
        if cmd == "create" or (
            cmd is None and isinstance(args.get("content"), str) and not args.get("start")
        ):
            return cur, str(args.get("file_text") or args.get("content") or "")
        if cmd == "write":
            return cur, str(args.get("file_text") or args.get("content") or "")
        old_str, new_str = str(args.get("old_str") or ""), str(args.get("new_str") or "")
        if cmd == "str_replace" and old_str:
            if cur is None or old_str not in cur:
                return old_str, new_str  # only the fragment is known
            return cur, cur.replace(old_str, new_str, 1)
        if cmd == "insert" and cur is not None:
            lines = cur.splitlines(keepends=True)
            at = _int(args.get("insert_line"))
            text = new_str if new_str.endswith("\n") else new_str + "\n"
            return cur, "".join(lines[:at]) + text + "".join(lines[at:])
        return cur, None

    def flush(self, rejected: set[str]) -> None:
        for call_id in list(self.pending):
            if call_id in rejected:
                self.b.feedback("reject", call_id=call_id)
                self.refused(call_id, "rejected", "rejected in confirmation mode")
            else:
                self.b.report.counts["openhands/edits_without_outcome"] += 1
                self.pending.pop(call_id)


# ------------------------------------------------------------------------------------ v0 events


class _V0:
    def __init__(self, b: SessionBuilder, opts: ReadOptions):
        self.b, self.opts = b, opts
        self.edits = _Edits(b, b.path)
        self.call_of: dict[str, str] = {}  # event id -> call id
        self.rejected: set[str] = set()

    def event(self, ev: dict, where: int | str) -> None:
        if isinstance(ev.get("action"), str):
            self.action(ev, where)
        elif isinstance(ev.get("observation"), str):
            self.observation(ev, where)
        else:
            self._unknown(where, "no action/observation")

    def _unknown(self, where: int | str, kind: str) -> None:
        self.b.report.unknown(self.b.path, where if isinstance(where, int) else None, kind)

    def action(self, ev: dict, where: int | str) -> None:
        name, args = ev["action"], ev.get("args") if isinstance(ev.get("args"), dict) else {}
        if name in _V0_QUIET:
            return
        if name not in _V0_ACTIONS:
            self._unknown(where, f"action:{name}")
        text = str(args.get("content") or ev.get("message") or "")
        if name == "message":
            if ev.get("source") == "user":
                self.b.user(text)
            else:
                self.b.assistant_text(text)
            return
        if args.get("thought"):
            self.b.assistant_text(str(args["thought"]))
        if name == "think":
            return
        if name == "finish":
            self.b.assistant_text(str(args.get("final_thought") or ev.get("message") or ""))
            return
        meta = ev.get("tool_call_metadata") if isinstance(ev.get("tool_call_metadata"), dict) else {}
        call_id = str(meta.get("tool_call_id") or f"event-{ev.get('id')}")
        self.call_of[str(ev.get("id"))] = call_id
        shown = {k: v for k, v in args.items() if k not in ("thought", "translated_ipython_code")}
        self.b.tool_call(call_id, str(meta.get("function_name") or name), shown)
        if name in ("edit", "write"):
            self.edits.propose(call_id, str(meta.get("function_name") or name), _edit_args(args, name), where)
        state = args.get("confirmation_state") or args.get("is_confirmed")
        if state == "rejected":
            self.rejected.add(call_id)

    def observation(self, ev: dict, where: int | str) -> None:
        name = ev["observation"]
        if name in _V0_QUIET:
            return
        if name not in _V0_OBSERVATIONS:
            self._unknown(where, f"observation:{name}")
            return
        call_id = self.call_of.get(str(ev.get("cause")))
        if call_id is None:  # an error tied to no tool call
            return
        extras = ev.get("extras") if isinstance(ev.get("extras"), dict) else {}
        content = str(ev.get("content") or ev.get("message") or "")
        metadata = extras.get("metadata") if isinstance(extras.get("metadata"), dict) else {}
        exit_code = metadata.get("exit_code", extras.get("exit_code"))
        is_error = (
            name == "error" or (isinstance(exit_code, int) and exit_code != 0) or ev.get("success") is False
        )
        self.b.tool_result(call_id, content, is_error, self.opts.max_output_chars)
        if name == "user_rejected":
            self.b.feedback("reject", text=content or None, call_id=call_id)
            self.edits.refused(call_id, "rejected", content or None)
        elif name == "error":
            self.edits.refused(call_id, "failed", content[:300] or None)
        elif name in ("edit", "write"):
            new = extras.get("new_content")
            self.edits.applied(call_id, extras.get("old_content"), new, extras.get("prev_exist"))


def _int(value: object) -> int:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return 0


def _edit_args(args: dict, name: str) -> dict:
    """An edit action's arguments, with the editor command recovered from older event shapes."""
    out = dict(args)
    if "command" not in out:
        m = re.search(r"'command': '(\w+)'", str(args.get("translated_ipython_code") or ""))
        out["command"] = m[1] if m else ("write" if name == "write" else None)
    return out


# ------------------------------------------------------------------------------------ v1 events


class _V1:
    def __init__(self, b: SessionBuilder, opts: ReadOptions):
        self.b, self.opts = b, opts
        self.edits = _Edits(b, b.path)

    def event(self, ev: dict, where: int | str) -> None:
        kind = str(ev.get("kind"))
        handler = getattr(self, f"_{kind}", None)
        if handler is not None:
            handler(ev, where)
        elif kind not in _V1_QUIET:
            self.b.report.unknown(self.b.path, where if isinstance(where, int) else None, kind)

    def _MessageEvent(self, ev: dict, where: int | str) -> None:
        msg = ev.get("llm_message") if isinstance(ev.get("llm_message"), dict) else {}
        text = _content_text(msg.get("content"))
        if ev.get("source") == "user":
            self.b.user(text)
        elif ev.get("source") == "agent":
            self.b.assistant_text(text)

    def _ActionEvent(self, ev: dict, where: int | str) -> None:
        if ev.get("reasoning_content"):
            self.b.thinking(str(ev["reasoning_content"]))
        self.b.assistant_text(_content_text(ev.get("thought")))
        action = ev.get("action") if isinstance(ev.get("action"), dict) else {}
        call_id, tool = str(ev.get("tool_call_id") or ev.get("id")), str(ev.get("tool_name") or "?")
        self.b.tool_call(call_id, tool, {k: v for k, v in action.items() if k != "kind"})
        is_editor = action.get("kind") in ("FileEditorAction", "StrReplaceEditorAction") or tool in (
            "file_editor",
            "str_replace_editor",
        )
        if is_editor and action.get("command") in _EDIT_COMMANDS:
            self.edits.propose(call_id, tool, action, where)

    def _ObservationEvent(self, ev: dict, where: int | str) -> None:
        obs = ev.get("observation") if isinstance(ev.get("observation"), dict) else {}
        call_id = str(ev.get("tool_call_id"))
        error = bool(obs.get("is_error") or obs.get("error"))
        self.b.tool_result(call_id, _content_text(obs.get("content")), error, self.opts.max_output_chars)
        if error:
            self.edits.refused(call_id, "failed", _content_text(obs.get("content"))[:300] or None)
        else:
            self.edits.applied(call_id, obs.get("old_content"), obs.get("new_content"), obs.get("prev_exist"))

    def _UserRejectObservation(self, ev: dict, where: int | str) -> None:
        call_id, reason = str(ev.get("tool_call_id")), str(ev.get("rejection_reason") or "")
        self.b.tool_result(call_id, f"Action rejected: {reason}", True, self.opts.max_output_chars)
        with_reason = reason and reason != _DEFAULT_REJECTION
        self.b.feedback("reject_with_reason" if with_reason else "reject", reason or None, call_id)
        self.edits.refused(call_id, "rejected", reason or None)

    def _AgentErrorEvent(self, ev: dict, where: int | str) -> None:
        call_id = str(ev.get("tool_call_id"))
        self.b.tool_result(call_id, str(ev.get("error") or ""), True, self.opts.max_output_chars)
        self.edits.refused(call_id, "failed", str(ev.get("error") or "")[:300] or None)

    def _PauseEvent(self, ev: dict, where: int | str) -> None:
        self.b.feedback("interrupt", "paused by the user")


# ------------------------------------------------------------------------------------ reading


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    records, conv = _records(path, report)
    report.counts["records"] += len(records)
    if not records:
        return
    v1 = any("kind" in ev for _, _, ev in records[:50])
    first = json.dumps([ev for _, _, ev in records[:3]], sort_keys=True, default=str)
    b = SessionBuilder(
        "openhands",
        str(conv or path),
        conv.name if conv is not None else f"v0:{hashlib.sha256(first.encode()).hexdigest()[:16]}",
        report,
        version="v1" if v1 else "v0",
        cwd=_workspace(records, conv),
    )
    walker: _V0 | _V1 = _V1(b, opts) if v1 else _V0(b, opts)
    for _, where, ev in records:
        walker.event(ev, where)
    walker.edits.flush(walker.rejected if isinstance(walker, _V0) else set())
    yield from b.finish()
