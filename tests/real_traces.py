"""Where the real public session logs are (`../shared/real_traces`, see its SOURCES.md): one finder for every
test that reads them. They are third-party data, read in place, never copied into the project; a test
that needs one skips when it is absent.

    from real_traces import REAL, real
    path = real("pi/session.jsonl")     # the file, or the test is skipped (not here)

Looked for: the folder in $GOLDDIFF_REAL_TRACES, else `shared/real_traces` beside the project root, or
one level further up (a checkout in a worktree folder, e.g. wt/NAME).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _find() -> Path | None:
    candidates = [os.environ.get("GOLDDIFF_REAL_TRACES")]
    candidates += [str(up / "shared" / "real_traces") for up in (ROOT.parent, ROOT.parent.parent)]
    return next((Path(c) for c in candidates if c and Path(c).is_dir()), None)


REAL: Path | None = _find()


def real(name: str) -> Path:
    """The real trace `name` (relative to the folder); skips the calling test when it is not here."""
    if REAL is None or not (REAL / name).exists():
        pytest.skip(f"shared/real_traces/{name} is not here")
    return REAL / name
