"""The session builder every log reader shares: events in, Episodes out.

- `builder`: `SessionBuilder`, the calls a reader makes while walking a log (user messages, tool calls,
  edits applied or proposed, feedback, reverts, new episodes) and `finish()`;
- `episode`: how an episode closes (the accepted end state, each edit's fate, provenance);
- `labels`: gold and negative edits of a closed episode (also used by the git linker);
- `report`: `ReadOptions` (what every reader takes) and `IngestReport` (counters, problems with file and
  line).

    from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder

Pure Python, CPU only.
"""

from golddiff.traces.session.builder import SessionBuilder
from golddiff.traces.session.episode import KEEP, PARSER_VERSION
from golddiff.traces.session.labels import label_edits, labels_of
from golddiff.traces.session.report import IngestReport, ReadOptions

__all__ = [
    "KEEP",
    "PARSER_VERSION",
    "IngestReport",
    "ReadOptions",
    "SessionBuilder",
    "label_edits",
    "labels_of",
]
