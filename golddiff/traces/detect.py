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
    "gemini_cli": "golddiff.traces.gemini",
    "copilot_cli": "golddiff.traces.copilot.cli",
    "copilot_vscode": "golddiff.traces.copilot.vscode",
    "pi": "golddiff.traces.pi",
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
    """The first bytes of a file as text, or None if it is binary.

    A text log with a damaged line (a NUL byte, bytes that are not UTF-8: a crash mid-write) is still
    text: those lines are left out of the head, and the reader skips them as records. A file where more
    than 1% of the head is such bytes is binary.
    """
    with open(path, "rb") as f:
        raw = f.read(HEAD_BYTES)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        if b"\x00" not in raw and e.start >= len(raw) - 4 and len(raw) == HEAD_BYTES:
            return raw[: e.start].decode("utf-8")  # a multi-byte character cut by the read
        text = raw.decode("utf-8", errors="replace")
    else:
        if "\x00" not in text:
            return text
    if text.count("\ufffd") + text.count("\x00") > 0.01 * max(len(raw), 1):
        return None
    return "\n".join(ln for ln in text.split("\n") if "\ufffd" not in ln and "\x00" not in ln)


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
