"""What every reader takes and gives back besides episodes: `ReadOptions`, and `IngestReport` (counters
and problems, each reported with its file and line, each kind of warning given once).

    report = IngestReport(quiet=True)
    episodes = list(claude_code.read(path, report, ReadOptions(max_output_chars=5_000)))
    print(report.counts["skipped_records"], report.problems[:3])

Pure Python, CPU only; imported through `golddiff.traces.session`.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass, field

from golddiff.config import Strict


class ReadOptions(Strict):
    """Settings every reader takes."""

    max_output_chars: int = 20_000  # tool outputs longer than this are cut (the cut is stated)
    split_on_clear: bool = True  # a /clear (or /new) command starts a new episode
    repo: str | None = None  # the git repository the sessions ran in (base files at a commit, gold links)


@dataclass
class IngestReport:
    """Counters for `--stats`, and problems reported with file and line, each kind warned about once."""

    counts: Counter = field(default_factory=Counter)
    redactions: Counter = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)
    quiet: bool = False
    _warned: set = field(default_factory=set)
    max_problem_lines: int = 50

    def skip(self, path: str, line: int | str | None, what: str, kind: str = "bad_record") -> None:
        """A record that could not be used: report it (file, line, what), count it, keep going."""
        self.counts["skipped_records"] += 1
        self.counts[f"skipped/{kind}"] += 1
        where = f"{path}:{line}" if line is not None else path
        msg = f"{where}: {what}"
        self.problems.append(msg)
        if not self.quiet and len(self.problems) <= self.max_problem_lines:
            print(f"golddiff: skipped {msg}", file=sys.stderr)
        elif not self.quiet and len(self.problems) == self.max_problem_lines + 1:
            print("golddiff: more skipped records; see --stats for the counts", file=sys.stderr)

    def unknown(self, path: str, line: int | None, kind: str) -> None:
        """A record kind this version does not know: counted, warned about once per kind, not fatal."""
        self.counts["unknown_records"] += 1
        self.counts[f"unknown/{kind}"] += 1
        if kind not in self._warned and not self.quiet:
            self._warned.add(kind)
            print(
                f"golddiff: note: {path}:{line}: unknown record kind {kind!r} (ignored; counted)",
                file=sys.stderr,
            )

    def warn_once(self, kind: str, msg: str) -> None:
        if kind not in self._warned and not self.quiet:
            self._warned.add(kind)
            print(f"golddiff: warning: {msg}", file=sys.stderr)
