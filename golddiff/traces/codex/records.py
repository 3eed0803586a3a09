"""The shapes of Codex CLI rollout records, read into plain values for `golddiff.traces.codex`.

Two layouts exist on disk (see /work/shared/FORMATS.md):
- since about Sept. 2025, every line is `{timestamp, type, payload}` with `type` one of `session_meta`,
  `turn_context`, `response_item`, `event_msg`, `compacted`;
- before that, the first line is `{id, timestamp, instructions, git}`, `{"record_type": "state"}` lines
  are bookkeeping, and the other lines are bare response items (`{"type": "message", ...}`).

Here: telling the layouts apart, message text, scaffolding (text Codex injects as a user message),
tool outputs (`{output, metadata{exit_code}}` JSON, `Exit code: N ... Output:` text, content items),
shell commands (the apply_patch they carry, whole-file reads, commands that may write files), and a
patch's fate from its output. Pure functions; tested through tests/test_codex.py.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from golddiff.traces.session import IngestReport

ENVELOPE_TYPES = frozenset({"session_meta", "turn_context", "response_item", "event_msg", "compacted"})
SHELL_TOOLS = frozenset({"shell", "container.exec", "shell_command", "exec_command", "local_shell", "exec"})
# kinds that are known and of no use here: counted, not reported as unknown
IGNORED_ITEMS = frozenset(
    {"web_search_call", "compaction", "compaction_summary", "context_compaction", "tool_search_call"}
    | {"tool_search_output", "image_generation_call", "other"}
)
RESPONSE_ITEM_TYPES = IGNORED_ITEMS | {
    "message",
    "reasoning",
    "function_call",
    "function_call_output",
    "custom_tool_call",
    "custom_tool_call_output",
    "local_shell_call",
    "ghost_snapshot",
}
IGNORED_EVENTS = frozenset(
    {"token_count", "task_started", "task_complete", "turn_started", "turn_complete", "context_compacted"}
    | {"thread_name_updated", "entered_review_mode", "exited_review_mode", "mcp_tool_call_end"}
    | {"web_search_end", "view_image_tool_call", "image_generation_end", "item_completed", "error", "warning"}
    | {"stream_error", "background_event", "guardian_assessment", "undo_started", "plan_update", "turn_diff"}
    | {"session_configured", "exec_command_begin", "patch_apply_begin", "dynamic_tool_call_request"}
    | {"dynamic_tool_call_response", "collab_agent_spawn_end", "collab_agent_interaction_end"}
    | {"collab_waiting_end", "collab_close_end", "collab_resume_end"}
)


@dataclass
class Record:
    kind: str  # session_meta | turn_context | response_item | event_msg | compacted | state | <unknown>
    payload: dict
    timestamp: str | None = None


def normalize(obj: dict, first: bool) -> Record:
    """One parsed line as a Record, whichever layout it comes from."""
    if isinstance(obj.get("payload"), dict) and isinstance(obj.get("type"), str):
        return Record(obj["type"], obj["payload"], obj.get("timestamp"))
    if "record_type" in obj:
        return Record("state", obj)
    if isinstance(obj.get("type"), str):
        return Record("response_item", obj, obj.get("timestamp"))
    if first and "id" in obj and "timestamp" in obj:
        return Record("session_meta", obj, obj.get("timestamp"))
    return Record(str(obj.get("type") or "untyped"), obj, obj.get("timestamp"))


def read_records(path: Path, report: IngestReport) -> Iterator[tuple[int, Record]]:
    """Each line as a Record; blank, non-JSON, truncated and non-object lines reported and skipped."""
    log, seen = str(path), 0
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            seen += 1
            report.counts["records"] += 1
            try:
                obj = json.loads(line)
            except ValueError as e:
                if not line.endswith("\n"):  # only the last line can lack its newline
                    report.skip(
                        log, lineno, "the last line is cut off (was Codex still writing?)", "truncated_line"
                    )
                else:
                    report.skip(log, lineno, f"not JSON ({e.msg}); expected one record per line", "bad_json")
                continue
            if not isinstance(obj, dict):
                report.skip(log, lineno, f"a JSON {type(obj).__name__}, not a record object", "bad_record")
                continue
            yield lineno, normalize(obj, first=seen == 1)
    if seen == 0:
        report.skip(log, None, "empty file: no Codex records", "empty_file")


_ENVELOPE_HEAD = re.compile(r'^\s*\{\s*"timestamp"\s*:\s*"[^"]*"\s*,\s*"type"\s*:\s*"(\w+)"\s*,\s*"payload"')
_LEGACY_HEAD = re.compile(r'^\s*\{\s*"id"\s*:\s*"[0-9a-fA-F-]{8,}"\s*,\s*"timestamp"\s*:\s*"')


def sniff_head(head: str) -> bool:
    """Does this text (a file's first bytes, maybe cut mid-line) look like a Codex rollout?"""
    lines = [ln for ln in head.splitlines() if ln.strip()]
    if not lines:
        return False
    m = _ENVELOPE_HEAD.match(lines[0])
    if m:
        return m[1] in ENVELOPE_TYPES
    for line in lines[:20]:  # key order differs from the writer's: parse whole lines
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if (
            isinstance(obj, dict)
            and isinstance(obj.get("payload"), dict)
            and obj.get("type") in ENVELOPE_TYPES
        ):
            return True
    if _LEGACY_HEAD.match(lines[0]) and ('"instructions"' in lines[0] or '"git"' in lines[0]):
        return len(lines) == 1 or any(_is_legacy_item(ln) for ln in lines[1:5])
    return False


def _is_legacy_item(line: str) -> bool:
    try:
        obj = json.loads(line)
    except ValueError:
        return False
    return isinstance(obj, dict) and ("record_type" in obj or obj.get("type") in RESPONSE_ITEM_TYPES)


# ------------------------------------------------------------------------------------------ messages


class Echoes:
    """Codex writes most messages twice (a response_item and an event_msg): keep one of each pair."""

    def __init__(self) -> None:
        self.unpaired: dict[str, list[tuple[str, str]]] = {}

    def is_echo(self, kind: str, source: str, text: str) -> bool:
        waiting = self.unpaired.setdefault(kind, [])
        key = text.strip()
        for i, (src, seen) in enumerate(waiting):
            if src != source and seen == key:
                del waiting[i]
                return True
        waiting.append((source, key))
        del waiting[:-50]
        return False

    def new_turn(self) -> None:
        for kind in ("assistant", "thinking"):
            self.unpaired.pop(kind, None)


def content_text(content: object) -> list[str]:
    """The text parts of a message's `content` (input_text / output_text / text blocks, or a string)."""
    if isinstance(content, str):
        return [content]
    parts = []
    for block in content if isinstance(content, list) else []:
        if isinstance(block, dict) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return parts


def reasoning_texts(payload: dict) -> list[str]:
    """The readable reasoning: summary parts, else raw reasoning content (encrypted content is skipped)."""
    texts = content_text(payload.get("summary") or [])
    return texts or content_text(payload.get("content") or [])


SCAFFOLD_PREFIXES = (
    "<environment_context>",
    "<user_instructions>",
    "# agents.md instructions for",
    "<instructions>",
    "<turn_aborted>",
    "<skill",
    "<subagent_notification>",
    "<subagents>",
    "<plugins>",
    "<permissions instructions>",
    "<collaboration_mode>",
    "<personality_spec>",
    "<apps_instructions>",
)
USER_SHELL_PREFIX = "<user_shell_command>"


def user_text_kind(text: str) -> str:
    """'scaffold' for text Codex injects, 'command' for a `!` shell command the user ran, else 'user'."""
    head = text.lstrip()[:60].lower()
    if head.startswith(USER_SHELL_PREFIX):
        return "command"
    if head.startswith(SCAFFOLD_PREFIXES):
        return "scaffold"
    return "user"


_CWD_TAG = re.compile(r"<cwd>\s*(.*?)\s*</cwd>", re.S)


def environment_cwd(text: str) -> str | None:
    """The `<cwd>` of an `<environment_context>` message: the only cwd the old layout records."""
    m = _CWD_TAG.search(text)
    return m[1] if m else None


# -------------------------------------------------------------------------------------- tool output


@dataclass
class ToolOutput:
    text: str
    exit_code: int | None = None
    success: bool | None = None


_EXIT_CODE = re.compile(r"^(?:Exit code:|Process exited with code)\s*(-?\d+)", re.M)
_HEADER_KEYS = (
    "Exit code:",
    "Wall time:",
    "Chunk ID:",
    "Process exited",
    "Process running",
    "Original token",
)


def tool_output(raw: object) -> ToolOutput:
    """A function/custom tool call's `output` in any of the shapes Codex has written."""
    if isinstance(raw, list):
        return ToolOutput("\n".join(content_text(raw)))
    if isinstance(raw, dict):
        return _output_object(raw)
    text = raw if isinstance(raw, str) else json.dumps(raw)
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            obj = None
        if isinstance(obj, dict) and ("output" in obj or "content" in obj):
            return _output_object(obj)
    return _output_text(text)


def _output_object(obj: dict) -> ToolOutput:
    body = obj.get("output", obj.get("content", ""))
    text = body if isinstance(body, str) else "\n".join(content_text(body))
    meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    code = meta.get("exit_code")
    success = obj.get("success") if isinstance(obj.get("success"), bool) else None
    return ToolOutput(text, code if isinstance(code, int) else None, success)


def _output_text(text: str) -> ToolOutput:
    """`Exit code: 0\\nWall time: ...\\nOutput:\\n...` (and the unified-exec variant): split off the header."""
    if not text.startswith(_HEADER_KEYS):
        return ToolOutput(text)
    head, sep, body = text.partition("\nOutput:\n")
    if not sep:
        head, body = text, ""
    m = _EXIT_CODE.search(head)
    return ToolOutput(body, int(m[1]) if m else None)


def looks_truncated(text: str) -> bool:
    """Codex cuts long outputs in the middle and says so; such an output is not a whole file."""
    low = text.lower()
    return "truncated" in low or "[... omitted" in low or "total output lines:" in low or "\u2026" in text


# ------------------------------------------------------------------------------------ shell commands


@dataclass
class ShellCommand:
    argv: list[str] | None  # the exec'd argv, when the tool takes one
    script: str | None  # the shell script, when there is one (`bash -lc <script>`, `cmd`, `command`)
    workdir: str | None


SHELLS = frozenset({"bash", "sh", "zsh", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash", "/usr/bin/zsh"})


def shell_command(args: object) -> ShellCommand | None:
    """The command of a shell-like call: `shell {command: [argv]}`, `shell_command {command: str}`,
    `exec_command {cmd}`, a `local_shell_call` action `{command: [argv], working_directory}`."""
    if isinstance(args, str):
        return ShellCommand(None, args, None)
    if not isinstance(args, dict):
        return None
    workdir = args.get("workdir") or args.get("working_directory")
    workdir = workdir if isinstance(workdir, str) else None
    cmd = args.get("command", args.get("cmd"))
    if isinstance(cmd, str):
        return ShellCommand(None, cmd, workdir)
    if isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd):
        script = cmd[-1] if len(cmd) >= 3 and cmd[0] in SHELLS and cmd[1] in ("-lc", "-c", "-l") else None
        return ShellCommand(list(cmd), script, workdir)
    return None


_APPLY_PATCH_NAMES = ("apply_patch", "applypatch")
_HEREDOC = re.compile(r"\b(?:apply_patch|applypatch)\s*<<-?\s*(['\"]?)(\w+)\1[^\n]*\n")
_CD_PREFIX = re.compile(r"^\s*cd\s+(\"[^\"]+\"|'[^']+'|\S+)\s*&&")


def find_patch(cmd: ShellCommand) -> tuple[str, str | None] | None:
    """(patch text, directory it runs in relative to the workdir or None) if the command runs apply_patch."""
    if cmd.argv and len(cmd.argv) >= 2 and cmd.argv[0] in _APPLY_PATCH_NAMES:
        return cmd.argv[1], None
    if not cmd.script or "apply" not in cmd.script:
        return None
    m = _HEREDOC.search(cmd.script)
    if m is None:
        return None
    tag, body_start = m[2], m.end()
    end = re.compile(rf"^\s*{re.escape(tag)}\s*$", re.M).search(cmd.script, body_start)
    body = cmd.script[body_start : end.start() if end else len(cmd.script)].removesuffix("\n")
    cd = _CD_PREFIX.match(cmd.script[: m.start()])
    return body, (cd[1].strip("'\"") if cd else None)


_READ_LIMIT = re.compile(r"^['\"]?(\d+),(\d+)p['\"]?$")


def file_read(cmd: ShellCommand) -> tuple[str, str, int | None] | None:
    """(path, how, line limit) when the command prints one whole file: `cat f`, `nl -ba f`,
    `sed -n '1,Np' f` (whole only if the output is shorter than N lines)."""
    if cmd.script is None and cmd.argv:
        words = cmd.argv
    else:
        if not cmd.script or any(c in cmd.script for c in "|;&<>$`\n"):
            return None
        try:
            words = shlex.split(cmd.script)
        except ValueError:
            return None
    if len(words) == 2 and words[0] == "cat" and not words[1].startswith("-"):
        return words[1], "cat", None
    if len(words) == 3 and words[0] == "nl" and words[1] == "-ba":
        return words[2], "nl", None
    if len(words) == 4 and words[0] == "sed" and words[1] == "-n":
        m = _READ_LIMIT.match(words[2])
        if m and m[1] == "1":
            return words[3], "sed", int(m[2])
    return None


_NL_LINE = re.compile(r"^\s*\d+\t?(.*)$")


def read_content(how: str, limit: int | None, text: str) -> str | None:
    """The file a read printed, or None when the output cannot be the whole file."""
    if looks_truncated(text):
        return None
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if how == "sed" and (limit is None or len(lines) >= limit):
        return None
    if how == "nl":
        stripped = []
        for ln in lines:
            m = _NL_LINE.match(ln)
            if m is None:
                return None
            stripped.append(m[1])
        lines = stripped
    return "\n".join(lines) + "\n" if lines else ""


_WRITES = re.compile(
    r"(\bsed\s+-i|\bperl\s+-[a-z]*i|\btee\b|\brm\s|\bmv\s|\bcp\s|\bgit\s+(apply|checkout|restore|reset|stash)\b"
    r"|\btouch\s|\bpatch\s|(?<![0-9&=<>-])>>?\s*(?!/dev/null|&)[\w./\"'-])"
)


def may_write_files(cmd: ShellCommand) -> bool:
    """A rough guess that a command changes files without apply_patch (the log cannot show how)."""
    script = cmd.script if cmd.script is not None else " ".join(cmd.argv or [])
    return bool(_WRITES.search(script))


# ------------------------------------------------------------------------------------ patch outcome

FAILURE_MARKERS = ("failed to find", "invalid patch", "invalid hunk", "verification failed", "error:")


def patch_outcome(
    out: ToolOutput | None, code: int | None, end: dict | None, default: str
) -> tuple[str, str | None]:
    """A patch's fate, and why, from what the log shows: applied | failed | rejected | interrupted (the
    user stopped it) | unanswered (no result before the log ends). `default`: the fate when nothing says."""
    text = out.text.strip() if out is not None else ""
    low = text.lower()
    if "rejected by user" in low[:200]:
        return "rejected", "rejected by the user"
    if low.startswith("aborted"):
        return "interrupted", "the user aborted it"
    if end is not None:
        status = str(end.get("status", "")).lower()
        if status == "declined":
            return "rejected", "declined by the user"
        if isinstance(end.get("success"), bool):
            return (
                ("applied", None)
                if end["success"]
                else ("failed", _why(end.get("stderr")) or "apply_patch failed")
            )
    if code is not None:
        return ("applied", None) if code == 0 else ("failed", _why(text) or f"exit code {code}")
    if out is not None and out.success is False:
        return "failed", _why(text) or "the tool reported a failure"
    if low.startswith("success.") or "updated the following files" in low:
        return "applied", None
    if any(marker in low for marker in FAILURE_MARKERS):
        return "failed", _why(text)
    if default == "interrupted":
        return "interrupted", "the turn was interrupted before the patch reported a result"
    if default == "unanswered":
        return "unanswered", "no result was logged (the session ended first)"
    return "applied", None


def _why(text: object) -> str | None:
    return text.strip()[:300] if isinstance(text, str) and text.strip() else None


def str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def json_args(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


# ------------------------------------------------------------------------------------------- paths


def quiet_rel(path: str, cwd: str | None) -> str | None:
    """`path` relative to `cwd`, or None when it is outside (unreported: reads may look anywhere)."""
    path = path.replace("\\", "/")
    cwd = (cwd or "").replace("\\", "/").rstrip("/")
    if path.startswith("/"):
        if not cwd or not path.startswith(cwd + "/"):
            return None
        path = path[len(cwd) + 1 :]
    norm = posixpath.normpath(path)
    return None if norm in (".", "..") or norm.startswith("../") else norm


def tool_path(path: str, workdir: str | None, cwd: str) -> str:
    """`path` as a tool saw it: a relative path is under the call's `workdir`, itself under `cwd`."""
    path = path.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return path
    base = cwd
    if workdir:
        workdir = workdir.replace("\\", "/")
        base = workdir if workdir.startswith("/") or not base else posixpath.join(base, workdir)
    return posixpath.join(base, path) if base else path
