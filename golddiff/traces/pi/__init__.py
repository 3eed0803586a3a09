"""pi coding agent sessions (`~/.pi/agent/sessions/--<cwd>--/<timestamp>_<uuid>.jsonl`, format v1-v3).

- `reader`: the `id`/`parentId` entry tree walked into one Episode per session (tool calls and results,
  compaction, branches); see its docstring for what becomes of each entry.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.pi.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
