"""Link episodes to the git commits that followed them: the commit's diff becomes the gold diff.

Two ways to find the commit, tried in order:
1. an `Entire-Checkpoint: <12 hex>` trailer: the commit names an Entire checkpoint (branch
   `entire/checkpoints/v1`, `<id[:2]>/<id[2:]>/metadata.json` and `N/full.jsonl` per session) whose
   transcript is this episode's session;
2. otherwise the commit (on the session's branch when it exists, made after the session started) whose
   diff best covers the episode's final state: the share of the episode's added lines (ignoring trivial
   ones like `}`) that the commit also adds, at least `min_coverage` (the human may drop debug code).

When linked, `final.source = "commit"`, `final.files` is the committed content of the touched files, the
gold diff runs from the episode's base to it, and `final.human_diff` records what the human changed on
top of the agent's last state. Edits are labelled again against the committed state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golddiff.diffs import files_diff, parse_unified_diff
from golddiff.episodes import Episode
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import IngestReport, label_edits, labels_of

ENTIRE_BRANCH = "entire/checkpoints/v1"
_TRAILER_RE = re.compile(r"^Entire-Checkpoint:\s*([0-9a-f]{12})\s*$", re.MULTILINE)


@dataclass
class Commit:
    sha: str
    timestamp: int  # committer time, unix seconds
    message: str


def _added_lines(diff: str) -> set[tuple[str, str]]:
    """(path, stripped line) for every non-blank added line of a unified diff."""
    out = set()
    for fp in parse_unified_diff(diff):
        for h in fp.hunks:
            for ln in h.lines:
                if ln.startswith("+") and len(ln[1:].strip()) >= 4:
                    out.add((fp.path, ln[1:].strip()))
    return out


def _iso_to_unix(ts: str | None) -> int | None:
    from datetime import datetime

    if not ts:
        return None
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


class GitLinker:
    def __init__(self, repo: str, report: IngestReport, max_commits: int = 200, min_coverage: float = 0.3):
        self.repo = GitRepo(repo)
        self.report = report
        self.max_commits, self.min_coverage = max_commits, min_coverage
        self._commits: dict[str, list[Commit]] = {}
        self._diffs: dict[str, set] = {}
        self._entire: dict[str, set[str]] | None = None

    # ------------------------------------------------------------------------------- candidates

    def commits(self, branch: str | None) -> list[Commit]:
        """Newest-first commits of `branch` (or of all branches when it is unknown or absent)."""
        key = branch or "--all"
        if key not in self._commits:
            rev = (
                branch
                if branch and self.repo.git("rev-parse", "--verify", "-q", branch, check=False)
                else "--all"
            )
            raw = self.repo.git(
                "log",
                rev,
                "--no-merges",
                f"-n{self.max_commits}",
                "--format=%H%x1f%ct%x1f%B%x1e",
                check=False,
            )
            commits = []
            for rec in raw.split("\x1e"):
                parts = rec.strip("\n").split("\x1f")
                if len(parts) == 3 and parts[0]:
                    commits.append(Commit(parts[0].strip(), int(parts[1]), parts[2]))
            self._commits[key] = commits
        return self._commits[key]

    def entire_sessions(self) -> dict[str, set[str]]:
        """checkpoint id -> session ids named in its Entire metadata and transcripts."""
        if self._entire is not None:
            return self._entire
        self._entire = {}
        if not self.repo.git("rev-parse", "--verify", "-q", ENTIRE_BRANCH, check=False).strip():
            return self._entire
        listing = self.repo.git("ls-tree", "-r", "--name-only", ENTIRE_BRANCH, check=False).splitlines()
        for name in listing:
            m = re.match(r"^([0-9a-f]{2})/([0-9a-f]{10})/(?:(\d+)/)?(metadata\.json|full\.jsonl)$", name)
            if not m:
                continue
            cid = m[1] + m[2]
            text = self.repo.file_at(ENTIRE_BRANCH, name) or ""
            ids = self._entire.setdefault(cid, set())
            ids.update(re.findall(r'"(?:session_id|sessionId|session)"\s*:\s*"([^"]+)"', text[:200_000]))
        return self._entire

    def _commit_added(self, sha: str) -> set:
        if sha not in self._diffs:
            self._diffs[sha] = _added_lines(
                self.repo.git("show", "--format=", "--no-color", "-U0", sha, check=False)
            )
        return self._diffs[sha]

    # ------------------------------------------------------------------------------------ link

    def find_commit(self, ep: Episode) -> tuple[Commit, str] | None:
        """The commit this episode led to, and how it was found."""
        candidates = self.commits(ep.repo.branch)
        if ep.source.session_id:
            entire = self.entire_sessions()
            for c in candidates:
                for cid in _TRAILER_RE.findall(c.message):
                    if ep.source.session_id in entire.get(cid, set()):
                        return c, f"Entire-Checkpoint {cid}"
        wanted = _added_lines(ep.final.diff)
        if not wanted:
            return None
        start = min((t for t in (_iso_to_unix(t.timestamp) for t in ep.turns) if t), default=None)
        best, best_cov = None, 0.0
        for c in candidates:
            if start is not None and c.timestamp < start - 60:
                continue
            cov = len(wanted & self._commit_added(c.sha)) / len(wanted)
            if cov > best_cov:
                best, best_cov = c, cov
        if best is not None and best_cov >= self.min_coverage:
            return best, f"covers {best_cov:.0%} of the episode's added lines"
        return None

    def link(self, ep: Episode) -> Episode:
        try:
            found = self.find_commit(ep)
        except GitError as e:
            ep.provenance.warnings.append(f"git link failed: {e}")
            return ep
        if found is None:
            self.report.counts["episodes_unlinked"] += 1
            return ep
        commit, how = found
        touched = set(ep.repo.base_files) | {fp.path for fp in parse_unified_diff(self._show(commit.sha))}
        base = dict(ep.repo.base_files)
        for path in touched - set(base):
            base[path] = self.repo.file_at(commit.sha + "^", path)
        committed = {p: self.repo.file_at(commit.sha, p) for p in sorted(touched)}
        agent_final = {p: ep.final.files.get(p, base.get(p)) for p in sorted(touched)}
        ep.repo.base_files = base
        ep.final.files = committed
        ep.final.diff = files_diff(base, committed)
        ep.final.human_diff = files_diff(agent_final, committed) or None
        ep.final.source, ep.final.commit = "commit", commit.sha
        ep.final.accepted = True  # what the user committed is the state they accepted
        label_edits(ep.edits, base, committed, statuses=("applied", "not_in_gold", "reverted", "superseded"))
        ep.labels = labels_of(ep.edits)
        ep.provenance.warnings.append(f"linked to commit {commit.sha[:12]} ({how})")
        self.report.counts["episodes_linked"] += 1
        return ep

    def _show(self, sha: str) -> str:
        return self.repo.git("show", "--format=", "--no-color", sha, check=False)
