"""Claude Code session logs (`~/.claude/projects/<project>/<sessionId>.jsonl`, subagent files beside them).

- `reader`: the walk over a session's records, one Episode per accepted end state;
- `tree`: loading the records and choosing the main line of the `parentUuid` tree (rewinds, compaction);
- `edits`: Edit / MultiEdit / Write rebuilt on the known file state, with their fate;
- `patch`: rebuilding a file from an edit and checking it against the logged `structuredPatch`;
- `text`: message text, wrappers (queued messages, commands, compaction summaries), tool-result verdicts.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.claude_code.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
