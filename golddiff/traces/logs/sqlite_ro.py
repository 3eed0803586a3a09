"""Open another program's SQLite database for reading only, even while that program holds it.

    with open_readonly(Path("state.vscdb")) as con:
        rows = con.execute("SELECT key FROM ItemTable").fetchall()

The database is opened with `file:...?mode=ro` (SQLite never writes to it, never creates a journal
beside it). When that fails or the first query finds it locked (Cursor keeps its `state.vscdb` open
and may hold a write lock; a WAL database needs a `-shm` file it may not be allowed to create), the
file and its `-wal` are copied to a temporary folder once per process and the copy is read instead;
the copy is removed when the process exits. The original is never written. Standard library only.
"""

from __future__ import annotations

import atexit
import shutil
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_COPIES: dict[str, Path] = {}  # original path -> its copy, made once per process
_TMP: list[Path] = []


def _cleanup() -> None:
    for folder in _TMP:
        shutil.rmtree(folder, ignore_errors=True)


atexit.register(_cleanup)


def _uri(path: Path) -> str:
    return "file:" + str(path.resolve()).replace("?", "%3f").replace("#", "%23") + "?mode=ro"


def _try(path: Path) -> sqlite3.Connection | None:
    con = None
    try:
        con = sqlite3.connect(_uri(path), uri=True, timeout=0.2)
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return con
    except sqlite3.OperationalError:
        if con is not None:
            con.close()
        return None


def copy_of(path: Path) -> Path:
    """A private copy of the database (and its write-ahead log), made once per process."""
    key = str(path.resolve())
    if key not in _COPIES:
        folder = Path(tempfile.mkdtemp(prefix="golddiff-sqlite-"))
        _TMP.append(folder)
        dest = folder / path.name
        shutil.copy2(path, dest)
        for suffix in ("-wal", "-journal"):  # a hot journal is rolled back in the copy: a consistent state
            side = path.with_name(path.name + suffix)
            if side.is_file():
                shutil.copy2(side, folder / side.name)
        _COPIES[key] = dest
    return _COPIES[key]


@contextmanager
def open_readonly(path: Path, force_copy: bool = False) -> Iterator[sqlite3.Connection]:
    """A read-only connection to `path`, or to a private copy of it when it is locked (module doc).
    `force_copy`: read the copy straight away (a read that met a lock after the first query)."""
    key = str(path.resolve())
    con = None if key in _COPIES or force_copy else _try(path)
    if con is None:
        copy = copy_of(path)
        con = sqlite3.connect(copy, timeout=5)  # our own copy: SQLite may replay its log into it
        con.execute("SELECT count(*) FROM sqlite_master").fetchone()
    try:
        yield con
    finally:
        con.close()


def read_all(path: Path, fn: Callable[[sqlite3.Connection], T]) -> T:
    """`fn(connection)`, run again on a private copy when the database turned out locked mid-read."""
    try:
        with open_readonly(path) as con:
            return fn(con)
    except sqlite3.OperationalError as e:
        if "locked" not in str(e) and "busy" not in str(e):
            raise
    with open_readonly(path, force_copy=True) as con:
        return fn(con)


def was_copied(path: Path) -> bool:
    """Whether `path` had to be read through a copy (it was locked or needed a log it could not open)."""
    return str(path.resolve()) in _COPIES
