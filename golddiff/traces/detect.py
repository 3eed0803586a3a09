"""Which reader reads a file: detected from its content, not only its name."""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

# format name -> module; order matters only when two readers could claim the same file
READERS: dict[str, str] = {
    "claude_code": "golddiff.traces.claude_code",
    "codex": "golddiff.traces.codex",
    "aider": "golddiff.traces.aider",
    "swe_agent": "golddiff.traces.swe_agent",
    "openhands": "golddiff.traces.openhands",
    "cursor": "golddiff.traces.cursor",
    "opencode": "golddiff.traces.opencode",
    "cline": "golddiff.traces.cline",
}

HEAD_BYTES = 16_384
SQLITE_MAGIC = b"SQLite format 3\x00"


def reader(fmt: str) -> ModuleType:
    if fmt not in READERS:
        raise ValueError(f"unknown format {fmt!r}; known formats: {', '.join(READERS)}")
    return importlib.import_module(READERS[fmt])


def read_head(path: Path) -> str | None:
    """The first bytes of a file as text, or None if it is binary (a NUL byte, or not UTF-8)."""
    with open(path, "rb") as f:
        raw = f.read(HEAD_BYTES)
    if b"\x00" in raw:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if e.start >= len(raw) - 4:  # a multi-byte character cut by the read
            return raw[: e.start].decode("utf-8")
        return None


def detect(path: Path, head: str) -> str | None:
    """The format of the file whose first bytes are `head`, or None if no reader claims it."""
    for fmt in READERS:
        if reader(fmt).sniff(path, head):
            return fmt
    return None


def detect_binary(path: Path) -> str | None:
    """The format of a binary file, or None: a SQLite database is claimed by the reader whose
    `sniff_database(path)` recognises its tables (readers without one read no databases)."""
    with open(path, "rb") as f:
        if f.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
            return None
    for fmt in READERS:
        sniff = getattr(reader(fmt), "sniff_database", None)
        if sniff is not None and sniff(path):
            return fmt
    return None
