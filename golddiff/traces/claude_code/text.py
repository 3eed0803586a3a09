"""Claude Code message texts: the user's feedback inside tool results, and the wrappers around user input.

Claude Code writes a rejection, a cancel or an interrupt as fixed sentences (see FORMATS.md), and wraps
what is not the user's own request in tags (`<command-name>`, `<local-command-stdout>`,
`<system-reminder>`, `<ide_opened_file>`...). This module names those texts so the reader can tell a
rejected edit from a failed one, and a request from a slash command. Pure string functions, no I/O.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal

_REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected "
    "(eg. if it was a file edit, the new_string was NOT written to the file)."
)
REJECT_MESSAGE = _REJECTED + " STOP what you are doing and wait for the user to tell you how to proceed."
REASON_PREFIX = "To tell you how to proceed, the user said:\n"
REASON_PREFIX_2_0 = "The user provided the following reason for the rejection:"  # 2.0.x wording
CANCEL_MESSAGE = (
    "The user doesn't want to take this action right now. "
    "STOP what you are doing and wait for the user to tell you how to proceed."
)
SUBAGENT_REJECTED = (
    "Permission for this tool use was denied. The tool use was rejected "
    "(eg. if it was a file edit, the new_string was NOT written to the file)."
)
SUBAGENT_REASON_PREFIX = "The user said:\n"
PLAN_REJECTED = "The agent proposed a plan that was rejected by the user."
INTERRUPT = "[Request interrupted by user]"
INTERRUPT_FOR_TOOL_USE = "[Request interrupted by user for tool use]"
CONTINUED_SESSION = "This session is being continued from a previous conversation"

VerdictKind = Literal["reject", "reject_with_reason", "cancel", "interrupt", "plan_rejected"]
WrapperKind = Literal["command", "meta"]

# tags whose content is not the user's request, and what it is instead
WRAPPER_TAGS: dict[str, WrapperKind] = {
    "command-name": "command",
    "command-message": "command",
    "command-args": "command",
    "command-contents": "command",
    "local-command-stdout": "command",
    "local-command-stderr": "command",
    "local-command-caveat": "command",
    "bash-input": "command",
    "bash-stdout": "command",
    "bash-stderr": "command",
    "user-memory-input": "command",
    "system-reminder": "meta",
    "user-prompt-submit-hook": "meta",
    "ide_opened_file": "meta",
    "ide_selection": "meta",
    "ide_diagnostics": "meta",
    "task-notification": "meta",
}
_WRAPPER_RE = re.compile(r"<(" + "|".join(re.escape(t) for t in WRAPPER_TAGS) + r")>(.*?)</\1>\s*", re.DOTALL)
_COMMAND_RE = re.compile(r"<command-name>\s*/?([^<\s]+)\s*</command-name>")
CLEAR_COMMANDS = frozenset({"clear", "new", "reset"})
_COMMAND_PARTS = frozenset({"command-name", "command-message", "command-args", "command-contents"})


@dataclass(frozen=True)
class Verdict:
    """What a tool result says the user did: its feedback kind and the user's own words, if any."""

    kind: VerdictKind
    reason: str | None = None


def classify_tool_result(text: str) -> Verdict | None:
    """The user's verdict written into a tool result (rejected, cancelled, interrupted), or None.

    >>> classify_tool_result(REJECT_MESSAGE[:-1] + " To tell you how to proceed, the user said:\\nuse tabs")
    Verdict(kind='reject_with_reason', reason='use tabs')
    >>> classify_tool_result(_REJECTED + " The user provided the following reason for the rejection:  use pnpm")
    Verdict(kind='reject_with_reason', reason='use pnpm')
    """
    t = text.strip()
    if t.startswith("Error: "):
        t = t[len("Error: ") :]
    for prefix, marks in (
        (_REJECTED, (REASON_PREFIX, REASON_PREFIX_2_0)),
        (SUBAGENT_REJECTED, (SUBAGENT_REASON_PREFIX,)),
    ):
        if t.startswith(prefix):
            for mark in marks:
                if mark in t:
                    reason = t.split(mark, 1)[1].strip()
                    return Verdict("reject_with_reason", reason) if reason else Verdict("reject")
            return Verdict("reject")
    if t.startswith(CANCEL_MESSAGE):
        return Verdict("cancel")
    if t.startswith(PLAN_REJECTED):
        return Verdict("plan_rejected")
    if t.startswith(INTERRUPT[:-1]):
        return Verdict("interrupt")
    return None


def is_interrupt(text: str) -> bool:
    return text.strip().startswith(INTERRUPT[:-1])


def is_continued_session(text: str) -> bool:
    """The summary Claude Code writes as a user message after compacting (older releases: no flag)."""
    return text.lstrip().startswith(CONTINUED_SESSION)


def split_wrappers(text: str) -> tuple[str, list[tuple[WrapperKind, str]]]:
    """(the user's own words, [(kind, wrapped text)]) of a user message; the words may be ''.

    A slash command's tags (name, message, args) stay together as one note.
    """
    wrapped: list[tuple[str, str]] = []

    def take(m: re.Match) -> str:
        tag, whole = m.group(1), m.group(0).strip()
        if not m.group(2).strip() and tag not in _COMMAND_PARTS:
            return ""  # an empty output: nothing to note
        if wrapped and tag in _COMMAND_PARTS and wrapped[-1][0] in _COMMAND_PARTS:
            wrapped[-1] = (tag, wrapped[-1][1] + "\n" + whole)
        else:
            wrapped.append((tag, whole))
        return ""

    rest = _WRAPPER_RE.sub(take, text).strip()
    return rest, [(WRAPPER_TAGS[tag], w) for tag, w in wrapped]


def command_name(text: str) -> str | None:
    """'clear' for '<command-name>/clear</command-name>', else None."""
    m = _COMMAND_RE.search(text)
    return m.group(1).lower() if m else None


def content_text(content: object) -> str:
    """A tool result's or queued message's content as text (blocks joined, images named)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for b in content:
            if isinstance(b, dict) and isinstance(b.get("text"), str):
                parts.append(b["text"])
            elif isinstance(b, dict) and b.get("type") == "image":
                parts.append("[image]")
            elif isinstance(b, str):
                parts.append(b)
        return "\n".join(parts)
    return json.dumps(content, ensure_ascii=False)[:2000]


def message_blocks(message: object) -> list[dict]:
    """The content blocks of an Anthropic message (a string content is one text block)."""
    if not isinstance(message, dict):
        return []
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [b for b in content if isinstance(b, dict)]
    return []


def typed_prompt(record: dict) -> str | None:
    """The words a user typed in this record (not a tool result, meta, summary or interrupt), or None."""
    if record.get("type") != "user" or record.get("isMeta") or record.get("isCompactSummary"):
        return None
    blocks = message_blocks(record.get("message"))
    if any(b.get("type") == "tool_result" for b in blocks):
        return None
    text = "\n\n".join(
        b["text"] for b in blocks if b.get("type") == "text" and isinstance(b.get("text"), str)
    )
    if not text.strip() or is_interrupt(text) or is_continued_session(text):
        return None
    words, _ = split_wrappers(text)
    return words or None
