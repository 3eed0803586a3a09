"""Gemini CLI chats: `~/.gemini/tmp/<project>/chats/session-<date>-<id>.json(l)` -> Episodes.

Two layouts (google-gemini/gemini-cli `packages/core/src/services/chatRecordingService.ts`):
- `session-*.json` (until early 2026): one object `{sessionId, projectHash, startTime, lastUpdated,
  messages[]}`, rewritten whole after every message;
- `session-*.jsonl` (since): a header line `{sessionId, projectHash, startTime, kind, ...}`, then one line
  per message write (a message is written again, whole, each time it changes: the last version counts,
  at the place it first appeared), `{"$set": {...}}` metadata updates (`$set.messages` re-syncs the model's
  history after a compression or a rollback), and `{"$rewindTo": id}` when the user rewound the
  conversation to before message `id`. A resumed `.json` session continues in `<name>.jsonl`, which holds
  it all: the `.json` is then left to it. Subagents write `chats/<parent id>/<id>.jsonl` (`kind:
  "subagent"`), read as sessions of their own, their edits marked with the subagent's id.

A message is `{id, timestamp, type: user|gemini|info|error|warning, content}` with `content` a string or
Gemini parts; a `gemini` message carries `thoughts[]`, `toolCalls[] {id, name, args, result, status,
resultDisplay}`. What becomes of it:
- one Episode per session; user messages are its turns (the injected ones: session/hook/IDE context,
  "System: Please continue.", tool-response echoes are notes or skipped);
- `write_file {file_path, content}` and `replace {file_path, old_string, new_string}` are edits. A
  successful one logs the whole file before and after (`resultDisplay.originalContent/newContent`): the
  base is "logged"; without them the arguments are replayed on the file as known;
- `status: "error"` fails the edit; `status: "cancelled"` rejects it: "[Operation Cancelled] Reason: User
  denied execution." is "reject", "User cancelled the operation." is "cancel"; the user's next message
  gives their words. An info message "Request cancelled." is an interrupt;
- rewound messages are an abandoned branch: their edits become `reverted` negatives off the main line,
  and a "rewind" feedback marks the place;
- the project root is not logged, only its SHA-256 (`projectHash`): it is taken from the absolute paths
  the tools report, checked against the hash.

    from golddiff.traces import gemini
    episodes = list(gemini.read(Path("session-2026-04-23T12-52-0ab84937.jsonl"), IngestReport(), ReadOptions()))

Pure Python, CPU only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from golddiff.diffs.core import PatchError
from golddiff.episodes import Edit, Episode
from golddiff.traces.logs.json_log import first_record, whole_object
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.file_book import FileBook
from golddiff.traces.session.tools import quiet_rel, tool_path
from golddiff.traces.session.user_words import UserWords

FORMAT = "gemini_cli"

EDIT_TOOLS = frozenset({"write_file", "replace", "edit", "smart_edit"})
_CWD_NOTE = re.compile(r"\[current working directory (.+?)\]")
_CANCELLED = "[Operation Cancelled] Reason:"
_SCAFFOLD = (
    "<session_context>",
    "<hook_context>",
    "Here is the user's editor context",
    "System: Please continue.",
)
_TRUNCATED = ("IMPORTANT: The file content has been truncated", "<tool_output_masked>")
_MESSAGE_TYPES = frozenset({"user", "gemini", "info", "error", "warning"})
_DONE = frozenset({"success", "error", "cancelled"})


def sniff(path: Path, head: str) -> bool:
    """A Gemini CLI chat: an object (or a first line) with `sessionId` and `projectHash` at its top."""
    rec = first_record(head)
    if rec is not None:
        return isinstance(rec.get("sessionId"), str) and isinstance(rec.get("projectHash"), str)
    top = head.lstrip()[:2000]  # one object, pretty-printed or longer than the head
    return top.startswith("{") and all(
        re.search(rf'"{k}"\s*:\s*"', top) for k in ("sessionId", "projectHash")
    )


def is_attached(path: Path) -> bool:
    """A `.json` chat that was resumed: its `.jsonl` continuation holds all of it."""
    return path.suffix == ".json" and Path(str(path) + "l").is_file()


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    chat = _load(path, report)
    if chat is None:
        return
    yield from _Session(path, chat, report, opts).episodes()


# ------------------------------------------------------------------------------------- loading


@dataclass
class _Item:
    """One message as it was last written, and whether a rewind took it back."""

    where: int | str
    msg: dict
    abandoned: bool = False


@dataclass
class _Chat:
    meta: dict
    items: list[_Item]
    rewrites: int = 0  # `$set.messages` history re-syncs


def _load(path: Path, report: IngestReport) -> _Chat | None:
    text = path.read_text(encoding="utf-8", errors="replace")
    one = first_record(text)
    if one is not None and "messages" not in one and "\n" in text.strip():
        return _load_jsonl(path, text, report)
    data = whole_object(path, text, report, "a Gemini CLI chat object {sessionId, projectHash, messages}")
    if data is None:
        return None
    msgs = data.get("messages") if isinstance(data.get("messages"), list) else []
    report.counts["records"] += 1 + len(msgs)
    items = []
    for i, m in enumerate(msgs):
        if isinstance(m, dict):
            items.append(_Item(f"messages[{i}]", m))
        else:
            report.skip(str(path), f"messages[{i}]", "a message that is not an object")
    return _Chat({k: v for k, v in data.items() if k != "messages"}, items)


def _load_jsonl(path: Path, text: str, report: IngestReport) -> _Chat:
    meta: dict = {}
    items: list[_Item] = []
    live: dict[str, _Item] = {}
    synced: list | None = None
    rewrites = 0
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        report.counts["records"] += 1
        try:
            rec = json.loads(line)
        except ValueError as e:
            report.skip(str(path), lineno, f"not JSON ({str(e)[:80]}); expected one chat record per line")
            continue
        if not isinstance(rec, dict):
            report.skip(str(path), lineno, "a record that is not an object")
        elif isinstance(rec.get("$rewindTo"), str):
            ids = list(live)
            cut = ids.index(rec["$rewindTo"]) if rec["$rewindTo"] in live else 0
            for mid in ids[cut:]:
                live.pop(mid).abandoned = True
        elif isinstance(rec.get("id"), str):
            if rec["id"] in live:
                live[rec["id"]].msg = rec
            else:
                live[rec["id"]] = _Item(lineno, rec)
                items.append(live[rec["id"]])
        elif isinstance(rec.get("$set"), dict):
            if isinstance(rec["$set"].get("messages"), list):
                synced, rewrites = rec["$set"]["messages"], rewrites + 1
            meta.update({k: v for k, v in rec["$set"].items() if k != "messages"})
        elif isinstance(rec.get("sessionId"), str):
            meta.update(rec)
        else:
            report.unknown(str(path), lineno, "record without id, $set, $rewindTo or sessionId")
    if not items and synced:  # only a history sync (a migrated session): its messages are the chat
        items = [_Item(f"$set.messages[{i}]", m) for i, m in enumerate(synced) if isinstance(m, dict)]
    return _Chat(meta, items, rewrites)


# ------------------------------------------------------------------------------------ the session


def _text(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        content = [content]
    if isinstance(content, list):
        return "".join(
            str(p["text"]) for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _has_response(content: object) -> bool:
    parts = content if isinstance(content, list) else [content]
    return any(isinstance(p, dict) and "functionResponse" in p for p in parts)


def _result_text(result: object) -> tuple[str, bool]:
    """(text, is an error) of a tool call's `result` (function-response parts, or a string)."""
    if isinstance(result, str):
        return result, False
    parts = result if isinstance(result, list) else [result]
    out, err = [], False
    for p in parts:
        if not isinstance(p, dict):
            continue
        resp = (
            p.get("functionResponse", {}).get("response")
            if isinstance(p.get("functionResponse"), dict)
            else None
        )
        if isinstance(resp, dict):
            if "error" in resp:
                out.append(str(resp["error"]))
                err = True
            elif "output" in resp:
                out.append(resp["output"] if isinstance(resp["output"], str) else json.dumps(resp["output"]))
            else:
                out.append(json.dumps(resp, ensure_ascii=False))
        elif isinstance(p.get("text"), str):
            out.append(p["text"])
    return "\n".join(out), err


def project_root(meta: dict, items: list[_Item]) -> str | None:
    """The project root: the directory the tools name, preferring one whose SHA-256 is `projectHash`."""
    candidates: Counter = Counter()
    for d in meta.get("directories") or []:
        if isinstance(d, str):
            candidates[d.rstrip("/\\")] += 1
    absolute = []
    for item in items:
        for call in item.msg.get("toolCalls") or []:
            if not isinstance(call, dict):
                continue
            args = call.get("args") if isinstance(call.get("args"), dict) else {}
            shown = call.get("resultDisplay")
            full = shown.get("filePath") if isinstance(shown, dict) else None
            given = args.get("file_path")
            if isinstance(full, str) and isinstance(given, str) and not os.path.isabs(given):
                norm = given.replace("\\", "/").lstrip("./")
                if full.replace("\\", "/").endswith("/" + norm):
                    candidates[full[: len(full) - len(norm) - 1]] += 1
            for path in (full, given):
                if isinstance(path, str) and (path.startswith("/") or path[1:3] == ":\\"):
                    absolute.append(path)
            m = _CWD_NOTE.search(str(call.get("description") or ""))
            if m:
                candidates[m[1].rstrip("/\\")] += 1
    want = meta.get("projectHash")
    for cand, _ in candidates.most_common():
        if hashlib.sha256(cand.encode()).hexdigest() == want:
            return cand
    if candidates:
        return candidates.most_common(1)[0][0]
    if absolute:
        common = os.path.commonpath([os.path.dirname(p) for p in absolute])
        return common if common not in ("", "/") else None
    return None


class _Session:
    """One chat read into a SessionBuilder, message by message."""

    def __init__(self, path: Path, chat: _Chat, report: IngestReport, opts: ReadOptions):
        self.path, self.log, self.chat, self.report, self.opts = path, str(path), chat, report, opts
        meta = chat.meta
        self.root = project_root(meta, chat.items)
        sid = meta.get("sessionId") if isinstance(meta.get("sessionId"), str) else None
        self.subagent = sid if meta.get("kind") == "subagent" else None
        self.b = SessionBuilder(FORMAT, self.log, sid, report, version=None, cwd=self.root)
        self.book, self.words = FileBook(self.b), UserWords(self.b)

    def episodes(self) -> list[Episode]:
        in_rewound = False
        for item in self.chat.items:
            if in_rewound and not item.abandoned:
                self.words.verdict("rewind", text="the user rewound the conversation to an earlier message")
            in_rewound = item.abandoned
            self._message(item)
        if in_rewound:
            self.words.verdict("rewind", text="the user rewound the conversation to an earlier message")
        if self.chat.rewrites:
            self.b.note(
                f"the model's history was re-synced {self.chat.rewrites} time(s) (compression)", "meta"
            )
        self.book.finish()
        return self.b.finish()

    def _message(self, item: _Item) -> None:
        m = item.msg
        t = m.get("type")
        if t == "user":
            self._user(m, item.abandoned)
        elif t == "gemini":
            for th in m.get("thoughts") or []:
                if isinstance(th, dict):
                    self.b.thinking(f"{th.get('subject') or ''}: {th.get('description') or ''}".strip(": "))
            self.b.assistant_text(_text(m.get("content")))
            for call in m.get("toolCalls") or []:
                if isinstance(call, dict):
                    self._call(item, call)
                else:
                    self.report.skip(self.log, item.where, "a tool call that is not an object")
        elif t == "info":
            stopped = _text(m.get("content")).strip() == "Request cancelled."
            if stopped and not any(self.words.has_verdict(k) for k in ("interrupt", "cancel", "reject")):
                self.words.verdict("interrupt")
            self.report.counts["gemini/notices"] += 1
        elif t in ("error", "warning"):
            self.b.note(_text(m.get("content"))[:500], "meta")
        else:
            self.report.unknown(self.log, item.where if isinstance(item.where, int) else None, f"message/{t}")

    def _user(self, m: dict, abandoned: bool) -> None:
        shown, sent = _text(m.get("displayContent")), _text(m.get("content"))
        text = shown if shown.strip() else sent
        if shown.lstrip().startswith("/") and sent.strip() and sent.strip() != shown.strip():
            self.b.note(shown.strip(), "command")  # a slash command: the prompt it expands to is the request
            text = sent
        if not text.strip():
            if _has_response(m.get("content")):
                self.report.counts["gemini/tool_response_echoes"] += 1
            return
        if text.lstrip().startswith(_SCAFFOLD):
            self.b.note(text[:2000], "meta")
            return
        if abandoned:
            self.b.note(f"(rewound) {text}", "meta")
            return
        self.words.user(text, m.get("timestamp") if isinstance(m.get("timestamp"), str) else None)

    # ------------------------------------------------------------------------------------ tools

    def _call(self, item: _Item, call: dict) -> None:
        call_id, name = str(call.get("id")), str(call.get("name") or "?")
        args = call.get("args") if isinstance(call.get("args"), dict) else {}
        status = str(call.get("status") or "")
        self.b.tool_call(call_id, name, args)
        text, err = _result_text(call.get("result"))
        self.b.tool_result(call_id, text, err or status in ("error", "cancelled"), self.opts.max_output_chars)
        sub = str(call["agentId"]) if isinstance(call.get("agentId"), str) else self.subagent
        if name in EDIT_TOOLS:
            self._edit(item, call, name, args, status, text, sub)
        elif name == "run_shell_command":
            self.book.shell(str(args.get("command") or ""))
        elif name == "read_file" and status == "success" and not item.abandoned:
            self._read(args, text)

    def _read(self, args: dict, text: str) -> None:
        rel = self._quiet_rel(args.get("file_path") or args.get("absolute_path"))
        if rel is None or any(args.get(k) is not None for k in ("offset", "limit", "start_line", "end_line")):
            return
        if any(marker in text for marker in _TRUNCATED):
            return
        self.book.learn(rel, text)

    def _edit(
        self, item: _Item, call: dict, name: str, args: dict, status: str, text: str, sub: str | None
    ) -> None:
        shown = call.get("resultDisplay") if isinstance(call.get("resultDisplay"), dict) else {}
        full = shown.get("filePath") if isinstance(shown.get("filePath"), str) else None
        where = item.where if isinstance(item.where, int) else None
        given = args.get("file_path") or args.get("absolute_path")
        if not isinstance(given, str) and full is None:
            self.report.skip(
                self.log,
                item.where,
                f"{name} call {call.get('id')} has no file_path; edit left out",
                "bad_tool_input",
            )
            return
        if self.root is None:
            self.report.warn_once(
                "gemini_no_root",
                f"{self.log}: the project root is not logged and no tool named it; paths kept as given",
            )
        rel = self.b.rel(full or self._abs(str(given)), where)
        if rel is None:
            return
        call_id = str(call.get("id"))
        if status == "success":
            self._applied(item, rel, name, args, shown, call_id, sub)
        elif status == "cancelled":
            reason = (
                text.split(_CANCELLED, 1)[1].strip() if _CANCELLED in text else (text.strip() or "cancelled")
            )
            kind = "cancel" if "cancelled the operation" in reason.lower() else "reject"
            edits = self._refused(
                rel, name, args, call_id, "rejected", f"the user {kind}ed it: {reason}", sub
            )
            if not item.abandoned:
                self.words.verdict(kind, call_id, edits)
        elif status == "error":
            self._refused(
                rel, name, args, call_id, "failed", text.strip()[:300] or "the tool reported an error", sub
            )
        else:
            self._refused(
                rel,
                name,
                args,
                call_id,
                "failed",
                f"no result was logged (status {status or 'missing'})",
                sub,
            )

    def _applied(
        self, item: _Item, rel: str, name: str, args: dict, shown: dict, call_id: str, sub: str | None
    ) -> None:
        after = shown.get("newContent")
        if isinstance(after, str):
            before = shown.get("originalContent")
            before = None if shown.get("isNewFile") or not isinstance(before, str) else before
            if item.abandoned:
                change = self.book.unrecorded(rel, before, after)
                why = "abandoned: the user rewound the conversation to before this edit"
                self.book.propose(change, name, "reverted", why, call_id, sub, on_main_line=False)
                return
            was_known = self.book.known(rel)
            self.book.apply(self.book.logged(rel, before, after), name, call_id, sub, revealed=not was_known)
            return
        try:
            change = self._replay(rel, name, args, "scratch" if item.abandoned else "apply")
        except PatchError as e:
            self.report.skip(
                self.log, item.where, f"{name} of {rel}: {e}; the edit is left out", "edit_not_placed"
            )
            return
        if item.abandoned:
            why = "abandoned: the user rewound the conversation to before this edit"
            self.book.propose(change, name, "reverted", why, call_id, sub, on_main_line=False)
        else:
            self.book.apply(change, name, call_id, sub)

    def _replay(self, rel: str, name: str, args: dict, mode: str):
        if name == "write_file":
            return self.book.write(rel, str(args.get("content") or ""), absent=None, mode=mode)
        old, new = args.get("old_string"), args.get("new_string")
        if not isinstance(old, str) or not isinstance(new, str):
            raise PatchError("the call has no old_string/new_string")
        if old == "" and not self.book.known(rel):
            return self.book.write(rel, new, absent=True, mode=mode)
        many = args.get("allow_multiple") is True
        count = args.get("expected_replacements")
        return self.book.replace(
            rel, old, new, None if many else (count if isinstance(count, int) else 1), mode
        )

    def _refused(
        self, rel: str, name: str, args: dict, call_id: str, status: str, reason: str, sub: str | None
    ) -> list[Edit | None]:
        try:
            change = self._replay(rel, name, args, "scratch")
        except PatchError:
            old, new = args.get("old_string"), args.get("new_string")
            if not isinstance(old, str) or not isinstance(new, str):
                return []
            return [self.book.propose_fragment(rel, old, new, name, status, reason, call_id, sub)]
        return [self.book.propose(change, name, status, reason, call_id, sub)]

    # -------------------------------------------------------------------------------------- paths

    def _abs(self, path: str) -> str:
        return tool_path(path, None, self.root or "")

    def _quiet_rel(self, path: object) -> str | None:
        return quiet_rel(self._abs(path), self.root) if isinstance(path, str) and path else None
