"""A git repository's history as training data: one Episode per commit.

    from golddiff.traces.git.history import read_repo
    from golddiff.traces.session import IngestReport
    for ep in read_repo("path/to/repo", IngestReport(), rev_range="v1.0..main", include_globs=["*.py"]):
        print(ep.final.commit[:8], ep.task.splitlines()[0])

This is how the demo gets data when no agent logs are at hand. Each non-merge commit in `rev_range`
(default: everything reachable from HEAD) becomes an episode: the task is the commit message, the base
files are the touched files at the parent, the gold is the commit's diff (`final.source = "commit"`,
`final.commit = sha`, base_state_confidence "git"). Binary files, files outside the globs and commits
over the size limits are skipped and counted in `report.counts`. Episode ids hash the repository's root
commit and the sha, so the same commit gives the same id wherever the clone lives.

Also here, for other readers (Aider): `commit_changes(repo, sha)`, the text files a commit changed.
Pure Python over the `git` command; CPU only. A path that is not a git repository raises GitError.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from golddiff.diffs import files_diff, unified_diff
from golddiff.episodes import Edit, Episode, FinalState, Labels, RepoState, Source, Turn, episode_id
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import PARSER_VERSION, IngestReport

FORMAT = "git"


@dataclass
class FileChange:
    path: str
    before: str | None  # None = the file did not exist at the parent
    after: str | None  # None = the commit deleted it


def parent(repo: GitRepo, sha: str) -> str | None:
    """The first parent's sha, or None for a root commit."""
    out = repo.git("rev-parse", "--verify", "--quiet", f"{sha}^", check=False).strip()
    return out or None


def changed_paths(repo: GitRepo, sha: str) -> list[tuple[str, bool]]:
    """(path, is_binary) for each file the commit changed against its first parent."""
    out = repo.git("diff-tree", "-r", "-z", "--no-commit-id", "--numstat", "--no-renames", "--root", sha)
    rows = []
    for rec in out.split("\0"):
        parts = rec.split("\t")
        if len(parts) == 3 and parts[2]:
            rows.append((parts[2], parts[0] == "-" and parts[1] == "-"))
    return rows


def commit_changes(repo: GitRepo, sha: str, paths: Sequence[str] | None = None) -> list[FileChange]:
    """The text files `sha` changed (or just `paths` of them), with their content before and after."""
    base = parent(repo, sha)
    changes = []
    for path, binary in changed_paths(repo, sha):
        if binary or (paths is not None and path not in paths):
            continue
        before = repo.file_at(base, path) if base else None
        changes.append(FileChange(path, before, repo.file_at(sha, path)))
    return changes


def _matches(path: str, globs: Sequence[str] | None) -> bool:
    return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(Path(path).name, g) for g in globs or ())


def _select(
    rows: list[tuple[str, bool]],
    include_globs: Sequence[str] | None,
    exclude_globs: Sequence[str] | None,
) -> list[str]:
    return [
        p
        for p, binary in rows
        if not binary
        and (include_globs is None or _matches(p, include_globs))
        and not _matches(p, exclude_globs)
    ]


def _commit_episode(repo: GitRepo, root: str, sha: str, message: str, changes: list[FileChange]) -> Episode:
    base = {c.path: c.before for c in changes}
    final = {c.path: c.after for c in changes}
    edits = [
        Edit(edit_id=f"e{i}", path=c.path, tool="commit", diff=unified_diff(c.path, c.before, c.after))
        for i, c in enumerate(changes)
    ]
    return Episode(
        episode_id=episode_id("git", f"{root}:{sha}", 0),
        source=Source(tool="git", path=str(repo.root), session_id=sha, parser_version=PARSER_VERSION),
        repo=RepoState(
            cwd=str(repo.root),
            base_commit=parent(repo, sha),
            base_files=base,
            base_state_confidence="git",
        ),
        task=message.strip() or "(empty commit message)",
        turns=[Turn(index=0, user=message.strip(), user_kind="task", edits=[e.edit_id for e in edits])],
        edits=edits,
        final=FinalState(diff=files_diff(base, final), files=final, source="commit", commit=sha),
        labels=Labels(gold_edits=[e.edit_id for e in edits]),
    )


def read_repo(
    repo_path: str | Path,
    report: IngestReport,
    rev_range: str | None = None,
    max_files: int = 20,
    max_diff_chars: int = 50_000,
    include_globs: Sequence[str] | None = None,
    exclude_globs: Sequence[str] | None = None,
) -> Iterator[Episode]:
    """One episode per non-merge commit of `rev_range` (oldest first) that passes the filters."""
    repo = GitRepo(repo_path)
    roots = repo.git("rev-list", "--max-parents=0", "HEAD").split()
    root = roots[-1] if roots else "no-root"
    log = repo.git("log", "--reverse", "--no-merges", "-z", "--format=%H%x00%B", rev_range or "HEAD")
    fields = log.split("\0")
    for i in range(0, len(fields) - 1, 2):
        sha, message = fields[i].strip(), fields[i + 1]
        if not sha:
            continue
        report.counts["records"] += 1
        paths = _select(changed_paths(repo, sha), include_globs, exclude_globs)
        if not paths:
            report.counts["git/skipped_no_files"] += 1
            continue
        if len(paths) > max_files:
            report.counts["git/skipped_too_many_files"] += 1
            continue
        changes = commit_changes(repo, sha, paths)
        episode = _commit_episode(repo, root, sha, message, changes)
        if len(episode.final.diff) > max_diff_chars:
            report.counts["git/skipped_too_large"] += 1
            continue
        report.counts["edits"] += len(changes)
        yield episode


__all__ = ["FORMAT", "FileChange", "GitError", "changed_paths", "commit_changes", "parent", "read_repo"]
