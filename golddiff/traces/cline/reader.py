"""Cline and Roo Code tasks: one task folder (`tasks/<id>/`) -> one Episode.

    from golddiff.traces import cline
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in cline.read(Path("tasks/1712345678901/api_conversation_history.json"), IngestReport(), ReadOptions()):
        print(ep.source.tool, ep.task[:60], [e.status for e in ep.edits])

or `golddiff ingest` (the extensions' task folders are found in every VS Code-family editor's global
storage by default). Pure Python, CPU only.

A task folder holds `api_conversation_history.json` (the conversation sent to the model: the richest
record, read by `history.py`), `ui_messages.json` (the chat as shown, read by `ui.py` only when the
conversation file is missing) and `task_metadata.json` (which files the agent read and edited, and
which ones the user edited during the task: counted and named in a warning). The folder is read
through its conversation file; the other two are "attached" to it. Cline and Roo Code share the
format (Roo Code is a fork): the tool is told apart by the extension folder
(`rooveterinaryinc.roo-cline`) or, failing that, by Roo's own tools and words. `walk.py` makes the
episode.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.cline.history import find_cwd, history_events
from golddiff.traces.cline.ui import existence, ui_events
from golddiff.traces.cline.ui import find_cwd as find_cwd_ui
from golddiff.traces.cline.walk import TaskWalk
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder

FORMAT = "cline"

HISTORY, UI, METADATA = "api_conversation_history.json", "ui_messages.json", "task_metadata.json"
_ROLE = re.compile(r'^\s*\[\s*\{\s*"role"\s*:\s*"(user|assistant)"')
_UI = re.compile(r'^\s*\[\s*\{[^{}]*"type"\s*:\s*"(say|ask)"')
_ROO_HINTS = (
    "<apply_diff>",
    "<insert_content>",
    "<search_and_replace>",
    "<switch_mode>",
    "Current Workspace Directory",
)


def sniff(path: Path, head: str) -> bool:
    """By name and content: other tools write Anthropic message arrays too, under other names."""
    if path.name == HISTORY:
        return bool(_ROLE.match(head)) or head.strip() == "[]"
    if path.name == UI:
        return bool(_UI.match(head))
    if path.name == METADATA:
        return '"files_in_context"' in head or '"model_usage"' in head
    return False


def is_attached(path: Path) -> bool:
    """`ui_messages.json` beside a conversation file, and `task_metadata.json`: read with the task."""
    if path.name == METADATA:
        return True
    return path.name == UI and (path.parent / HISTORY).is_file()


def _load(path: Path, report: IngestReport) -> list | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as e:
        report.skip(
            str(path), None, f"not a JSON array ({str(e)[:80]}); expected a Cline task file", "bad_json"
        )
        return None
    if not isinstance(data, list):
        report.skip(str(path), None, "not a JSON array; expected a Cline task file", "bad_record")
        return None
    return data


def _tool(folder: Path, raw: str) -> str:
    if "roo-cline" in str(folder).lower() or "roo-code" in str(folder).lower():
        return "roo_code"
    if "saoudrizwan.claude-dev" in str(folder):
        return "cline"
    return "roo_code" if any(h in raw for h in _ROO_HINTS) else "cline"


def _metadata_warnings(folder: Path, b: SessionBuilder, report: IngestReport) -> None:
    meta = folder / METADATA
    if not meta.is_file():
        return
    try:
        data = json.loads(meta.read_text(encoding="utf-8", errors="replace"))
        report.counts["bytes"] += meta.stat().st_size
    except (OSError, ValueError):
        report.skip(str(meta), None, "not JSON; the task's file records are left out", "bad_json")
        return
    files = data.get("files_in_context") if isinstance(data, dict) else None
    edited = sorted(
        {
            str(f.get("path"))
            for f in files or []
            if isinstance(f, dict) and f.get("record_source") == "user_edited"
        }
    )
    if edited:
        report.counts["cline/files_the_user_edited"] += len(edited)
        b.warn(
            f"the user edited {len(edited)} file(s) during the task (task_metadata.json); edits made outside the "
            "agent's tools are in the gold only where a later saved file shows them: "
            + ", ".join(edited[:10])
        )


def _attached_ui(folder: Path, report: IngestReport) -> list:
    """The chat beside a conversation file: it tells which files the task created."""
    path = folder / UI
    if not path.is_file():
        return []
    report.counts["bytes"] += path.stat().st_size
    return _load(path, report) or []


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    folder = path if path.is_dir() else path.parent
    history = folder / HISTORY
    source = history if history.is_file() else folder / UI
    if path.name in (HISTORY, UI) and not history.is_file():
        source = path
    data = _load(source, report)
    if data is None:
        return
    if source != path and source.is_file():
        report.counts["bytes"] += source.stat().st_size
    raw = source.read_text(encoding="utf-8", errors="replace")[:200_000]
    b = SessionBuilder(_tool(folder, raw), str(source), folder.name, report)
    report.counts["records"] += len(data)
    ui = data if source.name == UI else _attached_ui(folder, report)
    if source.name == UI:
        b.set_header(cwd=find_cwd_ui(data))
        report.counts["cline/ui_only_tasks"] += 1
        b.warn(
            "read from ui_messages.json alone (no api_conversation_history.json): tool calls as the chat showed them"
        )
        events = ui_events(data)
    else:
        b.set_header(cwd=find_cwd(data))
        events = history_events(data)
    _metadata_warnings(folder, b, report)
    yield from TaskWalk(b, opts, existence(ui)).run(events)
