"""Reading JSONL logs line by line: bad bytes cost one record, not the file; parsing is fast.

    for lineno, line, cut in text_lines(path, report):
        rec = loads(line)             # ValueError for anything that is not JSON, nesting included

`text_lines` reads the file once and splits it at line feeds, as bytes (orjson parses bytes directly and
checks UTF-8 as it goes); a line that is not UTF-8 (`BadEncoding` from `loads`) or holds a NUL byte (a
crash mid-write, a disk error, a binary paste) is reported with its file, line and byte column and
skipped, never echoed.
`loads` is orjson (several times faster than `json`) falling back to `json` for what orjson refuses
(lone surrogate escapes, NaN, numbers out of range); nesting deeper than either parser allows is a
ValueError like any other bad line, so it stays that record's problem.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

from golddiff.traces.session import IngestReport


class BadEncoding(ValueError):
    """A line that is not UTF-8 text; `msg` says where (never what)."""

    def __init__(self, msg: str):
        super().__init__(msg)
        self.msg = msg


def loads(text: str | bytes) -> Any:
    """One JSON value from a line (bytes are parsed without decoding the file first)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return json.loads(text)
    except UnicodeDecodeError as e:
        raise BadEncoding(f"not UTF-8 text (an invalid byte at column {e.start + 1})") from None
    except RecursionError:
        raise ValueError("nested too deeply") from None


def text_lines(path: Path, report: IngestReport) -> Iterator[tuple[int, bytes, bool]]:
    """(line number, line without its newline, whether it was cut short: the last line, with no newline)
    of a JSONL file, as bytes for `loads` (which checks UTF-8 itself: see `BadEncoding`); lines with a
    NUL byte are reported and skipped here."""
    data = path.read_bytes()
    if b"\x00" not in data:
        for lineno, (line, cut) in enumerate(_split(data, b"\n"), 1):
            yield lineno, line, cut
        return
    for lineno, (raw, cut) in enumerate(_split(data, b"\n"), 1):
        nul = raw.find(b"\x00")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            what = f"not UTF-8 text (an invalid byte at column {e.start + 1})"
        else:
            if nul < 0:
                yield lineno, raw, cut
                continue
            what = f"a NUL byte at column {nul + 1} (a write cut short or binary data)"
        report.counts["records"] += 1
        report.skip(str(path), lineno, f"{what}; record skipped", "bad_encoding")


def _split(text, nl):
    """(line, cut) at line feeds only (a JSON string may hold U+2028 and friends), without the newline;
    `cut`: the last line had none (a write interrupted).

    Found with `find` (memchr) rather than `split`, which steps through every byte: log lines are long
    (a Read result holds a whole file), and this is ~4x faster on them."""
    start, step = 0, len(nl)
    while (end := text.find(nl, start)) >= 0:
        yield text[start:end], False
        start = end + step
    if start < len(text):
        yield text[start:], True
