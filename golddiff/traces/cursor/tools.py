"""Cursor agent-mode tool calls (a bubble's `toolFormerData`) that edit files, and what became of them.

    call = tool_call(bubble)        # ToolCall(name, params, result, status, decision) or None
    kind, pairs = edit_of(call)     # how to replay it

A bubble of an agent turn carries `toolFormerData: {tool, toolCallId, name, status, rawArgs | params,
result, userDecision, additionalData}`; `params`, `rawArgs` and `result` are JSON text. The edit tools
(names as Cursor's agent logged them from 0.4x to 2.x):

- `search_replace` / `edit` / `MultiEdit`: `{file_path, old_string, new_string, replace_all}` (or `edits[]`);
- `write` / `create_file`: `{file_path, contents | content}`;
- `edit_file`: `{target_file, instructions, code_edit}` - a lazy edit Cursor's apply model merged; the
  merge itself is in the result, `{diff: {chunks: [{diffString, oldStart, newStart, ...}]}}`;
- `edit_file_v2`: `{relativeWorkspacePath, streamingContent}` - the whole new file (or, when the content
  is stored apart, `result.afterContentId`);
- `delete_file`: `{target_file | relativeWorkspacePath}`;
- `apply_patch`: a V4A patch (`*** Begin Patch`) in its arguments.

`status` is `completed`, `error` or `cancelled` (the user stopped it); `userDecision` (or
`additionalData.reviewData.selectedOption`) is the user's review: `accepted` / `rejected`. Pure
Python, CPU only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

EDIT_NAMES = {
    "search_replace",
    "edit",
    "multiedit",
    "multi_edit",
    "write",
    "create_file",
    "edit_file",
    "edit_file_v2",
    "reapply",
    "delete_file",
    "apply_patch",
}


@dataclass
class ToolCall:
    call_id: str
    name: str
    params: dict
    result: dict | str | None
    status: str
    decision: str | None


def _obj(raw: object) -> dict | str | None:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str):
        try:
            val = json.loads(raw)
        except ValueError:
            return raw
        return val if isinstance(val, dict) else raw
    return None


def tool_call(bubble: dict) -> ToolCall | None:
    data = bubble.get("toolFormerData")
    if not isinstance(data, dict) or not data.get("name"):
        return None
    params = _obj(data.get("params"))
    if not isinstance(params, dict):
        params = _obj(data.get("rawArgs"))
    extra = data.get("additionalData") if isinstance(data.get("additionalData"), dict) else {}
    review = extra.get("reviewData") if isinstance(extra.get("reviewData"), dict) else {}
    decision = data.get("userDecision") or review.get("selectedOption")
    return ToolCall(
        str(data.get("toolCallId") or bubble.get("bubbleId")),
        str(data["name"]),
        params if isinstance(params, dict) else {},
        _obj(data.get("result")),
        str(data.get("status") or ""),
        str(decision).lower() if decision else None,
    )


def verdict(call: ToolCall) -> tuple[str | None, str | None, str | None]:
    """(edit status, reason, feedback kind) of an edit call; status None: not decided (still running)."""
    if call.status == "cancelled":
        return "rejected", "cancelled by the user", "cancel"
    if call.status == "error":
        err = (
            call.result
            if isinstance(call.result, str)
            else json.dumps(call.result)[:300]
            if call.result
            else None
        )
        return "failed", (err or "the tool failed")[:300], None
    if call.decision in ("rejected", "reject"):
        return "rejected", "rejected by the user in review", "reject"
    if call.status in ("completed", "success") or call.decision in ("accepted", "accept"):
        return "applied", None, None
    return None, None, None


def target(call: ToolCall) -> str | None:
    p = call.params
    for key in ("file_path", "target_file", "relativeWorkspacePath", "path", "filePath"):
        if isinstance(p.get(key), str) and p[key]:
            return p[key]
    return None


def replace_pairs(call: ToolCall) -> list[tuple[str, str]]:
    p = call.params
    items = p.get("edits") if isinstance(p.get("edits"), list) else [p]
    return [
        (str(e.get("old_string", "")), str(e.get("new_string", "")))
        for e in items
        if isinstance(e, dict) and ("old_string" in e or "new_string" in e)
    ]


def result_chunks(call: ToolCall) -> list[tuple[list[str], list[str]]]:
    """(old lines, new lines) of each diff chunk `edit_file`'s result records (what the apply model did)."""
    res = call.result if isinstance(call.result, dict) else {}
    diff = res.get("diff") if isinstance(res.get("diff"), dict) else {}
    out = []
    for chunk in diff.get("chunks") or []:
        if not isinstance(chunk, dict) or not isinstance(chunk.get("diffString"), str):
            continue
        old, new = [], []
        for ln in chunk["diffString"].split("\n"):
            if ln.startswith("+"):
                new.append(ln[1:])
            elif ln.startswith("-"):
                old.append(ln[1:])
            elif ln.startswith(" ") or ln == "":
                old.append(ln[1:])
                new.append(ln[1:])
        while old and new and old[-1] == "" and new[-1] == "":
            old.pop(), new.pop()
        out.append((old, new))
    return out


def whole_content(call: ToolCall, stored: dict) -> str | None:
    """The whole new file a write / edit_file_v2 call gives, when it gives one."""
    p = call.params
    for key in ("contents", "content", "streamingContent", "file_text"):
        if isinstance(p.get(key), str):
            return p[key]
    res = call.result if isinstance(call.result, dict) else {}
    ref = res.get("afterContentId")
    if isinstance(ref, str) and isinstance(stored.get(ref), str):
        return stored[ref]
    return None


def patch_text(call: ToolCall) -> str | None:
    for value in call.params.values():
        if isinstance(value, str) and "*** Begin Patch" in value:
            return value
    return None
