"""Git as a source of episodes and of gold: a repository through the `git` command, linking episodes to
the commits that followed them, and a repository's history as episodes.

- `repo`: `GitRepo` (files at a revision, commits, diffs) and `GitError`;
- `link`: `GitLinker`, which makes the commit that followed an episode its gold (`golddiff ingest --repo`);
- `history`: `read_repo`, one Episode per commit (`golddiff ingest --git`), and `commit_changes` for Aider.

Pure Python over the `git` command; CPU only.
"""

from golddiff.traces.git.repo import GitError, GitRepo

__all__ = ["GitError", "GitRepo"]
