"""What only Codex logs say about files: the repository at the session's base commit, deleted contents.

`GitBase` reads a Codex session's base files from the git repository at the commit its `session_meta`
names (the `BaseFiles` that `session.files.FileStates` prefers); `deleted_content` takes a deleted
file's content from a `patch_apply_end` event. The file states themselves (whole, partial, revealed by
patches) are `golddiff.traces.session.files`, shared with the other readers that log edits, not files.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from pathlib import Path

from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import IngestReport


class GitBase:
    """Base files read from the repository at the session's base commit."""

    def __init__(self, repo: GitRepo, commit: str, cwd: str | None):
        self.repo, self.commit = repo, commit
        self.prefix = self._prefix(cwd)

    @classmethod
    def open(cls, repo_path: str, commit: str, cwd: str | None, report: IngestReport) -> GitBase | None:
        try:
            repo = GitRepo(repo_path)
        except GitError as e:
            report.warn_once(
                "codex_git_repo", f"{e}; Codex base files will be reconstructed from the patches"
            )
            return None
        if not repo.has_commit(commit):
            report.warn_once(
                f"codex_git_commit:{commit}",
                f"{repo.root} has no commit {commit[:12]} (the session's base); fetch it, or base files "
                "will be reconstructed from the patches",
            )
            return None
        return cls(repo, commit, cwd)

    def _prefix(self, cwd: str | None) -> str:
        """Where the session's cwd sits in the repository: by path when it is this checkout, else the
        longest tail of the cwd that is a directory at the base commit."""
        if not cwd:
            return ""
        try:
            inside = Path(cwd).resolve().relative_to(self.repo.root).as_posix()
            return "" if inside == "." else inside
        except ValueError:
            pass
        parts = [p for p in cwd.replace("\\", "/").split("/") if p]
        for i in range(len(parts)):
            tail = "/".join(parts[i:])
            if self.repo.git("cat-file", "-t", f"{self.commit}:{tail}", check=False).strip() == "tree":
                return tail
        return ""

    def content(self, rel: str) -> str | None:
        return self.repo.file_at(self.commit, posixpath.join(self.prefix, rel) if self.prefix else rel)


def deleted_content(apply_end: dict, is_the_file: Callable[[str], bool]) -> str | None:
    """A deleted file's content from a `patch_apply_end` event's `changes`, when it has them."""
    changes = apply_end.get("changes")
    for path, change in changes.items() if isinstance(changes, dict) else ():
        if not isinstance(change, dict) or not is_the_file(path):
            continue
        body = change.get("delete", change) if "delete" in change else change
        if isinstance(body, dict) and isinstance(body.get("content"), str):
            return body["content"]
    return None
