"""Cline and Roo Code task folders (`tasks/<id>/`): one task -> one Episode.

- `reader`: a task folder read through its `api_conversation_history.json` (its `ui_messages.json` and
  `task_metadata.json` are attached), or through `ui_messages.json` alone when that is all there is;
- `history`, `ui`: each file read into one stream of events; `walk`: the events into a `SessionBuilder`.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.cline.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
