"""Link episodes to the git commits that followed them: the commits' diff becomes the gold diff.

    linker = GitLinker("~/src/proj", IngestReport())    # reads the whole history once (git/index.py)
    for ep in episodes:
        for linked in linker.link(ep):                   # one episode, or one per commit when split
            print(linked.final.link.method, linked.final.link.coverage, linked.final.commit)

How the commit is found, tried in order (`final.link.method`):
1. `trailer`: a commit carries `Entire-Checkpoint: <id>` and that checkpoint names the episode's session
   (`checkpoints`). A session spread over several checkpoints: the checkpoints whose segment of the
   transcript holds this episode's edits (by tool-call id; else by time). The same checkpoint carried by
   several commits (a rebase, a cherry-pick, a squash): the one reachable from the default branch, then
   the earliest.
2. `coverage`: among all commits of the history (every ref and reflog entry, so a merged and deleted
   branch's too) made after the episode's first edit, the one that adds the largest share of the lines
   the episode adds (ties: the larger share of the commit that is the episode's, on the session's branch,
   on the default branch, the earliest); at least `min_coverage` (the human may drop debug code). When no
   single commit covers the episode, the fewest commits that together do.
3. `none`: the episode keeps its last logged state (`final.link.coverage` says how close the best was).
Episodes whose log names their commit (Aider's auto-commits) are `log` and left as they are.

Several commits: when they are consecutive (each the parent of the next) their union is the gold; else the
episode is split into one episode per commit (`split`), each edit going with the commit that
holds it, and each part marked `split_from` the original.

When linked, `final.source = "commit"`, `final.files` is the committed content of the touched files, the
gold diff runs from the episode's base to it, `final.human_diff` records what the human changed on top of
the agent's last state, and edits are labelled again against the committed state. CPU only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from golddiff.diffs import files_diff
from golddiff.episodes import Episode, GitLink
from golddiff.traces.git.checkpoints import EntireCheckpoints
from golddiff.traces.git.index import CommitInfo, HistoryIndex
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.git.split import split_episode
from golddiff.traces.session import IngestReport, label_edits, labels_of

REACHED = ("applied", "not_in_gold", "reverted", "superseded")  # statuses of edits that reached the files
DEFAULT_BRANCHES = ("refs/remotes/origin/HEAD", "main", "master", "trunk", "develop")


@dataclass
class Found:
    """The commit(s) an episode led to: indices into the history, oldest first, and which edits each holds
    (edit ids; None: decide from the lines)."""

    commits: list[int]
    method: str
    coverage: float | None
    checkpoint: str | None = None
    edits: dict[int, list[str]] | None = None


class GitLinker:
    def __init__(
        self,
        repo: str,
        report: IngestReport,
        min_coverage: float = 0.3,
        full_coverage: float = 0.9,
        progress: bool = False,
    ):
        self.repo = GitRepo(repo)
        self.report = report
        self.min_coverage, self.full_coverage, self.progress = min_coverage, full_coverage, progress
        self._index: HistoryIndex | None = None
        self._entire: EntireCheckpoints | None = None
        self._reach: dict[str, set[int]] = {}
        self._refs: dict[str, bool] = {}  # ref -> whether it exists

    def prepare(self) -> GitLinker:
        """Read the history and the checkpoints now (before a process pool forks, so workers share them)."""
        _ = self.index, self.entire, self.on_default
        return self

    @property
    def index(self) -> HistoryIndex:
        if self._index is None:
            self._index = HistoryIndex.build(self.repo, progress=self.progress)
        return self._index

    @property
    def entire(self) -> EntireCheckpoints:
        if self._entire is None:
            self._entire = EntireCheckpoints.load(self.repo)
        return self._entire

    @property
    def on_default(self) -> set[int]:
        """Commits reachable from the default branch (origin's HEAD, else main, master, ...)."""
        return self._reachable(next((r for r in DEFAULT_BRANCHES if self._exists(r)), "HEAD"))

    def _exists(self, ref: str) -> bool:
        if ref not in self._refs:
            out = self.repo.git("rev-parse", "--verify", "-q", ref + "^{commit}", check=False)
            self._refs[ref] = bool(out.strip())
        return self._refs[ref]

    def _reachable(self, ref: str) -> set[int]:
        if ref not in self._reach:
            self._reach[ref] = self.index.reachable(self.repo, ref)
        return self._reach[ref]

    # ------------------------------------------------------------------------------------ link

    def link(self, ep: Episode) -> list[Episode]:
        """The episode linked to its commit(s): itself, or one episode per commit when split."""
        if ep.final.source == "commit" and ep.final.commit:
            ep.final.link = ep.final.link or GitLink(method="log", commits=[ep.final.commit])
            return [ep]
        try:
            found = self.find(ep)
            if found.method == "none":
                ep.final.link = GitLink(method="none", coverage=found.coverage)
                return [ep]
            commits = [self.index.commits[i] for i in found.commits]
            if len(commits) == 1 or _consecutive(commits):
                return [self._apply(ep, commits, found)]
            parts = split_episode(ep, commits, self._edits_by_commit(ep, found))
            return [self._apply(part, [c], found, split_from=ep.episode_id) for part, c in parts]
        except GitError as e:
            self.report.counts["git_link_errors"] += 1
            self.report.warn_once("git_link_error", f"linking to {self.repo.root} failed: {e}")
            ep.provenance.warnings.append(f"git link failed: {e}")
            ep.final.link = GitLink(method="none")
            return [ep]

    def find(self, ep: Episode) -> Found:
        """How this episode is linked (see the module docstring); method "none" when it is not."""
        wanted = self.index.keys_of_diff(ep.final.diff)
        by_trailer = self._by_trailer(ep)
        if by_trailer is not None:
            by_trailer.coverage = self._coverage(wanted, by_trailer.commits)
            return by_trailer
        return self._by_coverage(ep, wanted)

    # ---------------------------------------------------------------------------- by trailer

    def _by_trailer(self, ep: Episode) -> Found | None:
        sid = ep.source.session_id
        if not sid or sid not in self.entire.by_session:
            return None
        segments = self.entire.segments(sid)
        reached = {e.call_id for e in ep.edits if e.call_id and e.status in REACHED}
        mine = [(s, reached & s.call_ids) for s in segments if reached & s.call_ids]
        calls = {st.call.call_id for t in ep.turns for st in t.steps if st.call is not None}
        if not mine and not any(calls & s.call_ids for s in segments):
            # the transcripts name tool calls otherwise (or the episode logged none): by time, else the
            # session's only checkpoint
            first, last = _time_range(ep)
            mine = [
                (s, reached) for s in segments if first and s.first and s.first <= last and s.last >= first
            ]
            if not mine and len(segments) == 1:
                mine = [(segments[0], reached)]
        edits: dict[int, list[str]] = {}
        for seg, calls in mine:
            carriers = self.index.checkpoint_commits.get(seg.checkpoint, [])
            if not carriers:
                continue
            i = min(carriers, key=lambda c: (c not in self.on_default, self.index.commits[c].commit_time, -c))
            ids = [e.edit_id for e in ep.edits if e.call_id in calls]
            edits[i] = edits.get(i, []) + ids
        if not edits:
            return None
        order = self._oldest_first(list(edits))
        checkpoint = ",".join(dict.fromkeys(s.checkpoint for s, _ in mine))
        return Found(order, "trailer", None, checkpoint, edits)

    # --------------------------------------------------------------------------- by coverage

    def _by_coverage(self, ep: Episode, wanted: set[int]) -> Found:
        if not wanted:
            return Found([], "none", None)
        since = _first_edit_time(ep)
        hits = self.index.hits(wanted, since)
        if not hits:
            return Found([], "none", 0.0)
        branch = self._reachable(ep.repo.branch) if ep.repo.branch and self._exists(ep.repo.branch) else set()
        default = self.on_default

        def rank(i: int, gain: int, of: int) -> tuple:
            c = self.index.commits[i]
            return (
                round(gain / of, 3),
                round(gain / max(1, c.n_keys), 3),
                i in branch,
                i in default,
                -c.commit_time,
            )

        best = max(hits, key=lambda i: rank(i, hits[i], len(wanted)))
        chosen, covered = [best], self.index.covered(wanted, best)
        while len(covered) < self.full_coverage * len(wanted) and len(chosen) < 8:
            rest = wanted - covered
            gains = {i: n for i, n in self.index.hits(rest, since).items() if i not in chosen}
            if not gains:
                break
            nxt = max(gains, key=lambda i: rank(i, gains[i], len(rest)))
            if gains[nxt] < max(1, 0.1 * len(wanted)):
                break
            chosen.append(nxt)
            covered |= self.index.covered(rest, nxt)
        coverage = len(covered) / len(wanted)
        single = hits[best] / len(wanted)
        if coverage < self.min_coverage:
            return Found([], "none", round(coverage, 3))
        if single >= self.min_coverage and coverage - single < 0.1:
            chosen, coverage = [best], single  # one commit covers it about as well
        return Found(self._oldest_first(chosen), "coverage", round(coverage, 3))

    def _coverage(self, wanted: set[int], commits: list[int]) -> float | None:
        if not wanted:
            return None
        covered = set().union(*(self.index.covered(wanted, i) for i in commits))
        return round(len(covered) / len(wanted), 3)

    def _oldest_first(self, commits: list[int]) -> list[int]:
        return sorted(set(commits), key=lambda i: (self.index.commits[i].commit_time, -i))

    def _edits_by_commit(self, ep: Episode, found: Found) -> dict[str, list[str]]:
        """Commit sha -> ids of the edits it holds: from the checkpoints' segments, else by lines."""
        commits = [self.index.commits[i] for i in found.commits]
        if found.edits is not None:
            return {self.index.commits[i].sha: ids for i, ids in found.edits.items()}
        out: dict[str, list[str]] = {c.sha: [] for c in commits}
        for e in ep.edits:
            if e.status not in REACHED:
                continue
            keys = self.index.keys_of_diff(e.diff)
            held = Counter({c.sha: len(self.index.covered(keys, self.index.by_sha[c.sha])) for c in commits})
            sha, n = max(held.items(), key=lambda kv: (kv[1], -found.commits.index(self.index.by_sha[kv[0]])))
            if n:
                out[sha].append(e.edit_id)
        return out

    # ------------------------------------------------------------------------------ apply

    def _apply(
        self, ep: Episode, commits: list[CommitInfo], found: Found, split_from: str | None = None
    ) -> Episode:
        """Make the union of `commits` (consecutive, oldest first) the episode's gold."""
        first, last = commits[0], commits[-1]
        coverage = found.coverage
        if split_from:  # this part's own edits against its own commit
            mine = set().union(*(self.index.keys_of_diff(e.diff) for e in ep.edits if e.status in REACHED))
            coverage = self._coverage(mine, [self.index.by_sha[last.sha]])
        prefix = _cwd_prefix(ep, self.repo, [p for c in commits for p in c.paths])
        outside = {p for c in commits for p in c.paths if not p.startswith(prefix)}
        touched = set(ep.repo.base_files) | {
            p[len(prefix) :] for c in commits for p in c.paths if p not in outside
        }
        parent = first.parents[0] if first.parents else None
        base = {} if split_from else dict(ep.repo.base_files)
        missing = sorted(touched - set(base)) if parent else []
        paths = sorted(touched)
        contents = self.repo.files_at(
            [(parent or "", prefix + p) for p in missing] + [(last.sha, prefix + p) for p in paths]
        )
        base.update(dict(zip(missing, contents)))
        base.update({p: None for p in touched - set(base)})  # a root commit: nothing before it
        committed = dict(zip(paths, contents[len(missing) :]))
        agent_final = {p: ep.final.files.get(p, base.get(p)) for p in sorted(touched)}
        ep.repo.base_files = base
        if split_from:
            ep.repo.base_commit, ep.repo.base_state_confidence, ep.repo.file_confidence = parent, "git", {}
        ep.final.files = committed
        ep.final.diff = files_diff(base, committed)
        # a part of a split episode: the agent's state at its end is not logged on its own
        ep.final.human_diff = None if split_from else files_diff(agent_final, committed) or None
        ep.final.source, ep.final.commit, ep.final.accepted = "commit", last.sha, True
        ep.final.link = GitLink(
            method=found.method,  # type: ignore[arg-type]
            coverage=coverage,
            commits=[c.sha for c in commits],
            checkpoint=found.checkpoint,
            split_from=split_from,
        )
        label_edits(ep.edits, base, committed, statuses=REACHED)
        ep.labels = labels_of(ep.edits)
        shas = "+".join(c.sha[:12] for c in commits)
        how = f"Entire-Checkpoint {found.checkpoint}" if found.checkpoint else f"covers {coverage or 0:.0%}"
        ep.provenance.warnings.append(f"linked to commit {shas} ({how})")
        if outside:
            ep.provenance.warnings.append(
                f"the commit also changed {len(outside)} file(s) outside the session's folder"
            )
        return ep


def _consecutive(commits: list[CommitInfo]) -> bool:
    """Each commit (oldest first) is the first parent of the next."""
    return all(b.parents[:1] == (a.sha,) for a, b in zip(commits, commits[1:]))


def _cwd_prefix(ep: Episode, repo: GitRepo, repo_paths: list[str]) -> str:
    """The session folder inside the repository ("" or "sub/dir/"): from the session's cwd when it lies
    inside this repository, else from how the commit's paths end in the episode's paths."""
    cwd = (ep.repo.cwd or "").rstrip("/")
    root = str(repo.root).rstrip("/")
    if cwd == root or not cwd:
        return ""
    if cwd.startswith(root + "/"):
        return cwd[len(root) + 1 :] + "/"
    votes: Counter[str] = Counter()
    for c in repo_paths:
        for e in ep.repo.base_files:
            if c == e:
                votes[""] += 1
            elif c.endswith("/" + e):
                votes[c[: -len(e)]] += 1
    return votes.most_common(1)[0][0] if votes else ""


def _unix(ts: str | None) -> int | None:
    if not ts:
        return None
    try:
        return int(datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def _first_edit_time(ep: Episode) -> int | None:
    """When the episode's first edit was asked for (its turn's time), else its earliest turn's."""
    turns = {t.index: _unix(t.timestamp) for t in ep.turns}
    at_edits = [turns[e.turn] for e in ep.edits if turns.get(e.turn) is not None]
    anywhere = [t for t in turns.values() if t is not None]
    return min(at_edits or anywhere, default=None)


def _time_range(ep: Episode) -> tuple[str | None, str | None]:
    stamps = sorted(t.timestamp for t in ep.turns if t.timestamp)
    return (stamps[0], stamps[-1]) if stamps else (None, None)


__all__ = ["Found", "GitLinker"]
