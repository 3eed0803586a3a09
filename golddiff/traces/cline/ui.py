"""Cline / Roo Code `ui_messages.json` -> the same events as `history.py`, for a task folder that has
lost (or never had) its `api_conversation_history.json`.

    events = list(ui_events(messages))

The file is the chat as the extension showed it: `[{ts, type: "ask" | "say", ask | say, text, partial}]`.
The first `say: text` is the task, `say: user_feedback` the user's later words, `say: text` /
`reasoning` the model's. A file edit is an `ask: tool` (waiting for approval) or `say: tool`
(auto-approved) whose text is JSON: `{tool: "newFileCreated" | "editedExistingFile" | "appliedDiff" |
"fileDeleted" | ..., path, content | diff}`. Its result is not in this file as such, but the next
`say: api_req_started` holds, in its JSON `request`, the text sent to the model next, which starts with
the tool results (`[replace_in_file for 'a.py'] Result:` ...): that is where the approval, the denial
with the user's feedback, and the saved file (`<final_file_content>`) are read. An `ask: resume_task`
means the task was interrupted there. Pure Python, CPU only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

from golddiff.traces.cline.history import CWD_LINE as _CWD
from golddiff.traces.cline.history import Event

_REQUEST_RESULT = re.compile(r"\[(\w+)(?: for '([^']*)'| for [^\]]*)?\] Result:")
_SEARCH_MARK = re.compile(r"^(?:<{5,9} SEARCH|-{5,9} SEARCH)", re.M)
# ui tool kind -> the tool call it stands for
_UI_EDITS = {
    "newFileCreated": "write_to_file",
    "editedExistingFile": "replace_in_file",
    "appliedDiff": "apply_diff",
    "fileDeleted": "delete_file",
    "insertContent": "insert_content",
    "searchAndReplace": "search_and_replace",
}
_QUIET_SAYS = {
    "api_req_finished",
    "api_req_retried",
    "api_req_retry_delayed",
    "api_req_deleted",
    "checkpoint_created",
    "shell_integration_warning",
    "inspect_site_result",
    "mcp_server_request_started",
    "mcp_server_response",
    "use_mcp_server",
    "deleted_api_reqs",
    "clineignore_error",
    "load_mcp_documentation",
    "info",
    "task_progress",
    "hook_status",
    "subagent",
    "condense_context",
    "codebase_search_result",
    "browser_action",
    "browser_action_result",
    "browser_action_launch",
    "command_output",
    "error_retry",
    "generate_explanation",
}


def _json(text: object) -> dict:
    try:
        out = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        return {}
    return out if isinstance(out, dict) else {}


def call_of(ui: dict) -> tuple[str, dict] | None:
    """(tool name, params) of a ui `tool` message, in the shape the model's call would have."""
    kind, path = ui.get("tool"), ui.get("path")
    if kind not in _UI_EDITS or not isinstance(path, str):
        return None
    body = ui.get("diff") if isinstance(ui.get("diff"), str) else ui.get("content")
    body = body if isinstance(body, str) else ""
    name = _UI_EDITS[kind]
    if kind == "editedExistingFile" and not _SEARCH_MARK.search(body):
        name = "write_to_file" if "content" in ui and not body.startswith("@@") else "unknown_diff"
    if name in ("write_to_file", "insert_content"):
        return name, {"path": path, "content": body}
    return name, {"path": path, "diff": body}


def request_results(request: str) -> list[tuple[str, str]]:
    """(tool name, result text) of each tool result at the start of an API request's text."""
    heads = list(_REQUEST_RESULT.finditer(request))
    out = []
    for n, m in enumerate(heads):
        end = heads[n + 1].start() if n + 1 < len(heads) else len(request)
        body = request[m.end() : end]
        env = body.find("<environment_details>")
        out.append((m[1], (body[:env] if env >= 0 else body).strip()))
    return out


def ui_events(messages: list) -> Iterator[Event]:
    pending: list[Event] = []  # tool calls waiting for their result
    asking: Event | None = None  # the tool call the extension is asking the user to approve
    first = True
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            yield Event("bad", where=i)
            continue
        kind, sub = m.get("type"), m.get("ask") if m.get("type") == "ask" else m.get("say")
        text = str(m.get("text") or "")
        if kind == "say" and sub == "text" and first:
            first = False
            yield Event("user", text=text, user_kind="task", where=i)
        elif kind == "say" and sub == "user_feedback":
            if asking is None:  # else: the words the user answered a tool approval with (its result has them)
                yield Event("user", text=text, where=i)
        elif kind == "say" and sub in ("text", "completion_result"):
            yield Event("text", text=text, where=i)
        elif kind == "say" and sub == "reasoning":
            yield Event("thinking", text=text, where=i)
        elif sub == "tool":
            ui = _json(text)
            call = call_of(ui)
            name, params = (
                call if call else (str(ui.get("tool", "tool")), {k: v for k, v in ui.items() if k != "tool"})
            )
            ev = Event("call", call_id=f"ui-{m.get('ts', i)}", name=name, params=params, where=i)
            if m.get("partial"):
                ev.params["partial"] = True
            pending.append(ev)
            asking = ev if kind == "ask" else None
            yield ev
        elif kind == "ask" and sub == "command":
            ev = Event(
                "call",
                call_id=f"ui-{m.get('ts', i)}",
                name="execute_command",
                params={"command": text},
                where=i,
            )
            pending.append(ev)
            yield ev
        elif kind == "say" and sub == "api_req_started":
            asking = None
            request = str(_json(text).get("request") or "")
            for name, result in request_results(request):
                call = next((c for c in pending if c.name == name or _UI_EDITS.get(name) == c.name), None)
                if call is None and pending:
                    call = pending[0]
                if call is not None:
                    pending.remove(call)
                    yield Event("result", call_id=call.call_id, name=name, results=[result], where=i)
        elif kind == "ask" and sub in ("resume_task", "resume_completed_task"):
            yield Event("note", text="task resumed", where=i)  # the walker cancels the calls left waiting
            pending, asking = [], None
        elif kind == "say" and sub == "diff_error":
            yield Event("note", text=f"diff error: {text[:200]}", where=i)
        elif kind == "say" and sub == "user_feedback_diff":
            yield Event("note", text="the user edited the agent's change before saving it", where=i)
        elif kind == "say" and sub in ("error", "api_req_failed"):
            yield Event("note", text=f"error: {text[:200]}", where=i)
        elif kind == "ask" or sub in _QUIET_SAYS or sub in ("command", "reasoning"):
            continue
        else:
            yield Event("unknown", text=f"say:{sub}", where=i)


def existence(messages: list) -> dict[str, bool]:
    """Whether each file existed when the task first wrote it (`newFileCreated` vs `editedExistingFile`)."""
    out: dict[str, bool] = {}
    for m in messages:
        if isinstance(m, dict) and "tool" in (m.get("ask"), m.get("say")):
            ui = _json(m.get("text"))
            if ui.get("tool") in ("newFileCreated", "editedExistingFile") and isinstance(ui.get("path"), str):
                out.setdefault(ui["path"], ui["tool"] == "editedExistingFile")
    return out


def find_cwd(messages: list) -> str | None:
    """The task's working directory, from the environment details of the requests the chat records."""
    for m in messages[:400]:
        if isinstance(m, dict) and m.get("say") == "api_req_started":
            hit = _CWD.search(str(_json(m.get("text")).get("request") or ""))
            if hit:
                return hit[1].strip()
    return None
