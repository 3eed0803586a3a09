"""OpenCode sessions: `opencode export` JSON, the 1.x storage folders and the 2.x SQLite database.

- `reader`: which file is a session (the message and part files of a 1.x storage are attached to it),
  and one Episode per session;
- `sources`: sessions loaded from any of the three places into one shape;
- `walk`: one session's messages and parts walked into a `SessionBuilder`.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `sniff_database`,
`is_attached`, `read`.
"""

from golddiff.traces.opencode.reader import FORMAT, is_attached, read, sniff, sniff_database

__all__ = ["FORMAT", "is_attached", "read", "sniff", "sniff_database"]
