"""Cursor's `state.vscdb` databases -> composers (Cursor's chats), each with its bubbles in order.

    for c in load_composers(Path("state.vscdb"), report):
        print(c.id, c.name, len(c.bubbles), c.workspace)

A `state.vscdb` is SQLite with key/value tables `ItemTable` and (since ~0.43) `cursorDiskKV`, values
JSON text. Composers live in three shapes, all read:

- inline, in a workspace database's `ItemTable` key `composer.composerData`: `{allComposers: [{composerId,
  name, createdAt, conversation: [bubble...], codeBlockData, userResponsesToSuggestedCodeBlocks, ...}]}`
  (Cursor <= 0.42);
- in `cursorDiskKV` key `composerData:<composerId>` (the global database since ~0.43), either with an inline
  `conversation` or with `fullConversationHeadersOnly: [{bubbleId, type}]` whose bubbles are the keys
  `bubbleId:<composerId>:<bubbleId>`;
- a workspace database whose `composer.composerData` lists only heads (ids, names) of composers whose
  content is in the global database: those are counted and named, read from the global one.

The database is opened read-only and copied first when Cursor holds it locked (`logs/sqlite_ro`). A
workspace database's folder is its `workspace.json` (`{"folder": "file:///..."}`); a global database's
composers are given the folder of the workspace database that lists them, found in the sibling
`workspaceStorage/` folder. Pure Python, CPU only.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlparse

from golddiff.traces.logs.sqlite_ro import read_all
from golddiff.traces.session import IngestReport

INLINE_KEY = "composer.composerData"
COMPOSER_KEYS = "key >= 'composerData:' AND key < 'composerData;'"  # the keys composerData:*, by index


@dataclass
class Composer:
    id: str
    data: dict
    bubbles: list[dict]
    where: str  # the key it came from
    workspace: str | None = None  # the folder Cursor had open, when known
    missing_bubbles: int = 0
    extra: dict = field(default_factory=dict)  # other values the edits refer to (content ids)


def uri_path(uri: object) -> str | None:
    """The file system path of a VS Code URI (a `{fsPath, path, external}` object or a `file://` string)."""
    if isinstance(uri, dict):
        for key in ("fsPath", "path"):
            if isinstance(uri.get(key), str) and uri[key]:
                return _drive(uri[key])
        uri = uri.get("external")
    if isinstance(uri, str) and uri.startswith("file://"):
        return _drive(unquote(urlparse(uri).path))
    if isinstance(uri, str) and uri:
        return _drive(uri)
    return None


def _drive(p: str) -> str:
    """`/c:/Users/x` and `C:\\Users\\x` -> `c:/Users/x` (one spelling of a Windows path); others as they are."""
    p = p.replace("\\", "/")
    if len(p) > 2 and p[0] == "/" and p[2] == ":":
        p = p[1:]
    if len(p) > 1 and p[1] == ":":
        p = p[0].lower() + p[1:]
    return p


def _value(raw: object) -> object:
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


def _tables(con: sqlite3.Connection) -> set[str]:
    return {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def is_cursor_database(path: Path) -> bool:
    """A `state.vscdb` holding Cursor composers (not any VS Code state database)."""

    def probe(con: sqlite3.Connection) -> bool:
        names = _tables(con)
        if "cursorDiskKV" in names:
            hit = con.execute(f"SELECT 1 FROM cursorDiskKV WHERE {COMPOSER_KEYS} LIMIT 1").fetchone()
            if hit:
                return True
        if "ItemTable" in names:
            return con.execute("SELECT 1 FROM ItemTable WHERE key = ?", (INLINE_KEY,)).fetchone() is not None
        return False

    try:
        return read_all(path, probe)
    except sqlite3.Error:
        return False


def workspace_folder(db: Path) -> str | None:
    """The folder a workspace database belongs to, from the `workspace.json` beside it."""
    meta = db.parent / "workspace.json"
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    target = data.get("folder") or data.get("workspace") if isinstance(data, dict) else None
    path = uri_path(target) if isinstance(target, str) else None
    if path and path.endswith(".code-workspace"):
        path = path.rsplit("/", 1)[0]
    return path


def _heads(con: sqlite3.Connection) -> list[dict]:
    if "ItemTable" not in _tables(con):
        return []
    row = con.execute("SELECT value FROM ItemTable WHERE key = ?", (INLINE_KEY,)).fetchone()
    data = _value(row[0]) if row else None
    heads = data.get("allComposers") if isinstance(data, dict) else None
    return [h for h in heads or [] if isinstance(h, dict) and isinstance(h.get("composerId"), str)]


def _global_attribution(db: Path) -> dict[str, str]:
    """composer id -> workspace folder, from the workspace databases beside a global database."""
    out: dict[str, str] = {}
    storage = db.parent.parent / "workspaceStorage"
    if db.parent.name != "globalStorage" or not storage.is_dir():
        return out
    for ws in sorted(storage.glob("*/state.vscdb")):
        folder = workspace_folder(ws)
        if folder is None:
            continue
        try:
            for head in read_all(ws, _heads):
                out.setdefault(head["composerId"], folder)
        except sqlite3.Error:
            continue
    return out


def load_composers(path: Path, report: IngestReport) -> Iterator[Composer]:
    """Every composer of the database with its bubbles, oldest first (module doc). One composer is held
    in memory at a time (a global database runs to gigabytes): a first pass finds the split composers'
    creation times, the second loads them one by one."""

    def index(con: sqlite3.Connection) -> tuple[list[tuple[int, str, str]], list[dict], list[str]]:
        split: list[tuple[int, str, str]] = []  # (createdAt, composer id, key)
        names = _tables(con)
        if "cursorDiskKV" in names:
            for key, raw in con.execute(f"SELECT key, value FROM cursorDiskKV WHERE {COMPOSER_KEYS}"):
                data = _value(raw)
                if not isinstance(data, dict):
                    if raw is not None and raw not in (b"null", "null"):
                        what = "a composer value that is not a JSON object; skipped"
                        report.skip(str(path), key, what, "bad_record")
                    continue
                cid = str(data.get("composerId") or key.split(":", 1)[1])
                created = data.get("createdAt") if isinstance(data.get("createdAt"), int) else 0
                split.append((created, cid, key))
        seen = {cid for _, cid, _ in split}
        inline, heads_only = [], []
        for head in _heads(con):
            if head["composerId"] in seen:
                continue
            if isinstance(head.get("conversation"), list):
                inline.append(head)
            else:
                heads_only.append(head["composerId"])
        return split, inline, heads_only

    split, inline, heads_only = read_all(path, index)
    if heads_only:
        report.counts["cursor/composers_in_global_storage"] += len(heads_only)
        report.warn_once(
            "cursor_heads_only",
            f"{path}: {len(heads_only)} composer(s) listed here keep their content in the global "
            "database (…/User/globalStorage/state.vscdb); read that file too",
        )
    folder = workspace_folder(path)
    attribution = _global_attribution(path) if folder is None and split else {}
    order = [(int(h.get("createdAt") or 0), h["composerId"], h) for h in inline]
    order += [(created, cid, key) for created, cid, key in split]
    for _, cid, ref in sorted(order, key=lambda x: (x[0], x[1])):
        if isinstance(ref, dict):
            bubbles = [b for b in ref["conversation"] if isinstance(b, dict)]
            composer = Composer(cid, ref, bubbles, INLINE_KEY)
        else:
            composer = read_all(path, lambda con, cid=cid, key=ref: _load_split(con, cid, key, path, report))
            if composer is None:
                continue
        composer.workspace = folder or attribution.get(cid)
        yield composer


def _load_split(
    con: sqlite3.Connection, cid: str, key: str, path: Path, report: IngestReport
) -> Composer | None:
    row = con.execute("SELECT value FROM cursorDiskKV WHERE key = ?", (key,)).fetchone()
    data = _value(row[0]) if row else None
    return _from_kv(con, cid, data, key, path, report) if isinstance(data, dict) else None


def _from_kv(
    con: sqlite3.Connection, cid: str, data: dict, key: str, path: Path, report: IngestReport
) -> Composer:
    if isinstance(data.get("conversation"), list) and data["conversation"]:
        bubbles = [b for b in data["conversation"] if isinstance(b, dict)]
        return Composer(cid, data, bubbles, key)
    headers = [h for h in data.get("fullConversationHeadersOnly") or [] if isinstance(h, dict)]
    stored: dict[str, dict] = {}
    prefix = f"bubbleId:{cid}:"  # a key range: it uses the key's index, where LIKE would scan the table
    for bkey, raw in con.execute(
        "SELECT key, value FROM cursorDiskKV WHERE key >= ? AND key < ?", (prefix, prefix[:-1] + ";")
    ):
        body = _value(raw)
        if isinstance(body, dict):
            stored[bkey.rsplit(":", 1)[1]] = body
    cmap = data.get("conversationMap") if isinstance(data.get("conversationMap"), dict) else {}
    bubbles, missing = [], 0
    for h in headers:
        bid = str(h.get("bubbleId"))
        body = stored.get(bid) or (cmap.get(bid) if isinstance(cmap.get(bid), dict) else None)
        if body is None:
            missing += 1
            continue
        bubbles.append({"type": h.get("type"), "bubbleId": bid, **body})
    if missing:
        report.counts["cursor/missing_bubbles"] += missing
    composer = Composer(cid, data, bubbles, key, missing_bubbles=missing)
    composer.extra = _content_values(con, bubbles)
    return composer


def _content_values(con: sqlite3.Connection, bubbles: list[dict]) -> dict:
    """Values the bubbles' tool results point at by id (`afterContentId`: the file after an edit)."""
    wanted = set()
    for b in bubbles:
        tool = b.get("toolFormerData") if isinstance(b.get("toolFormerData"), dict) else None
        result = _value(tool.get("result")) if tool and isinstance(tool.get("result"), str) else None
        if isinstance(result, dict) and isinstance(result.get("afterContentId"), str):
            wanted.add(result["afterContentId"])
    out = {}
    for key in wanted:
        row = con.execute("SELECT value FROM cursorDiskKV WHERE key = ?", (key,)).fetchone()
        if row is not None:
            raw = row[0].decode("utf-8", errors="replace") if isinstance(row[0], bytes) else row[0]
            val = _value(raw)
            out[key] = val if isinstance(val, str) else raw
    return out
