"""Aider's `.aider.chat.history.md`, with the repository's commits as gold when `--repo` is given.

- `reader`: sessions and turns into Episodes (one per request with its own surviving commit);
- `log`: the chat-history markdown read as events (user lines, replies, edit blocks, commits, undos).

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.aider.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
