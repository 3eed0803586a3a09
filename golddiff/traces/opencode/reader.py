"""OpenCode sessions: `opencode export` JSON, the 1.x storage folders and the 2.x SQLite database.

    from golddiff.traces import opencode
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in opencode.read(Path("session.json"), IngestReport(), ReadOptions()):
        print(ep.task[:60], [e.status for e in ep.edits])

or `golddiff ingest ~/.local/share/opencode` (found there by default). Pure Python, CPU only.

Where the sessions come from is `sources.py`; how one becomes an episode (edits, fates, feedback, the
base known from `summary.diffs`) is `walk.py`. A 1.x storage folder is read through its session files
(`storage/session/<project>/<id>.json`): the message and part files beside them are "attached" to
their session, and so is a subagent's session file. A database gives one episode per session.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.opencode.sources import (
    Session,
    from_database,
    from_export,
    from_storage,
    is_database,
    parent_in_storage,
    storage_layout,
)
from golddiff.traces.opencode.walk import SessionWalk
from golddiff.traces.session import IngestReport, ReadOptions

FORMAT = "opencode"

_EXPORT_HEAD = re.compile(r'^\s*\{\s*"info"\s*:\s*\{')
_SESSION_ID = re.compile(r'"id"\s*:\s*"ses_')
_ID = {
    kind: re.compile(rf'"id"\s*:\s*"{prefix}_[0-9A-Za-z]+"')
    for kind, prefix in (("session", "ses"), ("message", "msg"), ("part", "prt"))
}


def _storage_kind(path: Path) -> str | None:
    """ "session", "message", "part" or "session_diff" for a file of OpenCode's JSON storage."""
    parts = path.parts
    if path.suffix != ".json" or len(parts) < 3:
        return None
    for kind in ("session_diff", "message", "part"):
        if kind in parts[-4:-1] and ("storage" in parts or "session" in parts[-4:-1]):
            return kind
    return "session" if "session" in parts[-3:-1] else None


def sniff(path: Path, head: str) -> bool:
    if _EXPORT_HEAD.match(head) and _SESSION_ID.search(head[:4000]):
        return True
    kind = _storage_kind(path)
    if kind == "session_diff":
        return head.lstrip().startswith("[")
    return kind in _ID and head.lstrip().startswith("{") and _ID[kind].search(head[:4000]) is not None


def sniff_database(path: Path) -> bool:
    return is_database(path)


def is_attached(path: Path) -> bool:
    """Message, part and session-diff files (read with their session), and a subagent's session file."""
    kind = _storage_kind(path)
    if kind in ("message", "part", "session_diff"):
        return True
    return kind == "session" and storage_layout(path) is not None and parent_in_storage(path)


def _sessions(path: Path, report: IngestReport) -> Iterable[Session]:
    if is_database(path):
        return from_database(path, report)
    try:
        data = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except ValueError as e:
        report.skip(str(path), None, f"not JSON ({str(e)[:80]}); expected an OpenCode session", "bad_json")
        return []
    if not isinstance(data, dict):
        report.skip(str(path), None, "not a JSON object; expected an OpenCode session", "bad_record")
        return []
    if isinstance(data.get("info"), dict) and isinstance(data.get("messages"), list):
        return [from_export(path, data, report)]
    layout = storage_layout(path)
    if layout is not None and str(data.get("id", "")).startswith("ses_"):
        return [from_storage(path, data, layout[0], layout[1], report)]
    report.skip(
        str(path),
        None,
        "an OpenCode message or part file: pass the session file or the storage folder",
        "attached",
    )
    return []


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    for session in _sessions(path, report):
        if not isinstance(session.info.get("id"), str):
            report.skip(str(path), None, "a session without an id; skipped", "bad_record")
            continue
        yield from SessionWalk(session, report, opts).episodes()
