"""Cline / Roo Code `api_conversation_history.json` -> a stream of events for `walk.py`.

    events = list(history_events(messages, report, path))

The file is the Anthropic Messages array the extension sends to the model: `[{role, content}]`,
`content` a string or blocks (`text`, `image`, `thinking`, `tool_use {id, name, input}`,
`tool_result {tool_use_id, content, is_error}`). Two ways of calling tools share it:

- XML in the assistant's text (Cline, and Roo Code before native tools): `<write_to_file><path>a.py</path>
  <content>...</content></write_to_file>`, `<replace_in_file><path>..</path><diff>SEARCH/REPLACE</diff>
  </replace_in_file>`, Roo's `<apply_diff>`, `<insert_content>`, `<search_and_replace>`. The result comes
  back in the next user message as text blocks: `[write_to_file for 'a.py'] Result:` then the result.
- native tool calls (`tool_use` / `tool_result` blocks, matched by id).

User messages carry the task (`<task>...</task>`), the user's answers (`<answer>`, `<feedback>`,
`<user_message>` after `[TASK RESUMPTION]`) and `<environment_details>`, which is dropped (its
`Current Working Directory (...)` line gives the cwd). Pure Python, CPU only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# tools whose call is an edit, with the parameters that hold long text (closed by their last tag)
EDIT_TOOLS = {
    "write_to_file": ("content",),
    "replace_in_file": ("diff",),
    "apply_diff": ("diff",),
    "insert_content": ("content",),
    "search_and_replace": ("search", "replace"),
    "new_rule": ("content",),
    "search_replace": ("old_string", "new_string"),
    "edit_file": ("old_string", "new_string"),
    "apply_patch": ("patch",),
}
OTHER_TOOLS = (
    "read_file",
    "list_files",
    "search_files",
    "list_code_definition_names",
    "execute_command",
    "browser_action",
    "use_mcp_tool",
    "access_mcp_resource",
    "ask_followup_question",
    "attempt_completion",
    "plan_mode_respond",
    "act_mode_respond",
    "new_task",
    "switch_mode",
    "load_mcp_documentation",
    "web_fetch",
    "codebase_search",
    "fetch_instructions",
    "update_todo_list",
    "condense",
    "summarize_task",
    "report_bug",
    "focus_chain",
)
_TOOL_OPEN = re.compile(r"<(" + "|".join([*EDIT_TOOLS, *OTHER_TOOLS]) + r")>")
_RESULT_HEAD = re.compile(r"^\[(\w+)(?: for '([^']*)'| for [^\]]*)?\] Result:\s*", re.S)
CWD_LINE = re.compile(r"# Current (?:Working|Workspace) Directory \(([^)]+)\)")
_TASK = re.compile(r"<task>\n?(.*?)\n?</task>", re.S)
_USER_MESSAGE = re.compile(r"<user_message>\n?(.*?)\n?</user_message>", re.S)
_ANSWER = re.compile(r"<answer>\n?(.*?)\n?</answer>", re.S)
_FEEDBACK = re.compile(r"<feedback>\n?(.*?)\n?</feedback>", re.S)
_ENV = re.compile(r"<environment_details>.*?</environment_details>", re.S)
INTERRUPTED = ("[Response interrupted by user]", "[Response interrupted by user feedback]")


@dataclass
class Event:
    kind: str  # user | text | thinking | call | result | note | interrupt
    text: str = ""
    call_id: str | None = None
    name: str | None = None
    params: dict = field(default_factory=dict)
    results: list[str] = field(default_factory=list)  # a result's text blocks
    is_error: bool = False
    where: str | int | None = None
    user_kind: str = "followup"


def parse_xml_params(body: str, name: str) -> dict:
    """The `<param>value</param>` children of one XML tool call, in order; long-text params (a file's
    content, a diff) end at their last closing tag, so tags inside them stay in the value."""
    params: dict[str, str] = {}
    long = EDIT_TOOLS.get(name, ())
    pos = 0
    while (m := re.compile(r"<(\w+)>").search(body, pos)) is not None:
        key, close = m[1], f"</{m[1]}>"
        end = body.rfind(close) if key in long else body.find(close, m.end())
        if end < m.end():
            pos = m.end()
            continue
        value = body[m.end() : end]
        value = value[1:] if value.startswith("\n") else value
        params.setdefault(key, value[:-1] if key in long and value.endswith("\n") else value)
        pos = end + len(close)
    return params


def xml_tool_calls(text: str) -> Iterator[tuple[int, int, str, dict]]:
    """(start, end, tool name, params) of each XML tool call in an assistant's text."""
    pos = 0
    while (m := _TOOL_OPEN.search(text, pos)) is not None:
        name = m[1]
        close = f"</{name}>"
        end = (
            text.rfind(close) if name in EDIT_TOOLS and text.count(close) == 1 else text.find(close, m.end())
        )
        if end < 0:  # a call cut off (the response was interrupted): what there is of it
            yield m.start(), len(text), name, parse_xml_params(text[m.end() :], name)
            return
        yield m.start(), end + len(close), name, parse_xml_params(text[m.end() : end], name)
        pos = end + len(close)


def _blocks(content: object) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content if isinstance(b, dict)] if isinstance(content, list) else []


def _block_texts(content: object) -> list[str]:
    return [str(b.get("text", "")) for b in _blocks(content) if b.get("type") == "text"]


def find_cwd(messages: list) -> str | None:
    for m in messages[:200]:
        for text in _block_texts(m.get("content") if isinstance(m, dict) else None):
            hit = CWD_LINE.search(text)
            if hit:
                return hit[1].strip()
    return None


def user_words(text: str) -> tuple[str, str] | None:
    """(what the user said, its kind) in one user text block, or None when it holds no words of theirs."""
    text = _ENV.sub("", text).strip()
    if not text or text.startswith("<environment_details>"):
        return None
    if (m := _TASK.search(text)) is not None:
        return m[1].strip(), "task"
    if text.startswith("[TASK RESUMPTION]"):
        return None
    if (m := _USER_MESSAGE.search(text)) is not None:
        return m[1].strip(), "followup"
    if text.startswith("New instructions for task continuation") or text.startswith("New message to respond"):
        return None
    return text, "followup"


def history_events(messages: list, where_prefix: str = "") -> Iterator[Event]:
    """The events of the conversation, in order (module doc)."""
    pending_xml: list[Event] = []  # XML calls of the last assistant message, answered in order
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            yield Event("bad", where=i)
            continue
        role = m.get("role")
        if role == "assistant":
            pending_xml = []
            for ev in _assistant(m.get("content"), i):
                if ev.kind == "call" and ev.call_id and ev.call_id.startswith("xml-"):
                    pending_xml.append(ev)
                yield ev
        elif role == "user":
            yield from _user(m.get("content"), i, pending_xml)
            pending_xml = []
        else:
            yield Event("unknown", text=str(role), where=i)


def _assistant(content: object, i: int) -> Iterator[Event]:
    for k, b in enumerate(_blocks(content)):
        kind = b.get("type")
        if kind == "text":
            text = str(b.get("text", ""))
            pos = 0
            for n, (start, end, name, params) in enumerate(xml_tool_calls(text)):
                if text[pos:start].strip():
                    yield Event("text", text=text[pos:start].strip(), where=i)
                yield Event("call", call_id=f"xml-{i}-{k}-{n}", name=name, params=params, where=i)
                pos = end
            rest = text[pos:]
            if any(s in rest for s in INTERRUPTED):
                yield Event("interrupt", where=i)
            for s in INTERRUPTED:
                rest = rest.replace(s, "")
            if rest.strip():
                yield Event("text", text=rest.strip(), where=i)
        elif kind in ("thinking", "reasoning"):
            yield Event("thinking", text=str(b.get("thinking") or b.get("text") or ""), where=i)
        elif kind == "tool_use":
            params = b.get("input") if isinstance(b.get("input"), dict) else {}
            yield Event("call", call_id=str(b.get("id")), name=str(b.get("name")), params=params, where=i)
        elif kind not in ("image", "redacted_thinking"):
            yield Event("unknown", text=f"block:{kind}", where=i)


def _user(content: object, i: int, pending_xml: list[Event]) -> Iterator[Event]:
    out: list[Event] = []
    current: Event | None = None  # the tool result the next text blocks belong to
    for b in _blocks(content):
        kind = b.get("type")
        if kind == "tool_result":
            texts = _block_texts(b.get("content"))
            current = Event(
                "result",
                call_id=str(b.get("tool_use_id")),
                results=texts,
                is_error=bool(b.get("is_error")),
                where=i,
            )
            out.append(current)
            continue
        if kind != "text":
            continue
        text = str(b.get("text", ""))
        head = _RESULT_HEAD.match(text)
        if head is not None:
            call = next((c for c in pending_xml if c.name == head[1]), None)
            if call is not None:
                pending_xml.remove(call)
            rest = text[head.end() :]
            current = Event("result", call_id=call.call_id if call else None, name=head[1], where=i)
            if rest.strip():
                current.results.append(rest)
            out.append(current)
            continue
        if text.lstrip().startswith("<environment_details>"):
            current = None
            continue
        if current is not None and (current.name is not None or text.startswith("The user ")):
            current.results.append(text)  # the rest of an XML result, or the user's words on a native one
            continue
        if text.startswith("[TASK RESUMPTION]"):
            out.append(Event("note", text="task resumed", where=i))
            text = text[text.find("<user_message>") :] if "<user_message>" in text else ""
        said = user_words(text)
        if said is not None:
            out.append(Event("user", text=said[0], user_kind=said[1], where=i))
    yield from out
