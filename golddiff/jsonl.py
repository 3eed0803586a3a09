"""Appending to JSONL files so that nothing written is ever torn, doubled or lost.

Every append-only file golddiff keeps (episodes.jsonl, a run's ledger.jsonl, metrics.jsonl and
rollouts.jsonl) goes through `JsonlAppender`:

- a torn last line (a process killed mid-write, a full disk) is repaired before the first append: the
  fragment is moved into `NAME.torn` (appended there, never lost) and reported, so no new line is ever
  glued onto half of an old one;
- each line is written with one `write` of its bytes and flushed (fsynced when asked); when the disk is
  full the partial line is cut off again and `DiskFullError` says which file, how much was kept and what
  to do, instead of an `OSError` traceback;
- with `lock=True` each append holds an exclusive `flock` on the file and first reads the lines other
  processes appended since (`on_new_line`), so two ingests appending to one `-o` never write the same
  episode twice.

    with JsonlAppender("episodes.jsonl", lock=True, on_new_line=remember_id) as out:
        if not out.append(line_bytes, key=episode_id, known=ids):
            ...  # another process wrote it first

No torch; POSIX (fcntl).
"""

from __future__ import annotations

import errno
import fcntl
import os
import sys
from collections.abc import Callable
from pathlib import Path

TORN_SUFFIX = ".torn"
_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


class DiskFullError(OSError):
    """No space left while appending: the file is intact up to its last whole line."""

    def __init__(self, path: Path, kept_lines: int, err: OSError):
        super().__init__(
            err.errno,
            f"{path}: {os.strerror(err.errno or errno.ENOSPC).lower()} while appending; the partial line was "
            f"removed and the {kept_lines} lines written by this run are intact. Free some space and run "
            "the same command again: what was written is kept, nothing is written twice",
        )
        self.path = path


def print_note(msg: str) -> None:
    """The default `on_repair`: say it on stderr."""
    print(f"golddiff: note: {msg}", file=sys.stderr)


def repair_torn_tail(path: str | Path) -> tuple[Path, int] | None:
    """If the file's last line has no newline (a write cut short), move that fragment into PATH.torn.

    Returns (the .torn file, bytes moved), or None when the file ends cleanly (or does not exist).
    """
    path = Path(path)
    if not path.is_file():
        return None
    with open(path, "r+b") as f:
        size = f.seek(0, os.SEEK_END)
        if size == 0:
            return None
        f.seek(size - 1)
        if f.read(1) == b"\n":
            return None
        start = _last_line_start(f, size)
        f.seek(start)
        fragment = f.read(size - start)
        torn = path.with_name(path.name + TORN_SUFFIX)
        with open(torn, "ab") as t:
            t.write(fragment + b"\n")
            t.flush()
            os.fsync(t.fileno())
        f.truncate(start)
        f.flush()
        os.fsync(f.fileno())
    return torn, len(fragment)


def _last_line_start(f, size: int) -> int:
    """Offset just after the last newline before `size` (0 if none)."""
    pos, chunk = size, 1 << 16
    while pos > 0:
        lo = max(0, pos - chunk)
        f.seek(lo)
        block = f.read(pos - lo)
        i = block.rfind(b"\n")
        if i >= 0:
            return lo + i + 1
        pos = lo
    return 0


class JsonlAppender:
    """Appends whole lines to one JSONL file; see the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        lock: bool = False,
        fsync: bool = False,
        on_new_line: Callable[[bytes], None] | None = None,
        on_repair: Callable[[str], None] | None = None,
    ):
        self.path = Path(path)
        self.lock, self.fsync, self.on_new_line = lock, fsync, on_new_line
        self.on_repair = on_repair
        self.lines_written = 0
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self._seen = 0  # bytes of the file this process has read or written
        with self._locked():
            self._repair()
            if on_new_line is not None:
                self._read_new()
            self._seen = self._size()

    def _size(self) -> int:
        return os.fstat(self._fd).st_size

    def _locked(self):
        return _Flock(self._fd) if self.lock else _NoLock()

    def _repair(self) -> None:
        torn = repair_torn_tail(self.path)
        if torn is not None and self.on_repair is not None:
            self.on_repair(
                f"{self.path}: the last line was cut short ({torn[1]} bytes: an interrupted write); "
                f"moved it to {torn[0]} and appending after the last whole line"
            )

    def _read_new(self) -> None:
        """Lines other processes appended since this one last looked (whole lines only)."""
        size = self._size()
        if size <= self._seen or self.on_new_line is None:
            return
        with open(self.path, "rb") as f:
            f.seek(self._seen)
            for line in f:
                if line.endswith(b"\n") and line.strip():
                    self.on_new_line(line)

    def append(self, line: bytes, key: str | None = None, known: set[str] | None = None) -> bool:
        """Append one line (without its newline). With `key` and `known`: skip it (returning False)
        when `key` is in `known` after reading what others appended; else add `key` to `known`."""
        with self._locked():
            if self.lock and self._size() != self._seen:  # someone else appended since our last look
                self._repair()  # a writer that died holding the file may have left a fragment
                self._read_new()
            if key is not None and known is not None and key in known:
                self._seen = self._size()
                return False
            start = self._size()
            try:
                view = memoryview(line + b"\n")
                while view:  # unbuffered: nothing is left in a buffer to be written later
                    view = view[os.write(self._fd, view) :]
                if self.fsync:
                    os.fsync(self._fd)
            except OSError as e:
                if e.errno not in _FULL:
                    raise
                os.ftruncate(self._fd, start)  # no torn line left behind
                raise DiskFullError(self.path, self.lines_written, e) from None
            self._seen = self._size()
            if key is not None and known is not None:
                known.add(key)
            self.lines_written += 1
            return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> JsonlAppender:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Flock:
    def __init__(self, fd: int):
        self.fd = fd

    def __enter__(self):
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        fcntl.flock(self.fd, fcntl.LOCK_UN)


class _NoLock:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return None
