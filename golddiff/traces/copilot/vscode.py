"""VS Code Copilot Chat sessions -> Episodes (format "copilot_vscode").

Three shapes of one conversation (microsoft/vscode `chatModel.ts`, `ISerializableChatData`):
- `.../Code/User/workspaceStorage/<hash>/chatSessions/<id>.json`: `{version, sessionId, creationDate,
  requesterUsername, responderUsername, initialLocation, requests[]}` (also under
  `globalStorage/emptyWindowChatSessions/`);
- `chatSessions/<id>.jsonl` (VS Code 1.10x+): the same object as a mutation log (`objectMutationLog.ts`):
  a first line `{kind: 0, v: <object>}`, then `{kind: 1, k: path, v}` (set), `{kind: 2, k: path, v: [...],
  i?}` (push, after truncating to `i`), `{kind: 3, k: path}` (delete). A `.json` beside a `.jsonl` of the
  same session is left to the `.jsonl`;
- "Chat: Export Chat..." JSON: `{requesterUsername, responderUsername, initialLocation, requests[]}`.

A request is `{requestId, message {text, parts}, response [parts], result {metadata {toolCallRounds
[{response, toolCalls [{id, name, arguments}]}], toolCallResults {id: {content}}}}, isCanceled,
modelState {value}, editedFileEvents [{uri, eventKind}], timestamp}`. Response parts: markdown `{value}`,
`thinking`, `toolInvocationSerialized {toolId, toolCallId, isConfirmed, resultDetails}`,
`textEditGroup {uri, edits [[{range, text}]]}` and more (`inlineReference`, `codeblockUri`, `undoStop`,
...: counted, not needed).

What becomes of it: one Episode per conversation; each request is a turn. Edits come from the edit tools
of `toolCallRounds` (`copilot.edits`: `replace_string_in_file`, `create_file`, `apply_patch`, ...), else,
for requests that made no such calls, from the `textEditGroup` parts applied to files whose content is
known. The user decides on edits in VS Code with Keep / Undo: the next request's `editedFileEvents` say
which (1 Keep, 2 Undo, 3 the user changed the file by hand); Undone edits are rejected ("reject"
feedback) and leave the files. A cancelled request (`isCanceled`, or `modelState.value` 2) is a "cancel"
feedback and its edits are rejected unless a later Keep keeps them; a tool call the user declined
(`isConfirmed` false or `{type: 0}`) is rejected. The workspace folder comes from `workspace.json` beside
`chatSessions/`, else from what the log says of it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

from golddiff.episodes import Edit, Episode
from golddiff.traces.copilot.edits import EDIT_TOOLS, EditRunner, ops_of
from golddiff.traces.logs.json_log import whole_object
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.file_book import FileBook
from golddiff.traces.session.tools import json_args
from golddiff.traces.session.user_words import UserWords

FORMAT = "copilot_vscode"

_QUIET_PARTS = frozenset(
    {"inlineReference", "codeblockUri", "undoStop", "prepareToolInvocation", "progressMessage", "warning"}
    | {"progressTaskSerialized", "confirmation", "elicitation", "elicitationSerialized", "mcpServersStarting"}
    | {"command", "markdownVuln", "codeCitation", "multiDiffData", "extensions", "pullRequest", "textEdit"}
    | {"notebookEditGroup", "autoModeResolution", "workspaceEdit", "clearToPreviousToolInvocation", "task"}
    | {"reference", "treeData", "progressTask", "questionCarousel", "toolInvocation"}
)
_DECLINED = re.compile(
    r"(user|you) (cancel+ed|denied|rejected|declined|chose not|skipped)|(cancel+ed|denied|rejected|skipped) by the user",
    re.I,
)
_FAILED = re.compile(r"^\s*(error|failed|cannot|could not|unable to|invalid)\b", re.I)
_WORKSPACE = re.compile(r"I am working in a workspace with the following folders:\s*\n- (.+)")
_SHELL_TOOLS = frozenset({"run_in_terminal", "copilot_runInTerminal"})
KEEP, UNDO, USER_MODIFIED = 1, 2, 3


def sniff(path: Path, head: str) -> bool:
    """A Copilot Chat session or export: `requests` beside the requester/responder names, or a mutation
    log whose first line is `{"kind": 0, "v": {...}}` of such an object."""
    s = head.lstrip()
    if re.match(r'\{\s*"kind"\s*:\s*0\s*,\s*"v"\s*:\s*\{', s):
        return bool(re.search(r'"(requests|responderUsername|sessionId)"\s*:', s))
    if not s.startswith("{"):
        return False
    return bool(re.search(r'"requests"\s*:\s*\[', s)) and bool(
        re.search(r'"(requester|responder)Username"\s*:', s)
    )


def is_attached(path: Path) -> bool:
    """A `.json` session with a `.jsonl` mutation log of the same id: the log is the newer record."""
    return path.suffix == ".json" and path.with_suffix(".jsonl").is_file()


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    data = load(path, report)
    if data is None:
        return
    requests = data.get("requests")
    if not isinstance(requests, list):
        report.skip(str(path), None, "no requests list; expected a Copilot Chat session", "bad_record")
        return
    yield from _Session(path, data, report, opts).read(requests)


def load(path: Path, report: IngestReport) -> dict | None:
    """The session object: the JSON file, or the mutation log replayed line by line."""
    text = path.read_text(encoding="utf-8", errors="replace")
    if not re.match(r'\s*\{\s*"kind"\s*:\s*0', text):
        data = whole_object(path, text, report, "a Copilot Chat session {requests, ...}")
        report.counts["records"] += data is not None
        return data
    state: dict | None = None
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        report.counts["records"] += 1
        try:
            entry = json.loads(line)
            kind, key = entry["kind"], entry.get("k", [])
            if kind == 0:
                state = entry["v"]
            elif state is None:
                raise ValueError("a change before the initial state")
            elif kind == 1:
                _set(state, key, entry.get("v"))
            elif kind == 2:
                _push(state, key, entry.get("v"), entry.get("i"))
            elif kind == 3:
                _set(state, key, None, delete=True)
            else:
                report.unknown(str(path), lineno, f"mutation/{kind}")
        except (ValueError, KeyError, TypeError, IndexError, AttributeError) as e:
            report.skip(
                str(path), lineno, f"a mutation that cannot be applied ({type(e).__name__}: {str(e)[:80]})"
            )
    return state if isinstance(state, dict) else None


def _walk(state: object, key: list) -> object:
    for k in key:
        state = state[k]  # type: ignore[index]
    return state


def _set(state: dict, key: list, value: object, delete: bool = False) -> None:
    if not key:
        return
    parent = _walk(state, key[:-1])
    if delete:
        if isinstance(parent, dict):
            parent.pop(key[-1], None)
        return
    if isinstance(parent, list) and key[-1] == len(parent):
        parent.append(value)
    else:
        parent[key[-1]] = value  # type: ignore[index]


def _push(state: dict, key: list, values: object, start: object) -> None:
    parent = _walk(state, key[:-1])
    arr = parent.get(key[-1]) if isinstance(parent, dict) else parent[key[-1]]  # type: ignore[index]
    if not isinstance(arr, list):
        arr = []
    if isinstance(start, int):
        del arr[start:]
    arr.extend(values if isinstance(values, list) else [])
    parent[key[-1]] = arr  # type: ignore[index]


# ------------------------------------------------------------------------------------ helpers


def _fs_path(uri: object) -> str | None:
    """A file path from a serialized URI (`{fsPath, path, scheme}` or a `file://` string)."""
    if isinstance(uri, dict):
        p = uri.get("fsPath") or uri.get("path")
    elif isinstance(uri, str):
        p = unquote(urlparse(uri).path) if uri.startswith("file:") else uri
    else:
        return None
    if not isinstance(p, str) or not p:
        return None
    p = p.replace("\\", "/")
    if re.match(r"^/[A-Za-z]:/", p):
        p = p[1:]
    if re.match(r"^[A-Za-z]:/", p):
        p = p[0].lower() + p[1:]
    return p.rstrip("/") if len(p) > 1 else p


def _result_text(value: object) -> str:
    """The text of a tool result (`{content: [{value}]}`, values plain or prompt-tsx trees)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(_result_text(v) for v in value)
    if isinstance(value, dict):
        if isinstance(value.get("text"), str):
            return value["text"] + ("\n" if value.get("lineBreakBefore") else "")
        for key in ("content", "value", "node", "children"):
            if key in value:
                return _result_text(value[key])
    return ""


def _apply_text_edits(text: str, batches: list) -> str:
    """VS Code TextEdits (1-based line/column ranges), batch after batch, each batch on the text as the
    previous one left it."""
    for batch in batches:
        edits = [e for e in (batch if isinstance(batch, list) else [batch]) if isinstance(e, dict)]
        offsets = [0]
        for ln in text.split("\n"):
            offsets.append(offsets[-1] + len(ln) + 1)
        spans = []
        for e in edits:
            r = e.get("range") or {}
            start = _offset(offsets, len(text), r.get("startLineNumber"), r.get("startColumn"))
            end = _offset(offsets, len(text), r.get("endLineNumber"), r.get("endColumn"))
            spans.append((start, end, str(e.get("text") or "")))
        for start, end, new in sorted(spans, reverse=True):
            text = text[:start] + new + text[end:]
    return text


def _offset(offsets: list[int], size: int, line: object, col: object) -> int:
    """The character offset of a 1-based (line, column) position, clamped to the text."""
    line = max(1, min(line if isinstance(line, int) else 1, len(offsets) - 1))
    return min(offsets[line - 1] + (col if isinstance(col, int) else 1) - 1, size)


def _iso(ms: object) -> str | None:
    if not isinstance(ms, (int, float)):
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def workspace_folder(path: Path, data: dict) -> str | None:
    """The workspace: `workspace.json` beside `chatSessions/`, else a markdown part's `baseUri`, else the
    folder the rendered context names."""
    ws = path.parent.parent / "workspace.json"
    if path.parent.name == "chatSessions" and ws.is_file():
        try:
            folder = _fs_path(json.loads(ws.read_text()).get("folder"))
            if folder:
                return folder
        except (ValueError, AttributeError):
            pass
    for req in data.get("requests") or []:
        for part in req.get("response") or [] if isinstance(req, dict) else []:
            if isinstance(part, dict) and isinstance(part.get("baseUri"), dict):
                base = _fs_path(part["baseUri"])
                if base:
                    return base
        meta = ((req.get("result") or {}).get("metadata") or {}) if isinstance(req, dict) else {}
        m = _WORKSPACE.search(_result_text(meta.get("renderedGlobalContext") or ""))
        if m:
            return _fs_path(m[1].strip())
    edited = [os.path.dirname(p) for p in _edited_paths(data) if p.startswith("/") or p[1:3] == ":/"]
    if edited:  # nothing names the workspace: the deepest folder holding every file edited
        common = os.path.commonpath(edited)
        return common if common not in ("", "/") else None
    return None


def _edited_paths(data: dict) -> list[str]:
    out = []
    for req in data.get("requests") or []:
        if not isinstance(req, dict):
            continue
        for part in req.get("response") or []:
            if isinstance(part, dict) and part.get("kind") == "textEditGroup":
                out.append(_fs_path(part.get("uri")))
        meta = (req.get("result") or {}).get("metadata") or {} if isinstance(req.get("result"), dict) else {}
        for rnd in meta.get("toolCallRounds") or []:
            for call in rnd.get("toolCalls") or [] if isinstance(rnd, dict) else []:
                args = json_args(call.get("arguments")) if isinstance(call, dict) else None
                for op in ops_of(str(call.get("name")), args) or []:
                    out.append(_fs_path(op.path))
    return [p for p in out if p]


# ------------------------------------------------------------------------------------ session


class _Session:
    def __init__(self, path: Path, data: dict, report: IngestReport, opts: ReadOptions):
        self.path, self.log, self.report, self.opts = path, str(path), report, opts
        sid = data.get("sessionId") if isinstance(data.get("sessionId"), str) else None
        if sid is None and path.parent.name == "chatSessions":
            sid = path.stem
        version = data.get("version")
        self.b = SessionBuilder(
            FORMAT,
            self.log,
            sid,
            report,
            version=f"v{version}" if version else None,
            cwd=workspace_folder(path, data),
        )
        self.book, self.words = FileBook(self.b), UserWords(self.b)
        self.runner = EditRunner(self.book, self._rel, report, self.log)
        self.open: dict[str, list[Edit]] = {}  # file -> applied edits the user has not kept or undone yet
        self.cancelled: set[str] = set()  # edit ids of cancelled requests, rejected unless kept

    def read(self, requests: list) -> list[Episode]:
        for i, req in enumerate(requests):
            if not isinstance(req, dict):
                self.report.skip(self.log, f"requests[{i}]", "a request that is not an object")
                continue
            self.report.counts["records"] += 1
            self._decisions(req.get("editedFileEvents"))
            self._request(f"requests[{i}]", req)
        self._decisions([])
        self.book.finish()
        return self.b.finish()

    def _request(self, where: str, req: dict) -> None:
        msg = req.get("message") if isinstance(req.get("message"), dict) else {}
        text = msg.get("text") if isinstance(msg.get("text"), str) else _result_text(msg.get("parts"))
        if text.strip():
            self.words.user(text, _iso(req.get("timestamp")))
        invocations = self._response(
            where, req.get("response") if isinstance(req.get("response"), list) else []
        )
        meta = (
            ((req.get("result") or {}).get("metadata") or {}) if isinstance(req.get("result"), dict) else {}
        )
        edits = self._tool_rounds(where, meta, invocations)
        if edits is None:  # no edit tool calls: the edit groups are the record of the edits
            edits = self._edit_groups(where, req.get("response") or [])
        state = (
            (req.get("modelState") or {}).get("value") if isinstance(req.get("modelState"), dict) else None
        )
        if req.get("isCanceled") is True or state == 2:
            self.words.verdict("cancel", edits=edits)
            self.cancelled.update(e.edit_id for e in edits)
        for e in edits:
            self.open.setdefault(e.path, []).append(e)

    def _response(self, where: str, parts: list) -> list[dict]:
        """Assistant text, thinking and UI tool invocations; returns the edit tools' invocations."""
        invocations, text = [], []
        for part in parts:
            if not isinstance(part, dict):
                continue
            kind = part.get("kind")
            if kind in (None, "markdownContent") and isinstance(part.get("value"), str):
                text.append(part["value"])
                continue
            self.b.assistant_text("".join(text))
            text = []
            if kind == "thinking":
                self.b.thinking(_result_text(part.get("value")))
            elif kind == "toolInvocationSerialized":
                if str(part.get("toolId")) in EDIT_TOOLS:
                    invocations.append(part)
            elif kind == "textEditGroup" or kind in _QUIET_PARTS:
                self.report.counts[f"copilot_vscode/parts/{kind}"] += 1
            else:
                self.report.unknown(self.log, None, f"response part {kind}")
        self.b.assistant_text("".join(text))
        return invocations

    def _tool_rounds(self, where: str, meta: dict, invocations: list[dict]) -> list[Edit] | None:
        rounds = meta.get("toolCallRounds") if isinstance(meta.get("toolCallRounds"), list) else []
        results = meta.get("toolCallResults") if isinstance(meta.get("toolCallResults"), dict) else {}
        made_edits, edits, nth = False, [], 0
        for rnd in rounds:
            if not isinstance(rnd, dict):
                continue
            for call in rnd.get("toolCalls") or []:
                if not isinstance(call, dict):
                    continue
                call_id, name = str(call.get("id")), str(call.get("name") or "?")
                args = json_args(call.get("arguments"))
                self.b.tool_call(call_id, name, args if isinstance(args, (dict, list, str)) else None)
                out = _result_text(results.get(call_id)) if call_id in results else None
                if out is not None:
                    self.b.tool_result(call_id, out, bool(_FAILED.match(out)), self.opts.max_output_chars)
                if name in _SHELL_TOOLS and isinstance(args, dict):
                    self.book.shell(str(args.get("command") or ""))
                ops = ops_of(name, args)
                if ops is None:
                    continue
                made_edits = True
                inv = invocations[nth] if nth < len(invocations) else {}
                nth += 1
                edits += self._outcome(where, name, ops, call_id, out, inv)
        return edits if made_edits else None

    def _outcome(
        self, where: str, name: str, ops: list, call_id: str, out: str | None, inv: dict
    ) -> list[Edit]:
        confirmed = inv.get("isConfirmed")
        declined = confirmed is False or (isinstance(confirmed, dict) and confirmed.get("type") == 0)
        if declined or (out is not None and _DECLINED.search(out[:300])):
            edits = self.runner.refused(name, ops, call_id, "rejected", "the user declined the tool call")
            self.words.verdict("reject", call_id, edits)
            return []
        if out is None:
            self.runner.refused(name, ops, call_id, "failed", "no result was logged")
            return []
        if _FAILED.match(out):
            self.runner.refused(name, ops, call_id, "failed", out.strip()[:300])
            return []
        return self.runner.applied(name, ops, call_id, None, where)

    def _edit_groups(self, where: str, parts: list) -> list[Edit]:
        """Edits streamed as `textEditGroup` parts, applied where the file's content is known (or new)."""
        edits = []
        for part in parts:
            if not isinstance(part, dict) or part.get("kind") != "textEditGroup":
                continue
            path = _fs_path(part.get("uri"))
            rel = self._rel(path, where) if path else None
            if rel is None:
                continue
            batches = [b for b in part.get("edits") or [] if b]
            if not batches:
                continue
            seen = rel in self.book.states.current or rel in self.book.states.reads
            if not self.book.known(rel) and (seen or not _starts_empty(batches)):
                self.report.skip(
                    self.log,
                    where,
                    f"edits of {rel} on content the log never showed; left out",
                    "unknown_base",
                )
                continue
            before = self.book.text(rel) if seen else None
            change = self.book.write(
                rel, _apply_text_edits(before or "", batches), absent=None if before is None else False
            )
            edit = self.book.apply(change, "textEditGroup", None)
            edits += [edit] if edit is not None else []
        return edits

    def _decisions(self, events: object) -> None:
        """Keep / Undo on the files edited so far; with no event (or at the end), cancelled edits go."""
        decided: dict[str, int] = {}
        for ev in events if isinstance(events, list) else []:
            if isinstance(ev, dict):
                path = _fs_path(ev.get("uri"))
                rel = self._quiet_rel(path) if path else None
                if rel is not None and isinstance(ev.get("eventKind"), int):
                    decided[rel] = ev["eventKind"]
        undone: list[Edit] = []
        for rel, edits in list(self.open.items()):
            kind = decided.get(rel)
            if kind == KEEP:
                del self.open[rel]
                continue
            if kind == USER_MODIFIED:
                self.b.warn(f"{rel}: the user changed it by hand after the agent's edits")
                del self.open[rel]
                continue
            gone = edits if kind == UNDO else [e for e in edits if e.edit_id in self.cancelled]
            if gone:
                reason = "the user undid it (Undo)" if kind == UNDO else "the user cancelled the request"
                self.book.revert_edits([e.edit_id for e in gone], reason)
                for e in gone:
                    self.b.settle(e.edit_id, "rejected", reason)
                undone += gone if kind == UNDO else []
            if kind == UNDO or gone:
                gone_ids = {e.edit_id for e in gone}
                self.open[rel] = [e for e in edits if e.edit_id not in gone_ids]
        if undone:
            self.words.verdict("reject", edits=undone)

    def _rel(self, path: str, where: int | str | None) -> str | None:
        return self.b.rel(_fs_path(path) or path, where)

    def _quiet_rel(self, path: str) -> str | None:
        cwd = (self.b.cwd or "").rstrip("/")
        if cwd and path.startswith(cwd + "/"):
            return os.path.normpath(path[len(cwd) + 1 :])
        return None


def _starts_empty(batches: list) -> bool:
    """Whether the first edit only inserts at the very start of the file (how a new file's content arrives)."""
    first = batches[0][0] if isinstance(batches[0], list) and batches[0] else batches[0]
    r = first.get("range") if isinstance(first, dict) else None
    if not isinstance(r, dict):
        return False
    return (r.get("startLineNumber"), r.get("startColumn"), r.get("endLineNumber"), r.get("endColumn")) == (
        1,
        1,
        1,
        1,
    )
