"""A log file that is either JSON lines or one JSON object: which it is, and the object when it is one.

    text = path.read_text(encoding="utf-8", errors="replace")
    first = first_record(text)             # the first line as an object (JSONL), or None
    data = whole_object(path, text, report, "a Gemini CLI chat object")   # None: reported, skipped

Used by the Gemini CLI and GitHub Copilot readers, whose agents wrote one layout, then the other.
"""

from __future__ import annotations

import json
from pathlib import Path

from golddiff.traces.session import IngestReport


def first_record(text: str) -> dict | None:
    """The first line of `text` as a JSON object, or None (not JSON, not an object, or cut short)."""
    try:
        rec = json.loads(text.lstrip().split("\n", 1)[0])
    except ValueError:
        return None
    return rec if isinstance(rec, dict) else None


def whole_object(path: Path, text: str, report: IngestReport, expected: str) -> dict | None:
    """The whole file as one JSON object; else the file is reported (what was `expected`) and None."""
    try:
        data = json.loads(text)
    except ValueError as e:
        report.skip(str(path), None, f"not JSON ({str(e)[:80]}); expected {expected}", "bad_json")
        return None
    if not isinstance(data, dict):
        report.skip(str(path), None, f"a JSON {type(data).__name__}; expected {expected}", "bad_record")
        return None
    return data
