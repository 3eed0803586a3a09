"""Cursor: the composers (chats, edits, agent runs) of its `state.vscdb` SQLite databases, one Episode each.

    from golddiff.traces import cursor
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in cursor.read(Path("state.vscdb"), IngestReport(), ReadOptions()):
        print(ep.task[:60], [e.status for e in ep.edits])

or `golddiff ingest` (Cursor's global and workspace databases are found on Linux, macOS and Windows by
default). Cursor keeps the databases open while it runs: they are opened read-only (`mode=ro`), never
written, and copied to a temporary file first when locked. Pure Python (the standard library's
`sqlite3`), CPU only.

`store.py` loads the composers (inline in a workspace database, or split over `composerData:*` and
`bubbleId:*` keys of `cursorDiskKV`); `blocks.py` reads the suggested code blocks and the user's answers;
`tools.py` the agent's edit tool calls; `walk.py` makes the episodes. Composers are read oldest first
so that a file one of them left whole is known to the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from golddiff.episodes import Episode
from golddiff.traces.cursor.store import is_cursor_database, load_composers
from golddiff.traces.cursor.walk import ComposerWalk
from golddiff.traces.logs.sqlite_ro import was_copied
from golddiff.traces.session import IngestReport, ReadOptions

FORMAT = "cursor"


def sniff(path: Path, head: str) -> bool:
    return False  # Cursor writes databases only: see sniff_database


def sniff_database(path: Path) -> bool:
    return is_cursor_database(path)


def is_attached(path: Path) -> bool:
    """`state.vscdb.backup`, the copy Cursor keeps beside a database: its composers are the database's."""
    return path.name.endswith(".vscdb.backup") and path.with_name(path.name.removesuffix(".backup")).is_file()


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    carried: dict[str, str] = {}  # files earlier composers left whole, by workspace-relative path
    for c in load_composers(path, report):
        if not c.bubbles:
            report.counts["cursor/empty_composers"] += 1
            continue
        yield from ComposerWalk(c, str(path), report, opts, carried).episodes()
    if was_copied(path):
        report.counts["cursor/databases_read_from_a_copy"] += 1
