"""Entire checkpoints stored in a repository: the sessions each names, and the segment of each session's
transcript it covers.

Entire (a git-native archive of agent sessions) adds `Entire-Checkpoint: <id>` to a commit and stores the
checkpoint beside the code, in one of two places:
- the branch `entire/checkpoints/v1` (or a remote's copy of it): `<id[:2]>/<id[2:]>/metadata.json`
  (`checkpoint_id`, `files_touched`, `sessions[]`) and, per session `N/`, `N/metadata.json`
  (`session_id`, and where this checkpoint's part of the transcript starts: `checkpoint_transcript_start`,
  older `transcript_lines_at_start`; absent on a session's first checkpoint) and `N/full.jsonl`, the
  session's transcript so far;
- one ref per checkpoint, `refs/entire/checkpoints/<shard>/<id>` (ULID ids), the same files at its root.

A session committed over several commits appears in several checkpoints, each with the cumulative
transcript; a checkpoint's *segment* is its transcript from its start: the start its metadata gives, else
the length of the longest transcript of the same session in another checkpoint that is a prefix of this
one. The tool-call ids in a segment say which episode's edits it holds (`Segment.call_ids`).

    entire = EntireCheckpoints.load(GitRepo("."))
    for seg in entire.segments("7acd37a8-..."):
        print(seg.checkpoint, seg.start, len(seg.call_ids))

Transcripts are read lazily (only for the sessions asked about) and kept. Pure Python over `git`; CPU.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, field

from golddiff.traces.git.repo import GitRepo

BRANCH = "entire/checkpoints/v1"
REFS = "refs/entire/checkpoints/"
_BRANCH_PATH = re.compile(r"^([0-9a-f]{2})/([0-9a-f]{10})/(?:(\d+)/)?(metadata\.json|full\.jsonl)$")
_REF_PATH = re.compile(r"^(?:(\d+)/)?(metadata\.json|full\.jsonl)$")
_CALL_ID = re.compile(r'"(?:id|call_id|tool_use_id|tool_call_id)"\s*:\s*"([^"]{6,})"')
_TIMESTAMP = re.compile(r'"timestamp"\s*:\s*"([^"]+)"')
_SESSION = re.compile(r'"(?:session_id|sessionId)"\s*:\s*"([^"]+)"')


@dataclass
class _Part:
    """One session's entry in one checkpoint."""

    checkpoint: str
    meta_start: int | None  # where the metadata says the segment starts
    transcript: str | None  # blob sha of its full.jsonl


@dataclass
class Segment:
    """The part of a session's transcript one checkpoint covers."""

    checkpoint: str
    start: int  # first line of the segment in the cumulative transcript (0-based)
    lines: int  # lines in the segment
    call_ids: set[str] = field(default_factory=set)  # tool-call ids it holds
    first: str | None = None  # its first and last timestamps (ISO 8601), when it has any
    last: str | None = None


@dataclass
class EntireCheckpoints:
    repo: GitRepo
    by_session: dict[str, list[_Part]] = field(default_factory=dict)
    _texts: dict[str, list[str]] = field(default_factory=dict)  # blob sha -> transcript lines

    @classmethod
    def load(cls, repo: GitRepo) -> EntireCheckpoints:
        """Every checkpoint's session entries (metadata read in one `git cat-file --batch`)."""
        out = cls(repo)
        dirs: dict[tuple[str, str], dict[str, str]] = {}  # (checkpoint, session dir) -> file -> blob
        for ref, root in _checkpoint_trees(repo):
            for path, blob in _tree(repo, ref).items():
                if root is None:
                    m = _BRANCH_PATH.match(path)
                    if m:
                        dirs.setdefault((m[1] + m[2], m[3] or ""), {})[m[4]] = blob
                elif (m := _REF_PATH.match(path)) is not None:
                    dirs.setdefault((root, m[1] or ""), {})[m[2]] = blob
        metas = _blobs(repo, [f["metadata.json"] for f in dirs.values() if "metadata.json" in f])
        roots = {
            cid: _json(metas.get(files.get("metadata.json", ""), ""))
            for (cid, n), files in dirs.items()
            if n == ""
        }
        for (cid, n), files in sorted(dirs.items()):
            if n == "":
                continue
            meta = _json(metas.get(files.get("metadata.json", ""), ""))
            session = meta.get("session_id") or meta.get("sessionId") or _root_session(roots.get(cid, {}), n)
            if not session and "full.jsonl" in files:
                found = _SESSION.search("\n".join(out._lines(files["full.jsonl"])[:20]))
                session = found[1] if found else None
            if not isinstance(session, str) or not session:
                continue
            start = meta.get("checkpoint_transcript_start", meta.get("transcript_lines_at_start"))
            part = _Part(
                cid, start if isinstance(start, int) and start >= 0 else None, files.get("full.jsonl")
            )
            out.by_session.setdefault(session, []).append(part)
        return out

    def checkpoints_of(self, session_id: str) -> list[str]:
        return [p.checkpoint for p in self.by_session.get(session_id, [])]

    def segments(self, session_id: str) -> list[Segment]:
        """Each checkpoint's segment of this session's transcript."""
        parts = self.by_session.get(session_id, [])
        texts = {id(p): self._lines(p.transcript) if p.transcript else [] for p in parts}
        out = []
        for p in parts:
            mine = texts[id(p)]
            start = p.meta_start
            if start is None:  # the longest sibling transcript this one continues
                prefixes = [len(t) for q in parts if q is not p and 0 < len(t := texts[id(q)]) < len(mine)]
                start = max((n for n in prefixes if _starts_with(mine, parts, texts, n)), default=0)
            seg = mine[start:]
            body = "\n".join(seg)
            stamps = sorted(_TIMESTAMP.findall(body))
            out.append(
                Segment(
                    p.checkpoint,
                    start,
                    len(seg),
                    set(_CALL_ID.findall(body)),
                    stamps[0] if stamps else None,
                    stamps[-1] if stamps else None,
                )
            )
        return out

    def _lines(self, blob: str) -> list[str]:
        if blob not in self._texts:
            self._texts[blob] = _blobs(self.repo, [blob]).get(blob, "").splitlines()
        return self._texts[blob]


def _starts_with(mine: list[str], parts: list[_Part], texts: dict[int, list[str]], n: int) -> bool:
    """Some sibling transcript of `n` lines is the first `n` lines of `mine`."""
    return any(len(t := texts[id(q)]) == n and mine[:n] == t for q in parts)


def _root_session(root: dict, n: str) -> str | None:
    """The session id the checkpoint's own metadata gives for session folder `n` (older layouts)."""
    sessions = root.get("sessions") if isinstance(root.get("sessions"), list) else []
    for s in sessions:
        if isinstance(s, dict) and f"/{n}/" in str(s.get("metadata") or s.get("transcript") or ""):
            return s.get("session_id")
    if len(sessions) == 1 and isinstance(sessions[0], dict):
        return sessions[0].get("session_id")
    return root.get("session_id")


def _checkpoint_trees(repo: GitRepo) -> list[tuple[str, str | None]]:
    """(ref, checkpoint id) of each place checkpoints are kept: the v1 branch (id None: many per tree;
    the local branch, else a remote's copy) and each per-checkpoint ref."""
    refs = repo.git("for-each-ref", "--format=%(refname)", "refs/heads/", "refs/remotes/", REFS, check=False)
    out: list[tuple[str, str | None]] = []
    branches = [r for r in refs.split() if r.endswith("/" + BRANCH)]
    local = [r for r in branches if r.startswith("refs/heads/")]
    out += [(r, None) for r in (local or branches)[:1]]
    out += [(r, r.rsplit("/", 1)[1]) for r in refs.split() if r.startswith(REFS)]
    return out


def _tree(repo: GitRepo, ref: str) -> dict[str, str]:
    """path -> blob sha of every file under `ref`."""
    out = {}
    for entry in repo.git("ls-tree", "-r", "-z", ref, check=False).split("\0"):
        meta, _, path = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[1] == "blob":
            out[path] = parts[2]
    return out


def _blobs(repo: GitRepo, shas: list[str]) -> dict[str, str]:
    """sha -> text of each blob, read by one `git cat-file --batch`."""
    if not shas:
        return {}
    proc = subprocess.run(
        ["git", "-C", str(repo.root), "cat-file", "--batch"],
        input="\n".join(dict.fromkeys(shas)).encode() + b"\n",
        capture_output=True,
    )
    out, data, i = {}, proc.stdout, 0
    while i < len(data):
        nl = data.index(b"\n", i)
        head = data[i:nl].decode().split()
        if len(head) < 3 or head[1] == "missing":
            i = nl + 1
            continue
        size = int(head[2])
        out[head[0]] = data[nl + 1 : nl + 1 + size].decode("utf-8", "replace")
        i = nl + 1 + size + 1
    return out


def _json(text: str) -> dict:
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
