"""Gemini CLI chats (`~/.gemini/tmp/<project>/chats/session-*.json` and `.jsonl`, subagents beside them).

- `reader`: both layouts (one rewritten object, and the newer JSON lines with `$set` / `$rewindTo`)
  walked into one Episode per session; see its docstring for what becomes of each message.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.gemini.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
