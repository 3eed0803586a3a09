"""A repository's whole history, read once, as an inverted index from added lines to the commits that add them.

One `git log --all --reflog -p -U0` pass (every branch, tag and reflog entry, so commits of a merged and
deleted branch are there too) gives each non-merge commit's parents, times, message (its
`Entire-Checkpoint:` trailers), changed paths and added lines. Each added line that says something
(4 or more characters once stripped) is hashed with its file's name into a key; `postings[key]` lists the
commits that add it. Linking an episode then costs a few dictionary lookups, not a `git show` per
candidate commit: N sessions cost one pass, not N.

    index = HistoryIndex.build(GitRepo("."))
    hits = index.hits(index.keys_of_diff(episode_diff), since=1_700_000_000)   # commit -> lines it adds
    commit = index.commits[max(hits, key=hits.get)]

Keys are stable across processes (blake2b, not `hash()`), so an index built before a process pool forks
(or pickled to a spawned worker) answers the same everywhere. A line added by more than `common_after`
commits (`return None`, a licence header) says nothing about which commit an episode led to: it is a
stop line, left out of both sides of the coverage. Pure Python over the `git` command; CPU only.
"""

from __future__ import annotations

import hashlib
import posixpath
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from golddiff.diffs import parse_unified_diff
from golddiff.traces.git.repo import GitError, GitRepo

# an Entire checkpoint id: 12 hex digits (the branch backend) or a ULID (the refs backend)
CHECKPOINT_TRAILER = re.compile(
    r"^Entire-Checkpoint:\s*([0-9a-f]{12}|[0-9A-HJKMNP-TV-Z]{26})\s*$", re.MULTILINE
)
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_HEADER = "\x00\x00"
_FORMAT = "--format=%x00%x00%H %P%x00%at %ct%x00%B%x00"
_LOG_ARGS = "log --all --reflog --no-merges -p -U0 --no-color --no-ext-diff --no-textconv --no-renames"
MIN_LINE_CHARS = 4


@dataclass
class CommitInfo:
    """One non-merge commit of the history."""

    sha: str
    parents: tuple[str, ...]
    author_time: int
    commit_time: int
    message: str
    paths: tuple[str, ...] = ()  # the paths it changed (repository-relative), deleted ones too
    n_keys: int = 0  # distinct line keys it adds (what a coverage's precision divides by)
    checkpoints: tuple[str, ...] = ()  # its Entire-Checkpoint trailers


def line_key(path: str, line: str) -> int:
    """The index key of an added line: its file's name (not its directory: a session may run in a
    subfolder, or another clone) and its stripped text."""
    text = f"{posixpath.basename(path)}\x00{line.strip()}".encode("utf-8", "surrogateescape")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little")


@dataclass
class HistoryIndex:
    commits: list[CommitInfo] = field(default_factory=list)  # in `git log` order: newest first
    by_sha: dict[str, int] = field(default_factory=dict)
    postings: dict[int, list[int]] = field(default_factory=dict)  # line key -> commit indices
    checkpoint_commits: dict[str, list[int]] = field(default_factory=dict)  # checkpoint id -> commits
    common_after: int = 50
    seconds: float = 0.0

    # ---------------------------------------------------------------------------------- build

    @classmethod
    def build(cls, repo: GitRepo, common_after: int = 50, progress: bool = False) -> HistoryIndex:
        """Read the whole history in one `git log` pass (progress on stderr every 5 s when asked)."""
        t0 = last = time.monotonic()
        index = cls(common_after=common_after)
        for commit, keys in _log_commits(repo):
            index._add(commit, keys)
            if progress and time.monotonic() - last > 5:
                last = time.monotonic()
                print(f"indexing git history: {len(index.commits)} commits", file=sys.stderr, flush=True)
        index.seconds = time.monotonic() - t0
        if progress:
            print(
                f"indexed {len(index.commits)} commits of {repo.root} in {index.seconds:.1f} s",
                file=sys.stderr,
                flush=True,
            )
        return index

    def _add(self, commit: CommitInfo, keys: set[int]) -> None:
        i = len(self.commits)
        commit.n_keys = len(keys)
        self.commits.append(commit)
        self.by_sha[commit.sha] = i
        for key in keys:
            hits = self.postings.setdefault(key, [])
            if len(hits) <= self.common_after:  # past that it is a stop line; no need to list more
                hits.append(i)
        for cid in commit.checkpoints:
            self.checkpoint_commits.setdefault(cid, []).append(i)

    # --------------------------------------------------------------------------------- lookup

    def is_common(self, key: int) -> bool:
        return len(self.postings.get(key, ())) > self.common_after

    def keys_of_diff(self, diff: str) -> set[int]:
        """The keys of the lines a unified diff adds (its stop lines left out)."""
        out = set()
        for fp in parse_unified_diff(diff):
            for h in fp.hunks:
                for ln in h.lines:
                    if ln.startswith("+") and len(ln[1:].strip()) >= MIN_LINE_CHARS:
                        key = line_key(fp.path, ln[1:])
                        if not self.is_common(key):
                            out.add(key)
        return out

    def hits(self, keys: Iterable[int], since: int | None = None, slack: int = 600) -> Counter[int]:
        """Commit index -> how many of `keys` it adds, among commits made at or after `since` (unix
        seconds, less `slack` for clock skew); all of the history when `since` is None."""
        out: Counter[int] = Counter()
        for key in keys:
            for i in self.postings.get(key, ()):
                if since is None or self.commits[i].commit_time >= since - slack:
                    out[i] += 1
        return out

    def covered(self, keys: Iterable[int], commit: int) -> set[int]:
        """The keys of `keys` that commit `commit` adds."""
        return {k for k in keys if commit in self.postings.get(k, ())}

    def reachable(self, repo: GitRepo, ref: str) -> set[int]:
        """The indices of the commits reachable from `ref` (empty if it does not exist)."""
        if not repo.git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False).strip():
            return set()
        shas = repo.git("rev-list", ref, check=False).split()
        return {self.by_sha[s] for s in shas if s in self.by_sha}


def _log_commits(repo: GitRepo) -> Iterator[tuple[CommitInfo, set[int]]]:
    """Each non-merge commit of every ref and reflog entry, with the keys of the lines it adds."""
    cmd = ["git", "-C", str(repo.root), "-c", "core.quotePath=false", *_LOG_ARGS.split(), _FORMAT]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    commit: CommitInfo | None = None
    keys: set[int] = set()
    paths: list[str] = []
    path: str | None = None
    old_left = new_left = 0
    header: bytes | None = None
    for raw in proc.stdout:
        if header is not None or raw.startswith(b"\x00\x00"):
            header = raw if header is None else header + raw
            if header.count(b"\x00") < 5:
                continue
            if commit is not None:
                commit.paths = tuple(dict.fromkeys(paths))
                yield commit, keys
            commit, keys, paths, path = _commit_of(header), set(), [], None
            header, old_left, new_left = None, 0, 0
            continue
        line = raw.decode("utf-8", "surrogateescape").rstrip("\n")
        if old_left or new_left:  # inside a hunk: the counts say where it ends
            if line.startswith("+"):
                new_left -= 1
                if path is not None and len(line[1:].strip()) >= MIN_LINE_CHARS:
                    keys.add(line_key(path, line[1:]))
            elif line.startswith("-"):
                old_left -= 1
            continue
        if line.startswith("diff --git "):
            path = None
        elif line.startswith("--- ") and line[4:] != "/dev/null":
            paths.append(_unquote(line[4:]).removeprefix("a/"))
        elif line.startswith("+++ "):
            path = None if line[4:] == "/dev/null" else _unquote(line[4:]).removeprefix("b/")
            if path is not None:
                paths.append(path)
        elif (m := _HUNK.match(line)) is not None:
            old_left = int(m[1]) if m[1] is not None else 1
            new_left = int(m[2]) if m[2] is not None else 1
    if commit is not None:
        commit.paths = tuple(dict.fromkeys(paths))
        yield commit, keys
    err = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    if proc.wait() != 0 and "does not have any commits" not in err:
        raise GitError(f"git log in {repo.root}: {err.strip()[:300]}")


def _commit_of(header: bytes) -> CommitInfo:
    _, _, ids, times, message, *_ = header.decode("utf-8", "replace").split("\x00")
    sha, *parents = ids.split()
    author, committed = (int(t) for t in times.split())
    checkpoints = tuple(dict.fromkeys(CHECKPOINT_TRAILER.findall(message)))
    return CommitInfo(sha, tuple(parents), author, committed, message.strip("\n"), checkpoints=checkpoints)


def _unquote(name: str) -> str:
    """A path as git prints it in a diff header (C-quoted when it holds odd characters)."""
    name = name.split("\t")[0]
    if len(name) >= 2 and name[0] == name[-1] == '"':
        raw = name[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")
        return raw.encode("latin-1").decode("utf-8", "replace")
    return name
