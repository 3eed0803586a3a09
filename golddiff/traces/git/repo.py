"""A git repository read through the `git` command: files at a revision, commits, diffs.

repo = GitRepo("/path/to/repo")          # GitError if it is not a git repository
repo.file_at("abc123", "src/x.py")       # content, or None if absent at that revision
"""

from __future__ import annotations

import subprocess
from pathlib import Path


class GitError(RuntimeError):
    """A git command failed; the message names the repository, the command and git's own words."""


class GitRepo:
    def __init__(self, path: str | Path):
        self.path = Path(path).expanduser().resolve()
        if not self.path.exists():
            raise GitError(f"{self.path}: no such directory; pass the repository the sessions ran in")
        try:
            top = self.git("rev-parse", "--show-toplevel").strip()
        except GitError as e:
            raise GitError(
                f"{self.path} is not a git repository (git said: {e}); pass the repository root"
            ) from None
        self.root = Path(top)

    def git(self, *args: str, check: bool = True, input: str | None = None) -> str:
        proc = subprocess.run(
            ["git", "-C", str(self.path), *args],
            capture_output=True,
            text=True,
            input=input,
            encoding="utf-8",
            errors="surrogateescape",
        )
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args[:3])} in {self.path}: {proc.stderr.strip()[:300]}")
        return proc.stdout

    def has_commit(self, rev: str) -> bool:
        return (
            subprocess.run(
                ["git", "-C", str(self.path), "cat-file", "-e", f"{rev}^{{commit}}"], capture_output=True
            ).returncode
            == 0
        )

    def file_at(self, rev: str, path: str) -> str | None:
        """The file's content at `rev` (a path relative to the repository root), None if it is absent."""
        proc = subprocess.run(
            ["git", "-C", str(self.root), "show", f"{rev}:{path}"],
            capture_output=True,
        )
        if proc.returncode != 0:
            return None
        return proc.stdout.decode("utf-8", errors="replace")
