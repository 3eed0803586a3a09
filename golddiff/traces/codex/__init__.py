"""OpenAI Codex CLI rollouts (`~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`).

- `reader`: the walk over a rollout's records, one Episode per accepted end state;
- `records`: the shapes of rollout records (old and new layouts) read into plain values;
- `files`: the files as the patches leave them, with base content from git or rebuilt from the patches.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.codex.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
