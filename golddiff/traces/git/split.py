"""Cut an episode whose edits went to several commits that are not consecutive into one episode per commit.

    parts = split_episode(ep, commits, {"ab12...": ["e0", "e2"], "cd34...": ["e5"]})
    for part, commit in parts:      # in the order of the turns; each part is then linked to its commit
        ...

Each commit takes the edits it holds (`edits_by_sha`, from the checkpoints' segments or the lines the
commit adds); an edit that reached the files but is in no commit goes with the commit of the nearest edit
before it. A part ends at the turn of its last edit, so every turn (and the rejected or failed edits made
in it, and the user's feedback there) belongs to exactly one part. A part's task is its first request
(the episode's own task for the first part). Parts keep the edit ids they had; each gets a stable id of
its own, derived from the episode's id and its commit. Pure Python, CPU only.
"""

from __future__ import annotations

from golddiff.episodes import Episode, episode_id
from golddiff.traces.git.index import CommitInfo

_REACHED = ("applied", "not_in_gold", "reverted", "superseded")


def split_episode(
    ep: Episode, commits: list[CommitInfo], edits_by_sha: dict[str, list[str]]
) -> list[tuple[Episode, CommitInfo]]:
    """One (episode, commit) per commit that holds some edit, in turn order (see the module docstring)."""
    owner: dict[str, str] = {eid: sha for sha, ids in edits_by_sha.items() for eid in ids}
    last_owner = None
    for e in ep.edits:  # edits in no commit follow the edit before them
        if e.status in _REACHED and e.on_main_line:
            last_owner = owner.setdefault(e.edit_id, last_owner or "")
    by_sha = {c.sha: c for c in commits}
    ends: dict[str, int] = {}
    for e in ep.edits:
        sha = owner.get(e.edit_id)
        if sha in by_sha:
            ends[sha] = max(ends.get(sha, -1), e.turn)
    order = sorted(ends, key=lambda sha: (ends[sha], commits.index(by_sha[sha])))
    if not order:
        return [(ep, commits[-1])]
    out, start = [], -1
    for k, sha in enumerate(order):
        end = ends[sha] if k < len(order) - 1 else max([t.index for t in ep.turns] + [ends[sha]])
        out.append((_part(ep, start, end, sha, k), by_sha[sha]))
        start = end
    return out


def _part(ep: Episode, after: int, upto: int, sha: str, k: int) -> Episode:
    """The turns after `after` up to `upto` (turn indices) and their edits, as an episode of its own."""
    part = ep.model_copy(deep=True)
    part.turns = [t for t in part.turns if after < t.index <= upto]
    part.edits = [e for e in part.edits if after < e.turn <= upto]
    ids = {e.edit_id for e in part.edits}
    for t in part.turns:
        t.edits = [i for i in t.edits if i in ids]
    if k:
        first = next((t.user for t in part.turns if t.user and t.user_kind in ("task", "followup")), None)
        part.task = first or ep.task
    part.episode_id = episode_id(ep.source.tool, f"{ep.episode_id}@{sha}", 0)
    part.repo.base_files = {}  # from the commit's parent, when it is linked
    return part
