"""Cursor's `state.vscdb` SQLite databases (global and per workspace): each composer -> Episodes.

- `reader`: the databases opened read-only (copied first when Cursor holds them locked), composers read
  oldest first;
- `store`: composers loaded from `ItemTable` (inline) or `cursorDiskKV` (`composerData:*`, `bubbleId:*`);
- `blocks`: suggested code blocks and the user's answers to them; `tools`: agent-mode edit tool calls;
- `walk`: one composer's bubbles walked into a `SessionBuilder`.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `sniff_database`,
`is_attached`, `read`.
"""

from golddiff.traces.cursor.reader import FORMAT, is_attached, read, sniff, sniff_database

__all__ = ["FORMAT", "is_attached", "read", "sniff", "sniff_database"]
