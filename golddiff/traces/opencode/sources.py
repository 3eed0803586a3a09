"""OpenCode sessions, loaded from any of the three places OpenCode keeps them, into one shape.

    for session in load(Path("~/.local/share/opencode/opencode.db").expanduser(), report):
        print(session.info["id"], len(session.messages))

- `opencode export <id>` JSON: `{info, messages: [{info, parts: [...]}]}`.
- 1.x storage folders: `storage/session/<projectID>/<sessionID>.json` (the session), with
  `storage/message/<sessionID>/<messageID>.json` and `storage/part/<messageID>/<partID>.json` beside it,
  and `storage/session_diff/<sessionID>.json` (the session's net change per file, before and after).
  The 0.x layout (`storage/session/info/`, `storage/session/message/<sid>/`, `storage/session/part/<sid>/<mid>/`)
  is read too.
- 2.x SQLite database (`opencode.db`): tables `session`, `message`, `part`, each row's `data` a JSON
  object without its ids (which are the row's columns).

Messages and parts are ordered by their ids (OpenCode's ids ascend with time). A session whose
`parentID` names a session of the same store is a subagent's: it is attached to its parent
(`Session.children`), not read as a session of its own. Pure Python, CPU only.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from golddiff.traces.logs.sqlite_ro import open_readonly, read_all
from golddiff.traces.session import IngestReport


@dataclass
class Message:
    info: dict
    parts: list[dict]
    where: str  # file or table row, for reports


@dataclass
class Session:
    info: dict
    messages: list[Message]
    path: str
    diffs: list[dict] = field(default_factory=list)  # the session's net change per file, when stored
    children: dict[str, Session] = field(default_factory=dict)  # subagent sessions by id
    records: int = 0


def _json_file(path: Path, report: IngestReport) -> dict | list | None:
    try:
        report.counts["bytes"] += path.stat().st_size
        return json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError) as e:
        report.skip(str(path), None, f"not a readable JSON file ({str(e)[:80]}); skipped", "bad_json")
        return None


# ------------------------------------------------------------------------------- export


def from_export(path: Path, data: dict, report: IngestReport) -> Session:
    messages = []
    for i, m in enumerate(data.get("messages") or []):
        if not isinstance(m, dict) or not isinstance(m.get("info"), dict):
            report.skip(str(path), f"messages[{i}]", "a message without its info object", "bad_record")
            continue
        parts = [p for p in m.get("parts") or [] if isinstance(p, dict)]
        messages.append(Message(m["info"], parts, f"messages[{i}]"))
    return Session(
        data["info"], messages, str(path), records=len(messages) + sum(len(m.parts) for m in messages)
    )


# ------------------------------------------------------------------------------- storage folders


def storage_layout(path: Path) -> tuple[Path, str] | None:
    """(the `storage` folder, "1" or "0") when `path` is a session file of OpenCode's JSON storage."""
    parts = path.parts
    is_v1 = len(parts) >= 4 and parts[-3] == "session" and parts[-2] != "info" and path.suffix == ".json"
    if is_v1 and (parts[-4] == "storage" or (path.parents[2] / "message").is_dir()):
        return path.parents[2], "1"
    if len(parts) >= 4 and parts[-3:-1] == ("session", "info") and path.suffix == ".json":
        return path.parents[2], "0"
    return None


def from_storage(path: Path, info: dict, storage: Path, layout: str, report: IngestReport) -> Session:
    sid = str(info.get("id") or path.stem)
    if layout == "1":
        msg_dir, part_root = storage / "message" / sid, storage / "part"
    else:
        msg_dir, part_root = storage / "session" / "message" / sid, storage / "session" / "part" / sid
    messages = []
    for f in sorted(msg_dir.glob("*.json")) if msg_dir.is_dir() else []:
        m = _json_file(f, report)
        if not isinstance(m, dict):
            continue
        mid = str(m.get("id") or f.stem)
        part_dir = part_root / mid
        parts = [p for f2 in sorted(part_dir.glob("*.json")) if isinstance(p := _json_file(f2, report), dict)]
        messages.append(Message(m, sorted(parts, key=lambda p: str(p.get("id", ""))), str(f)))
    messages.sort(key=lambda m: str(m.info.get("id", "")))
    diffs = (
        _json_file(storage / "session_diff" / f"{sid}.json", report)
        if (storage / "session_diff" / f"{sid}.json").is_file()
        else None
    )
    session = Session(info, messages, str(path), diffs if isinstance(diffs, list) else [])
    session.records = len(messages) + sum(len(m.parts) for m in messages)
    for child in _storage_children(path, sid, report):
        session.children[str(child.get("id"))] = from_storage(path, child, storage, layout, report)
    return session


def _storage_children(path: Path, sid: str, report: IngestReport) -> Iterator[dict]:
    for f in sorted(path.parent.glob("*.json")):
        if f == path:
            continue
        try:
            info = json.loads(f.read_text(encoding="utf-8", errors="replace"))
        except (OSError, ValueError):
            continue
        if isinstance(info, dict) and info.get("parentID") == sid:
            yield info


def parent_in_storage(path: Path) -> bool:
    """A 1.x/0.x session file whose parent session is stored beside it (a subagent's session)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, ValueError):
        return False
    parent = info.get("parentID") if isinstance(info, dict) else None
    return isinstance(parent, str) and (path.parent / f"{parent}.json").is_file()


# ------------------------------------------------------------------------------- SQLite (2.x)

_TABLES = {"session", "message", "part"}


def is_database(path: Path) -> bool:
    try:
        with open_readonly(path) as con:
            names = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            if not names >= _TABLES:
                return False
            cols = {r[1] for r in con.execute("PRAGMA table_info(part)")}
            return {"message_id", "session_id", "data"} <= cols
    except sqlite3.Error:
        return False


def from_database(path: Path, report: IngestReport) -> Iterator[Session]:
    """The database's sessions, oldest first, subagents' sessions attached to their parents; one session
    (with its subagents) is loaded at a time."""

    def infos(con: sqlite3.Connection) -> list[dict]:
        cols = {r[1] for r in con.execute("PRAGMA table_info(session)")}
        cur = con.execute("SELECT * FROM session ORDER BY time_created, id")
        names = [d[0] for d in cur.description]
        return [_session_info(dict(zip(names, row)), cols) for row in cur.fetchall()]

    every = read_all(path, infos)
    known = {i["id"] for i in every}
    children: dict[str, list[dict]] = {}
    for info in every:
        if isinstance(info.get("parentID"), str) and info["parentID"] in known:
            children.setdefault(info["parentID"], []).append(info)

    def load(info: dict) -> Session:
        diffs = info.pop("_diffs", None)
        messages = read_all(path, lambda con: _db_messages(con, info["id"], path, report))
        s = Session(info, messages, str(path), diffs if isinstance(diffs, list) else [])
        s.records = len(messages) + sum(len(m.parts) for m in messages)
        for child in children.get(info["id"], []):
            s.children[child["id"]] = load(child)
        return s

    for info in every:
        if not (isinstance(info.get("parentID"), str) and info["parentID"] in known):
            yield load(info)


def _session_info(row: dict, cols: set[str]) -> dict:
    """A session row as the info object the other sources give."""
    info = {
        "id": row["id"],
        "directory": row.get("directory"),
        "title": row.get("title"),
        "version": row.get("version"),
        "parentID": row.get("parent_id"),
        "projectID": row.get("project_id"),
        "time": {"created": row.get("time_created"), "updated": row.get("time_updated")},
    }
    for key, name in (("revert", "revert"), ("summary_diffs", "_diffs")):
        if key in cols and row.get(key):
            with contextlib.suppress(TypeError, ValueError):
                info[name] = json.loads(row[key])
    return info


def _db_messages(con: sqlite3.Connection, sid: str, path: Path, report: IngestReport) -> list[Message]:
    parts: dict[str, list[dict]] = {}
    for pid, mid, data in con.execute(
        "SELECT id, message_id, data FROM part WHERE session_id = ? ORDER BY message_id, id", (sid,)
    ):
        body = _row_json(data, path, f"part {pid}", report)
        if body is not None:
            parts.setdefault(mid, []).append({**body, "id": pid, "messageID": mid, "sessionID": sid})
    out = []
    for mid, data in con.execute(
        "SELECT id, data FROM message WHERE session_id = ? ORDER BY time_created, id", (sid,)
    ):
        body = _row_json(data, path, f"message {mid}", report)
        if body is not None:
            out.append(Message({**body, "id": mid, "sessionID": sid}, parts.get(mid, []), f"message {mid}"))
    return out


def _row_json(data: object, path: Path, where: str, report: IngestReport) -> dict | None:
    try:
        body = json.loads(data) if isinstance(data, (str, bytes)) else None
    except ValueError:
        body = None
    if not isinstance(body, dict):
        report.skip(str(path), where, "its data column is not a JSON object; skipped", "bad_record")
        return None
    return body
