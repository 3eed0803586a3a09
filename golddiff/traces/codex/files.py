"""The files of a Codex session, as far as the log lets us know them: base, current state, history.

Codex logs patches, never file contents. A file's base comes, in order of preference, from the git
repository at the session's base commit (`GitBase`), from a whole-file read the agent printed (`cat`,
`nl -ba`, `sed -n 1,Np`), or is rebuilt from the patches themselves: a file first met through an Update
is known only by the lines its chunks show (context and removed lines). Such a file is *partial*: a list
of segments, each a run of consecutive real lines, with unknown gaps between them. A chunk whose lines
are not in the state so far reveals more of the file (`Reveal`): the segments it overlaps or contains are
joined into one, the gaps between them filled with its own lines; a chunk that touches no segment starts
a new one (after the segment holding its `@@` anchor line, if any). Every version of the file (its base,
its current state, the state before each applied edit) has the same segments, so a reveal is applied to
all of them and the base and current state stay comparable: their diff is exactly the agent's change.

    states = FileStates(git=None)
    changes = states.plan(op, "a.py", None, mode="apply")   # [FileChange(path, before, after, ...)]
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from golddiff.diffs.apply_patch import (
    PatchChunk,
    PatchOp,
    join_lines,
    place_chunk,
    seek_sequence,
    split_lines,
)
from golddiff.diffs.core import PatchError
from golddiff.episodes import BaseConfidence, Edit
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import IngestReport


@dataclass
class FileState:
    """One version of a file: absent, known whole (one segment), or partial (segments with gaps)."""

    exists: bool
    segments: list[list[str]] = field(default_factory=list)  # lines without their endings
    partial: bool = False
    eof_known: bool = True  # the last segment ends the file (always so for a whole file)
    eol: str = "\n"
    final_newline: bool = True

    @classmethod
    def of(cls, text: str | None) -> FileState:
        if text is None:
            return cls(False)
        lines, eol, final_newline = split_lines(text)
        return cls(True, [lines], eol=eol, final_newline=final_newline or not lines)

    @classmethod
    def unknown(cls) -> FileState:
        return cls(True, [], partial=True, eof_known=False)

    def text(self) -> str | None:
        if not self.exists:
            return None
        return join_lines([ln for seg in self.segments for ln in seg], self.eol, self.final_newline)

    def copy(self) -> FileState:
        return FileState(
            self.exists,
            [list(s) for s in self.segments],
            self.partial,
            self.eof_known,
            self.eol,
            self.final_newline,
        )


@dataclass
class Reveal:
    """Lines of the real file a chunk showed, and where they go among the segments (module doc).

    "insert": a new segment `lines` at index `at`. "merge": one segment made of, in order, the segment
    `first` (whose end the chunk overlapped, if any), then for each `(gap, t)` of `parts` the unknown lines
    `gap` and segment `t` (which the chunk contained, or whose start it overlapped), then `tail`.
    """

    kind: str
    at: int = 0
    lines: list[str] = field(default_factory=list)
    eof: bool = False  # insert: the new segment ends the file; merge: the merged segment does
    first: int | None = None
    parts: list[tuple[list[str], int]] = field(default_factory=list)
    tail: list[str] = field(default_factory=list)

    def apply(self, state: FileState) -> None:
        segs = state.segments
        if self.kind == "insert":
            segs.insert(self.at, list(self.lines))
            state.eof_known = state.eof_known or self.eof
            return
        merged = list(segs[self.first]) if self.first is not None else []
        for gap, t in self.parts:
            merged += gap + segs[t]
        merged += self.tail
        involved = [i for i in [self.first, *(t for _, t in self.parts)] if i is not None]
        for i in sorted(involved, reverse=True):
            del segs[i]
        segs.insert(len(segs) if self.eof else min(involved), merged)


def _same(a: list[str], b: list[str]) -> bool:
    return len(a) == len(b) and all(x.rstrip() == y.rstrip() for x, y in zip(a, b))


def plan_reveal(state: FileState, chunk: PatchChunk) -> Reveal:
    """Where the lines of a chunk that is not in `state` belong (module doc)."""
    segs, old = state.segments, list(chunk.old)
    if chunk.end_of_file:
        while old and old[-1] == "":
            old.pop()
    if not old:  # lines appended at an end of file the log has not shown yet
        return Reveal("insert", len(segs), eof=True)
    last = len(segs) - 1 if state.eof_known else -1
    tails = [
        (k, s)
        for s, seg in enumerate(segs)
        if s != last
        for k in range(min(len(old) - 1, len(seg)), 0, -1)
        if seg[-k].rstrip() == old[0].rstrip() and _same(seg[-k:], old[:k])
    ]
    k, first = max(tails, default=(0, -1))
    used, parts, i = {first}, [], k
    while i < len(old):
        hit = _next_segment(segs, old, i, used)
        if hit is None:
            break
        j, t, n = hit
        parts.append((old[i:j], t))
        used.add(t)
        i = j + n
    if k or parts:
        involved = {first, *(t for _, t in parts)} - {-1}
        return Reveal("merge", first=first if k else None, parts=parts, tail=old[i:], eof=last in involved)
    anchored = _find_line(segs, chunk.anchor, 0, 0) if chunk.anchor else None
    if anchored is not None:
        return Reveal("insert", anchored[0] + 1, old)
    if chunk.end_of_file and not state.eof_known:
        return Reveal("insert", len(segs), old, eof=True)
    return Reveal("insert", last if last >= 0 else len(segs), old)


def _next_segment(
    segs: list[list[str]], old: list[str], i: int, used: set[int]
) -> tuple[int, int, int] | None:
    """(j, t, n): the first place j >= i in `old` where segment t appears whole, or where its start
    runs to the end of `old` (n lines matched); None if no segment does."""
    for j in range(i, len(old)):
        for t, seg in enumerate(segs):
            if t in used or not seg or seg[0].rstrip() != old[j].rstrip():
                continue
            if j + len(seg) <= len(old) and _same(seg, old[j : j + len(seg)]):
                return j, t, len(seg)
            if j + len(seg) > len(old) and _same(seg[: len(old) - j], old[j:]):
                return j, t, len(old) - j
    return None


def _find_line(segs: list[list[str]], line: str | None, seg: int, off: int) -> tuple[int, int] | None:
    for s in [*range(seg, len(segs)), *range(0, seg)]:
        at = seek_sequence(segs[s], [line or ""], off if s == seg else 0)
        if at is not None:
            return s, at
    return None


def place(state: FileState, chunk: PatchChunk, seg: int, off: int) -> tuple[int, int, int, list[str]] | None:
    """(segment, index, lines replaced, new lines) for `chunk` searched from (seg, off), or None."""
    segs = state.segments
    if chunk.anchor is not None:
        hit = _find_line(segs, chunk.anchor, seg, off)
        if hit is not None:
            seg, off = hit[0], hit[1] + 1
    bare = PatchChunk(None, chunk.old, chunk.new, chunk.end_of_file)
    if not chunk.old:
        if not state.eof_known or not segs:
            return None
        spot = place_chunk(segs[-1], bare, 0)
        return None if spot is None else (len(segs) - 1, *spot)
    for s in [*range(seg, len(segs)), *range(0, seg)]:
        spot = place_chunk(segs[s], bare, off if s == seg else 0)
        if spot is not None:
            return (s, *spot)
    return None


@dataclass
class FileChange:
    """What one patch operation does to one file: text before and after, and the state it leaves."""

    path: str
    before: str | None
    after: str | None
    state_before: FileState
    state_after: FileState


@dataclass
class Applied:
    """An applied edit and the state of its file just before it (for /undo)."""

    edit: Edit
    path: str
    before: FileState


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


class FileStates:
    """Base, current state and history of every file a session touched (module doc)."""

    def __init__(self, git: GitBase | None = None):
        self.git = git
        self.base: dict[str, FileState] = {}
        self.current: dict[str, FileState] = {}
        self.reads: dict[str, str] = {}  # whole files the agent printed before editing them
        self.history: list[Applied] = []
        self.reconstructed: set[str] = set()  # files whose base is rebuilt from patches
        self.unlogged_deletes: set[str] = set()  # deleted files whose content the log never showed
        self.origin: dict[str, BaseConfidence] = {}  # where each base came from: git | logged | reconstructed

    # ------------------------------------------------------------------------------ loading

    def load(self, rel: str, kind: str, deleted_content: str | None = None) -> FileState:
        """The file's current state, its base first read when this is the first time it is met."""
        if rel in self.current:
            return self.current[rel]
        state, self.origin[rel] = self._first_sight(rel, kind, deleted_content)
        self.base[rel], self.current[rel] = state.copy(), state
        return state

    def _first_sight(
        self, rel: str, kind: str, deleted_content: str | None
    ) -> tuple[FileState, BaseConfidence]:
        if self.git is not None:
            text = self.git.content(rel)
            if text is not None or kind in ("add", "move_to"):
                return FileState.of(text), "git"
        if rel in self.reads:
            return FileState.of(self.reads[rel]), "logged"
        if kind in ("add", "move_to"):
            return FileState.of(None), "logged"
        if kind == "delete" and deleted_content is not None:
            return FileState.of(deleted_content), "logged"
        self.reconstructed.add(rel)
        if kind == "delete":
            self.unlogged_deletes.add(rel)
        return FileState.unknown(), "reconstructed"

    def learn(self, rel: str, content: str) -> bool:
        """A whole file the agent printed: its base, unless the log already knows more of it."""
        state = self.current.get(rel)
        if state is None:
            self.reads.setdefault(rel, content)
            return True
        if state.partial and not state.segments and not any(a.path == rel for a in self.history):
            self.base[rel], self.current[rel] = FileState.of(content), FileState.of(content)
            self.origin[rel] = "logged"
            self.reconstructed.discard(rel)
            self.unlogged_deletes.discard(rel)
            return True
        return False

    # ----------------------------------------------------------------------------- planning

    def plan(
        self,
        op: PatchOp,
        rel: str,
        dest: str | None,
        mode: str,
        overlay: dict[str, FileState] | None = None,
        deleted_content: str | None = None,
    ) -> list[FileChange]:
        """The file changes of one operation. `mode`: "apply" (an applied patch: in a partial file, the
        unknown lines it shows become part of the file; in a known file, a chunk that is not found is a
        PatchError) or "scratch" (a patch that did not apply: computed on copies, nothing is learnt, a
        chunk that is not found is shown where it would fit). `overlay` holds the states a not-applied
        patch's earlier operations left."""

        def get(path: str, kind: str) -> FileState:
            if overlay is not None and path in overlay:
                return overlay[path]
            return self.load(path, kind, deleted_content if path == rel else None)

        state = get(rel, op.kind)
        if op.kind == "add":
            return [FileChange(rel, state.text(), op.content, state, FileState.of(op.content))]
        if not state.exists:
            raise PatchError(f"cannot {op.kind} {rel}: the file does not exist at this point")
        if op.kind == "delete":
            return [FileChange(rel, state.text(), None, state, FileState(False))]
        before, after = self._update(rel, state, op.chunks, mode)
        if dest is None or dest == rel:
            return [FileChange(rel, before.text(), after.text(), before, after)]
        target = get(dest, "move_to")
        moved = FileState.of(after.text())
        return [
            FileChange(rel, before.text(), None, before, FileState(False)),
            FileChange(dest, target.text(), moved.text(), target, moved),
        ]

    def _update(
        self, rel: str, state: FileState, chunks: list[PatchChunk], mode: str
    ) -> tuple[FileState, FileState]:
        """(state before, state after) of an Update's chunks, revealing unknown lines as `mode` allows."""
        before = state.copy() if mode == "scratch" else state
        work = before.copy()
        seg = off = 0
        for chunk in chunks:
            spot = place(work, chunk, seg, off)
            if spot is None and (mode == "scratch" or work.partial):
                reveal = plan_reveal(work, chunk)
                for version in self._versions(rel, before, work, everywhere=mode == "apply"):
                    reveal.apply(version)
                spot = place(work, chunk, 0, 0)
            if spot is None:
                preview = " | ".join(chunk.old[:3])[:120]
                raise PatchError(f"a chunk's lines are not in {rel} as the log knows it: {preview!r}")
            s, at, n_old, new = spot
            work.segments[s][at : at + n_old] = new
            seg, off = s, at + len(new)
        work.final_newline = True
        return before, work

    def _versions(self, rel: str, before: FileState, work: FileState, everywhere: bool) -> list[FileState]:
        """The versions a reveal must reach: all of the file's partial states, or only the scratch pair."""
        found = [work, before]
        if everywhere:
            found += [self.base[rel], self.current[rel]]
            found += [a.before for a in self.history if a.path == rel and a.before.partial]
        unique: dict[int, FileState] = {}
        for v in found:
            if v.partial or v is work or v is before:
                unique.setdefault(id(v), v)
        return list(unique.values())

    # ------------------------------------------------------------------------------ changes

    def commit(self, change: FileChange, edit: Edit) -> None:
        """An applied change: the file moves on; the state before is kept for /undo."""
        self.history.append(Applied(edit, change.path, change.state_before))
        self.current[change.path] = change.state_after

    def revert(self, undone: list[Applied]) -> dict[str, str | None]:
        """Put the files back as they were before `undone` (a run of applied edits); returns their text."""
        restored: dict[str, str | None] = {}
        for applied in reversed(undone):
            self.current[applied.path] = applied.before.copy()
            restored[applied.path] = applied.before.text()
        return restored

    def base_text(self, rel: str) -> str | None:
        return self.base[rel].text()

    def current_text(self, rel: str) -> str | None:
        return self.current[rel].text()

    def confidence(
        self, touched: list[str]
    ) -> tuple[BaseConfidence | None, dict[str, BaseConfidence], list[str]]:
        """How far the bases of `touched` can be trusted: overall (None: as logged), per file, and the
        warnings that say why."""
        per_file = {p: self.origin[p] for p in touched}
        rebuilt = sorted(p for p in touched if p in self.reconstructed)
        if not rebuilt:
            return ("git" if self.git is not None else None), per_file, []
        why = "the git repository at the base commit was not available" if self.git is None else "not in git"
        notes = [
            f"base content of {len(rebuilt)} file(s) rebuilt from the patches' context lines ({why}): "
            + ", ".join(rebuilt[:10])
        ]
        unlogged = sorted(self.unlogged_deletes & set(rebuilt))
        if unlogged:
            notes.append("deleted without their content in the log: " + ", ".join(unlogged[:10]))
        return "reconstructed", per_file, notes
