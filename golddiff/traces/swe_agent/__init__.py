"""SWE-agent `.traj` and mini-swe-agent `.traj.json` trajectories: one Episode per run.

- `reader`: a run into an Episode (its gold is the submission);
- `steps`: the steps of either layout (SWE-agent `trajectory`/`history`, mini-swe-agent `messages`);
- `lines`: each file's line model, built from what the run saw, and the edits replayed on it;
- `gold`: the submission as gold, and each edit's fate against it.

The package is the reader `golddiff.traces.detect` names: `FORMAT`, `sniff`, `is_attached`, `read`.
"""

from golddiff.traces.swe_agent.reader import FORMAT, is_attached, read, sniff

__all__ = ["FORMAT", "is_attached", "read", "sniff"]
