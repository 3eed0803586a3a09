"""Claude Code reader: `~/.claude/projects/<project>/<sessionId>.jsonl` → Episodes.

Reads every record type of Claude Code 1.0.x to 2.1.x (FORMATS.md, "Claude Code"):
- the main line of the `parentUuid` tree; abandoned branches (rewinds, edited prompts) give negatives
  and a `rewind` feedback, compaction replays are skipped (`tree`);
- the lines of one API response (same `message.id`) as one response, each block once;
- every Edit / MultiEdit / Write rebuilt on the known file state and checked against its logged
  `structuredPatch`; rejected, cancelled and failed edits kept as negatives (`edits`);
- the user's rejections (with their words), cancels, interrupts and rejected plans; queued messages,
  compaction summaries, slash commands and other wrappers kept apart from the request
  (`text`); `/clear` starts a new episode;
- subagent transcripts (2.1.x `<sessionId>/subagents/agent-<id>.jsonl`, ≤2.0.x `agent-<8hex>.jsonl`
  beside the session) read where the parent got their result, their edits marked `subagent=<agentId>`.

    from golddiff.traces import claude_code
    from golddiff.traces.session import IngestReport, ReadOptions
    episodes = list(claude_code.read(Path("s.jsonl"), IngestReport(), ReadOptions()))

Usually run through `golddiff ingest ~/.claude/projects -o episodes.jsonl`. Pure Python, CPU only; one
session file (with its subagent files) is held in memory at a time.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.claude_code.edits import Call, EditRecorder, Where
from golddiff.traces.claude_code.patch import EDIT_TOOLS
from golddiff.traces.claude_code.text import (
    CLEAR_COMMANDS,
    Verdict,
    WrapperKind,
    classify_tool_result,
    command_name,
    content_text,
    is_continued_session,
    is_interrupt,
    message_blocks,
    split_wrappers,
    typed_prompt,
)
from golddiff.traces.claude_code.tree import Records, load_records, main_line
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder

FORMAT = "claude_code"

_TREE_TYPES = frozenset({"user", "assistant", "system", "progress", "attachment"})
# recognised and not needed for episodes
_QUIET_TYPES = frozenset(
    {
        "summary",
        "file-history-snapshot",
        "progress",
        "custom-title",
        "ai-title",
        "agent-name",
        "agent-setting",
        "pr-link",
        "tag",
        "last-prompt",
        "permission-mode",
        "mode",
    }
)
_AGENT_FILE = re.compile(r"^agent-[0-9a-f]{8}\.jsonl$")


def sniff(path: Path, head: str) -> bool:
    """True if the first lines are Claude Code records (by their envelope keys, not the file name)."""
    for line in head.splitlines()[:50]:
        try:
            rec = json.loads(line)
        except ValueError:
            continue  # a blank line, or the last line cut by the head
        if isinstance(rec, dict) and _looks_like_claude_code(rec):
            return True
    return False


def _looks_like_claude_code(rec: dict) -> bool:
    t = rec.get("type")
    if not isinstance(t, str):
        return False
    if t in _TREE_TYPES:
        return "sessionId" in rec and ("uuid" in rec or "parentUuid" in rec)
    if t == "queue-operation":
        return "operation" in rec and "sessionId" in rec
    if t == "summary":
        return "leafUuid" in rec
    if t == "file-history-snapshot":
        return "snapshot" in rec and "messageId" in rec
    return False


def is_attached(path: Path) -> bool:
    """A subagent transcript, read as part of its parent session (the folder walker skips it)."""
    name = path.name
    if not (name.startswith("agent-") and name.endswith(".jsonl")):
        return False
    return "subagents" in path.parts[-4:-1] or bool(_AGENT_FILE.match(name))


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    """The episodes of one session file (bad records reported through `report` and skipped)."""
    path = Path(path)
    records = load_records(path, report)
    if not records:
        return
    yield from _Session(path, records, report, opts).episodes()


def _envelope(records: Records) -> dict[str, str | None]:
    """sessionId, version, cwd and gitBranch, each from the first record that has it."""
    out: dict[str, str | None] = dict.fromkeys(("sessionId", "version", "cwd", "gitBranch"))
    for _, rec in records:
        for key in out:
            if out[key] is None and isinstance(rec.get(key), str) and rec[key]:
                out[key] = rec[key]
        if all(out.values()):
            break
    return out


class _Session:
    """One session file read into a SessionBuilder, record by record in file order."""

    def __init__(self, path: Path, records: Records, report: IngestReport, opts: ReadOptions):
        self.path, self.records, self.report, self.opts = path, records, report, opts
        self.own_sidechain = is_attached(path)  # a subagent file read on its own: its records are the session
        env = _envelope(records)
        self.b = SessionBuilder(
            FORMAT,
            str(path),
            env["sessionId"],
            report,
            version=env["version"],
            cwd=env["cwd"],
            branch=env["gitBranch"],
        )
        self.edits = EditRecorder(self.b, report, path)
        self.lines = main_line(records, self.own_sidechain)
        self.subagents = _Subagents(path, env["sessionId"], records, self.own_sidechain)
        self.calls: dict[str, Call] = {}
        self.seen_blocks: dict[str, set[tuple[str, str]]] = {}  # message.id -> blocks already read

    def episodes(self) -> list[Episode]:
        for lineno, rec in self.records:
            if lineno in self.lines.duplicates:
                self.report.counts["duplicate_records"] += 1
                continue
            for agent in self.subagents.due(rec.get("timestamp")):
                self._subagent(agent, Where())
            self._record(lineno, rec)
        for agent in self.subagents.rest():
            self._subagent(agent, Where())
        return self.b.finish()

    # ------------------------------------------------------------------------------ records

    def _record(self, lineno: int, rec: dict) -> None:
        t = rec.get("type")
        if not isinstance(t, str):
            self.report.skip(str(self.path), lineno, "a record without a type", "bad_record")
            return
        if t in ("user", "assistant") and rec.get("isSidechain") and not self.own_sidechain:
            self._agent_record(lineno, rec, Where(subagent=str(rec.get("agentId") or "sidechain")))
            return
        kind, branch = self.lines.of(rec)
        if kind == "replay":
            self.report.counts["replayed_records"] += 1
            return
        where = Where(line=kind, branch=branch)
        if t == "user":
            self._user(lineno, rec, where)
        elif t == "assistant":
            self._assistant(lineno, rec, where)
        elif t == "system":
            self._system(rec, where)
        elif t == "queue-operation":
            self._queued(rec.get("content") if rec.get("operation") == "enqueue" else None)
        elif t == "attachment":
            att = rec.get("attachment")
            if isinstance(att, dict) and att.get("type") == "queued_command" and where.line == "main":
                self._queued(att.get("prompt"))
        elif t not in _QUIET_TYPES:
            self.report.unknown(str(self.path), lineno, t)

    def _agent_record(self, lineno: int, rec: dict, where: Where) -> None:
        """A subagent's record: only its tool calls and their results (its edits) matter here."""
        t = rec.get("type")
        if t == "assistant":
            self._assistant(lineno, rec, where)
        elif t == "user":
            for block in message_blocks(rec.get("message")):
                if block.get("type") == "tool_result":
                    self._tool_result(lineno, rec, block, where)
        elif not isinstance(t, str):
            self.report.skip(str(where.src or self.path), lineno, "a record without a type", "bad_record")
        elif t not in _TREE_TYPES | _QUIET_TYPES | {"queue-operation"}:
            self.report.unknown(str(where.src or self.path), lineno, t)

    def _user(self, lineno: int, rec: dict, where: Where) -> None:
        if not isinstance(rec.get("message"), dict):
            self.report.skip(str(self.path), lineno, "a user record without a message object", "bad_record")
            return
        texts = []
        for block in message_blocks(rec["message"]):
            if block.get("type") == "tool_result":
                self._tool_result(lineno, rec, block, where)
            elif block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
        text = "\n\n".join(texts)
        if text.strip():
            self._user_text(rec, text, where)

    def _user_text(self, rec: dict, text: str, where: Where) -> None:
        """A user message that is not a tool result: a request, or feedback, a command, a note."""
        if where.line == "abandoned":
            if rec.get("uuid") == where.branch:
                self.b.feedback("rewind", typed_prompt(rec) or text)
            return
        if rec.get("isCompactSummary") or is_continued_session(text):
            self.b.note(text, "compact_summary")
        elif is_interrupt(text):
            self.b.feedback("interrupt")
        else:
            words, wrapped = split_wrappers(text)
            self._clear_if_asked(wrapped)
            ts = rec.get("timestamp")
            if words and not rec.get("isMeta"):
                self.b.user(words, "followup", ts if isinstance(ts, str) else None)
            for kind, w in wrapped:
                self.b.note(w, kind)
            if words and rec.get("isMeta"):
                self.b.note(words, "meta")

    def _clear_if_asked(self, wrapped: list[tuple[WrapperKind, str]]) -> None:
        """A /clear (or /new, /reset) command starts a new episode."""
        if any(kind == "command" and command_name(w) in CLEAR_COMMANDS for kind, w in wrapped):
            self._clear()

    def _clear(self) -> None:
        if self.opts.split_on_clear and (self.b.turns or self.b.edits):
            self.b.new_episode()

    def _assistant(self, lineno: int, rec: dict, where: Where) -> None:
        msg = rec.get("message")
        if not isinstance(msg, dict):
            what = "an assistant record without a message object"
            self.report.skip(str(where.src or self.path), lineno, what, "bad_record")
            return
        msg_id = msg.get("id") if isinstance(msg.get("id"), str) else f"{where.at(lineno)}"
        seen = self.seen_blocks.setdefault(msg_id, set())
        visible = where.line == "main" and where.subagent is None
        for block in message_blocks(msg):
            t = block.get("type")
            if t == "tool_use":
                key = ("tool_use", str(block.get("id")))
            elif t in ("text", "thinking") and isinstance(block.get(t), str):
                key = (t, block[t])
            else:
                continue
            if key in seen:
                continue
            seen.add(key)
            if t == "tool_use":
                self._tool_use(lineno, block, where)
            elif visible and t == "text":
                self.b.assistant_text(key[1])
            elif visible:
                self.b.thinking(key[1])

    def _tool_use(self, lineno: int, block: dict, where: Where) -> None:
        call_id, name, inp = block.get("id"), block.get("name"), block.get("input")
        if not isinstance(call_id, str) or not isinstance(name, str):
            what = "a tool_use block without an id or a name"
            self.report.skip(str(where.src or self.path), lineno, what, "bad_record")
            return
        inp = inp if isinstance(inp, dict) else {}
        self.calls[call_id] = Call(name, inp, where)
        if where.line == "main" and where.subagent is None:
            self.b.tool_call(call_id, name, inp)

    def _tool_result(self, lineno: int, rec: dict, block: dict, where: Where) -> None:
        call_id = block.get("tool_use_id")
        if not isinstance(call_id, str):
            what = "a tool_result block without a tool_use_id"
            self.report.skip(str(where.src or self.path), lineno, what, "bad_record")
            return
        text, is_error = content_text(block.get("content")), block.get("is_error") is True
        result = rec.get("toolUseResult")
        self._linked_subagent(rec, result, where)
        if where.line == "main" and where.subagent is None:
            self.b.tool_result(call_id, text, is_error, self.opts.max_output_chars)
        call = self.calls.get(call_id)
        if call is None:
            return  # its call is not in this file (compacted away, or a malformed record)
        verdict = classify_tool_result(text) if is_error or isinstance(result, str) else None
        if call.name in EDIT_TOOLS:
            self.edits.outcome(call, call_id, where, verdict, text, is_error, result, lineno)
        elif call.name == "Read" and not is_error and where.line == "main":
            self.edits.saw_read(call.input, result)
        if verdict is not None and where.line == "main":
            self._feedback(call, call_id, verdict)

    def _feedback(self, call: Call, call_id: str, verdict: Verdict) -> None:
        """The user's verdict on a tool call; a question's answer or a plan's rejection is no edit rejection."""
        if call.name == "AskUserQuestion":
            if verdict.reason:
                self.b.note(verdict.reason, "feedback")
            return
        kind = verdict.kind
        if call.name == "ExitPlanMode" and kind in ("reject", "reject_with_reason"):
            kind = "plan_rejected"
        self.b.feedback(kind, verdict.reason, call_id)

    def _system(self, rec: dict, where: Where) -> None:
        if where.line != "main":
            return
        subtype, content = rec.get("subtype"), rec.get("content")
        if subtype == "compact_boundary":
            meta = rec.get("compactMetadata")
            trigger = meta.get("trigger") if isinstance(meta, dict) else None
            self.report.counts["compactions"] += 1
            self.b.note(f"conversation compacted (trigger: {trigger or 'unknown'})", "meta")
        elif subtype == "local_command" and isinstance(content, str):
            _, wrapped = split_wrappers(content)
            self._clear_if_asked(wrapped)
            for kind, w in wrapped:
                self.b.note(w, kind)

    def _queued(self, content: object) -> None:
        text = content_text(content).strip()
        if text:
            self.b.note(text, "queued")

    # ---------------------------------------------------------------------------- subagents

    def _linked_subagent(self, rec: dict, result: object, where: Where) -> None:
        """A Task/Agent result names the subagent that did the work: read its edits first."""
        agent = result.get("agentId") if isinstance(result, dict) else None
        if agent is None and not rec.get("isSidechain"):
            agent = rec.get("agentId")
        if isinstance(agent, str):
            self._subagent(agent, where)

    def _subagent(self, agent: str, where: Where) -> None:
        path = self.subagents.take(agent)
        if path is None:
            return
        self.report.counts["subagent_files"] += 1
        sub = Where(line=where.line, branch=where.branch, subagent=agent, src=path)
        for lineno, rec in load_records(path, self.report) or []:
            self._agent_record(lineno, rec, sub)


class _Subagents:
    """A session's subagent transcripts by agentId, and when the unlinked ones are read (by time)."""

    def __init__(self, path: Path, session_id: str | None, records: Records, own_sidechain: bool):
        self.files = {} if own_sidechain else subagent_files(path, session_id)
        linked = set()
        for _, rec in records:
            result = rec.get("toolUseResult")
            if isinstance(result, dict) and isinstance(result.get("agentId"), str):
                linked.add(result["agentId"])
            elif not rec.get("isSidechain") and isinstance(rec.get("agentId"), str):
                linked.add(rec["agentId"])
        unlinked = [(_first_timestamp(p), a) for a, p in self.files.items() if a not in linked]
        self.unlinked = sorted((ts, a) for ts, a in unlinked if ts)  # the rest are read at the end

    def take(self, agent: str) -> Path | None:
        return self.files.pop(agent, None)

    def due(self, timestamp: object) -> list[str]:
        """Unlinked subagents that started before this timestamp."""
        if not self.unlinked or not isinstance(timestamp, str):
            return []
        n = 0
        while n < len(self.unlinked) and self.unlinked[n][0] < timestamp:
            n += 1
        due, self.unlinked = [a for _, a in self.unlinked[:n]], self.unlinked[n:]
        return due

    def rest(self) -> list[str]:
        return sorted(self.files)


def subagent_files(path: Path, session_id: str | None) -> dict[str, Path]:
    """agentId -> transcript: `<stem>/subagents/**/agent-<id>.jsonl`, or `agent-<8hex>.jsonl` beside it."""
    found: dict[str, Path] = {}
    folder = path.parent / path.stem / "subagents"
    if folder.is_dir():
        for f in sorted(folder.rglob("agent-*.jsonl")):
            found.setdefault(f.stem[len("agent-") :], f)
    try:
        stamp = path.parent.stat().st_mtime_ns
    except OSError:
        return found
    for sid in {session_id, path.stem} - {None}:
        for f in _agents_beside(str(path.parent), stamp).get(str(sid), ()):
            found.setdefault(f.stem[len("agent-") :], f)
    return found


@functools.lru_cache(maxsize=8)
def _agents_beside(folder: str, mtime_ns: int) -> dict[str, list[Path]]:
    """sessionId -> the ≤2.0.x subagent files in a project folder (read once per folder state)."""
    out: dict[str, list[Path]] = {}
    for f in sorted(Path(folder).glob("agent-*.jsonl")):
        if _AGENT_FILE.match(f.name):
            sid = _first_field(f, "sessionId")
            if sid:
                out.setdefault(sid, []).append(f)
    return out


def _first_field(path: Path, key: str) -> str | None:
    """`key` of the first record of a file that has it (among its first 20 lines)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for _, line in zip(range(20), f):
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict) and isinstance(rec.get(key), str):
                    return rec[key]
    except OSError:
        return None
    return None


def _first_timestamp(path: Path) -> str | None:
    return _first_field(path, "timestamp")
