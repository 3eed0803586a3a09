"""Writers of GitHub Copilot sessions: Copilot CLI events.jsonl and legacy timeline, VS Code Copilot Chat."""

from __future__ import annotations

import json
from pathlib import Path

from agent_logs.common import split_diff, view_diff

# ----------------------------------------------------------------------------- Copilot CLI


class CopilotEvents:
    """One Copilot CLI session as `events.jsonl` (1.x), events chained by parentId."""

    def __init__(self, cwd: str = "/work/app", session: str = "4ea18a78-3f3c-4f67-a61e-21fab96427be"):
        self.cwd, self.session = cwd, session
        self.files: dict[str, str | None] = {}
        self.events: list[dict] = []
        self.n = 0
        self.start()

    def _event(self, t: str, data: dict) -> dict:
        self.n += 1
        ev = {
            "type": t,
            "data": data,
            "id": f"ev-{self.n:04d}",
            "timestamp": f"2026-10-09T13:{self.n // 60:02d}:{self.n % 60:02d}.000Z",
            "parentId": self.events[-1]["id"] if self.events else None,
        }
        self.events.append(ev)
        return ev

    def start(self) -> None:
        self._event(
            "session.start",
            {
                "sessionId": self.session,
                "version": 1,
                "producer": "copilot-agent",
                "copilotVersion": "1.0.95-2",
                "startTime": "2026-10-09T13:51:58.059Z",
                "context": {"cwd": self.cwd},
            },
        )

    def resume(self) -> None:
        self._event("session.shutdown", {})
        self._event("session.resume", {"context": {"cwd": self.cwd}})

    def user(self, text: str, source: str = "") -> None:
        data = {"content": text, "transformedContent": f"<current_datetime>x</current_datetime>\n\n{text}"}
        if source:
            data["source"] = source
        self._event("user.message", data)
        self._event("assistant.turn_start", {"turnId": str(self.n)})

    def tool(
        self,
        name: str,
        args: object,
        result: str = "",
        detail: str | None = None,
        ok: bool = True,
        permission: str | None = None,
        complete: bool = True,
        text: str = "",
        error: str = "failed",
    ) -> str:
        call_id = f"toolu_{self.n:04d}"
        req = {"toolCallId": call_id, "name": name, "arguments": args, "type": "function"}
        self._event(
            "assistant.message", {"messageId": f"msg-{self.n}", "content": text, "toolRequests": [req]}
        )
        self._event("tool.execution_start", {"toolCallId": call_id, "toolName": name, "arguments": args})
        if permission is not None:
            self._event(
                "permission.requested",
                {"requestId": f"r{self.n}", "permissionRequest": {"kind": "write", "toolCallId": call_id}},
            )
            self._event(
                "permission.completed",
                {"requestId": f"r{self.n}", "toolCallId": call_id, "result": {"kind": permission}},
            )
        if complete:
            data: dict = {"toolCallId": call_id, "success": ok}
            if ok:
                data["result"] = {
                    "content": result,
                    **({"detailedContent": detail} if detail is not None else {}),
                }
            else:
                data["error"] = {"message": result, "code": error}
            self._event("tool.execution_complete", data)
        return call_id

    def view(self, rel: str) -> str:
        text = self.files[rel] or ""
        return self.tool("view", {"path": f"{self.cwd}/{rel}"}, text, view_diff(f"{self.cwd}/{rel}", text))

    def create(self, rel: str, content: str, **kw) -> str:
        if (
            kw.get("ok", True)
            and kw.get("complete", True)
            and not str(kw.get("permission", "")).startswith("denied")
        ):
            self.files[rel] = content
        path = f"{self.cwd}/{rel}"
        return self.tool(
            "create",
            {"path": path, "file_text": content},
            f"Created file {path}",
            split_diff(path, None, content),
            **kw,
        )

    def edit(self, rel: str, old: str, new: str, **kw) -> str:
        path, before = f"{self.cwd}/{rel}", self.files.get(rel) or ""
        after = before.replace(old, new, 1)
        applied = (
            kw.get("ok", True)
            and kw.get("complete", True)
            and not str(kw.get("permission", "")).startswith("denied")
        )
        if applied:
            self.files[rel] = after
        if not applied and "result" not in kw:
            kw["result"] = "The user rejected this tool call."
        return self.tool(
            "edit",
            {"path": path, "old_str": old, "new_str": new},
            kw.pop("result", f"File {path} updated with changes."),
            split_diff(path, before, after),
            **kw,
        )

    def say(self, text: str) -> None:
        self._event("assistant.message", {"messageId": f"msg-{self.n}", "content": text, "toolRequests": []})
        self._event("assistant.turn_end", {"turnId": str(self.n)})

    def abort(self) -> None:
        self._event("abort", {"reason": "user_initiated"})

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in self.events))
        return path


class CopilotLegacy:
    """One Copilot CLI 0.0.3xx session as `history-session-state/session_<id>.json` (a timeline)."""

    def __init__(self, cwd: str = "/work/app", session: str = "0b2a81da-02cf-4cbb-ae14-07c597b84f4e"):
        self.cwd, self.session = cwd, session
        self.files: dict[str, str | None] = {}
        self.timeline: list[dict] = [
            {"id": "i0", "timestamp": "2025-10-11T12:54:53.532Z", "type": "info", "text": "Logged in"}
        ]

    def _entry(self, t: str, **kw) -> None:
        self.timeline.append(
            {"id": f"t{len(self.timeline)}", "timestamp": "2025-10-11T12:55:00.000Z", "type": t, **kw}
        )

    def user(self, text: str) -> None:
        self._entry("user", text=text)

    def copilot(self, text: str) -> None:
        self._entry("copilot", text=text)

    def tool(self, name: str, args: dict, kind: str, log: str) -> None:
        self._entry(
            "tool_call_completed",
            callId=f"toolu_{len(self.timeline)}",
            name=name,
            toolTitle=name,
            intentionSummary=None,
            arguments=args,
            result={"type": kind, "log": log},
        )

    def view(self, rel: str, view_range: list[int] | None = None) -> None:
        args = {
            "command": "view",
            "path": f"{self.cwd}/{rel}",
            **({"view_range": view_range} if view_range else {}),
        }
        text = self.files[rel] or ""
        if view_range:
            text = "\n".join(text.split("\n")[view_range[0] - 1 : view_range[1]])
        self.tool("str_replace_editor", args, "success", view_diff(f"{self.cwd}/{rel}", text))

    def str_replace(self, rel: str, old: str, new: str, kind: str = "success") -> None:
        path, before = f"{self.cwd}/{rel}", self.files.get(rel) or ""
        after = before.replace(old, new, 1)
        if kind == "success":
            self.files[rel] = after
        log = split_diff(path, before, after) if kind == "success" else "The user rejected this tool call."
        self.tool(
            "str_replace_editor",
            {"command": "str_replace", "path": path, "old_str": old, "new_str": new},
            kind,
            log,
        )

    def create(self, rel: str, content: str) -> None:
        path = f"{self.cwd}/{rel}"
        self.files[rel] = content
        self.tool(
            "str_replace_editor",
            {"command": "create", "path": path, "file_text": content},
            "success",
            split_diff(path, None, content),
        )

    def bash(self, command: str, output: str = "") -> None:
        self.tool(
            "bash",
            {"sessionId": "main", "command": command, "async": False},
            "success",
            output + "\n<exited with exit code 0>",
        )

    def write(self, path: Path) -> Path:
        data = {
            "sessionId": self.session,
            "startTime": "2025-10-11T12:54:52.206Z",
            "chatMessages": [],
            "timeline": self.timeline,
        }
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2))
        return path


# -------------------------------------------------------------------------- VS Code Copilot Chat


def _uri(path: str) -> dict:
    return {"$mid": 1, "fsPath": path, "external": f"file://{path}", "path": path, "scheme": "file"}


class VscodeChat:
    """One Copilot Chat conversation: `write_json` (chatSessions/<id>.json), `write_jsonl` (the mutation log
    of it) or `write_export` ("Export Chat")."""

    def __init__(self, folder: str = "/work/app", session: str = "4d94cc58-21b2-4fa8-a208-72d86a8990ef"):
        self.folder, self.session = folder, session
        self.files: dict[str, str | None] = {}
        self.requests: list[dict] = []

    def request(self, text: str, events: list[tuple[str, int]] = (), cancelled: bool = False) -> dict:
        n = len(self.requests)
        req = {
            "requestId": f"request_{n}",
            "message": {"text": text, "parts": [{"kind": "text", "text": text}]},
            "variableData": {"variables": []},
            "response": [],
            "responseId": f"response_{n}",
            "result": {
                "timings": {"totalElapsed": 1000},
                "metadata": {"toolCallRounds": [], "toolCallResults": {}},
            },
            "followups": [],
            "isCanceled": cancelled,
            "timestamp": 1759353161760 + 1000 * n,
            "modelId": "copilot/claude-sonnet-4",
            "modelState": {"value": 2 if cancelled else 1},
        }
        if events:
            req["editedFileEvents"] = [
                {"uri": _uri(f"{self.folder}/{rel}"), "eventKind": kind} for rel, kind in events
            ]
        self.requests.append(req)
        return req

    def say(self, text: str) -> None:
        self.requests[-1]["response"].append(
            {"value": text, "supportThemeIcons": False, "supportHtml": False}
        )

    def _call(
        self, name: str, tool_id: str, args: dict, result: str, confirmed: object = {"type": 1}
    ) -> None:
        req = self.requests[-1]
        call_id = (
            f"toolu_vrtx_{len(req['result']['metadata']['toolCallResults'])}__vscode-{len(self.requests)}"
        )
        req["result"]["metadata"]["toolCallRounds"].append(
            {
                "response": "",
                "toolCalls": [{"name": name, "arguments": json.dumps(args), "id": call_id}],
                "toolInputRetry": 0,
            }
        )
        req["result"]["metadata"]["toolCallResults"][call_id] = {
            "$mid": 20,
            "content": [{"$mid": 21, "value": result}],
        }
        req["response"].append({"kind": "prepareToolInvocation", "toolName": tool_id})
        req["response"].append(
            {
                "kind": "toolInvocationSerialized",
                "toolId": tool_id,
                "toolCallId": f"uuid-{call_id}",
                "isConfirmed": confirmed,
                "isComplete": True,
                "invocationMessage": {"value": f"Using {name}"},
            }
        )

    def _group(self, rel: str, edits: list) -> None:
        self.requests[-1]["response"].append(
            {"kind": "textEditGroup", "uri": _uri(f"{self.folder}/{rel}"), "edits": edits, "done": True}
        )

    def replace(
        self, rel: str, old: str, new: str, declined: bool = False, result: str | None = None
    ) -> None:
        args = {"filePath": f"{self.folder}/{rel}", "oldString": old, "newString": new}
        if declined:
            self._call(
                "replace_string_in_file",
                "copilot_replaceString",
                args,
                "The user cancelled the tool call.",
                {"type": 0},
            )
            return
        out = result or f"The following files were successfully edited:\n{self.folder}/{rel}\n"
        if result is None:
            self.files[rel] = (self.files[rel] or "").replace(old, new, 1)
        self._call("replace_string_in_file", "copilot_replaceString", args, out)

    def create(self, rel: str, content: str) -> None:
        self.files[rel] = content
        self._call(
            "create_file",
            "copilot_createFile",
            {"filePath": f"{self.folder}/{rel}", "content": content},
            f"The following files were successfully edited:\n{self.folder}/{rel}\n",
        )
        self._group(
            rel,
            [
                [
                    {
                        "text": content,
                        "range": {"startLineNumber": 1, "startColumn": 1, "endLineNumber": 1, "endColumn": 1},
                    }
                ]
            ],
        )

    def stream_edit(self, rel: str, line: int, text: str) -> None:
        """An edit streamed as a textEditGroup only (no tool call): `text` replaces line `line`."""
        lines = (self.files[rel] or "").split("\n")
        rng = {
            "startLineNumber": line,
            "startColumn": 1,
            "endLineNumber": line,
            "endColumn": len(lines[line - 1]) + 1,
        }
        lines[line - 1] = text
        self.files[rel] = "\n".join(lines)
        self._group(rel, [[{"text": text, "range": rng}]])

    def data(self) -> dict:
        return {
            "version": 3,
            "requesterUsername": "dev",
            "requesterAvatarIconUri": {"$mid": 1, "path": "/u/1"},
            "responderUsername": "GitHub Copilot",
            "initialLocation": "panel",
            "requests": self.requests,
            "sessionId": self.session,
            "creationDate": 1759353161000,
            "lastMessageDate": 1759353199000,
        }

    def write_json(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.data(), ensure_ascii=False, indent=2))
        return path

    def write_jsonl(self, path: Path) -> Path:
        """The mutation log: the state with its first request, then each later request pushed, and a title set."""
        data = self.data()
        first = {**data, "requests": data["requests"][:1]}
        lines = [{"kind": 0, "v": first}]
        lines += [{"kind": 2, "k": ["requests"], "v": [r]} for r in data["requests"][1:]]
        lines.append({"kind": 1, "k": ["customTitle"], "v": "edits"})
        lines.append({"kind": 3, "k": ["customTitle"]})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        return path

    def write_export(self, path: Path) -> Path:
        data = {
            k: v
            for k, v in self.data().items()
            if k not in ("version", "sessionId", "creationDate", "lastMessageDate")
        }
        for req in data["requests"]:
            for part in req["response"]:
                if "value" in part and "kind" not in part:
                    part["baseUri"] = {"$mid": 1, "path": self.folder + "/", "scheme": "file"}
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2))
        return path
