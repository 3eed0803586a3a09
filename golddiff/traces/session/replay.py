"""Replay an agent's logged edits onto the files as far as its log shows them, into a SessionBuilder.

Readers whose logs give an edit as its arguments (a whole new file, SEARCH/REPLACE pairs, an
apply_patch text) and only sometimes the file around it (Cursor, OpenCode, Cline, Roo Code) share this.
A file's content before the session is, in order of preference: what the log showed whole before the
first edit (a read, the tool's own before/after record: "logged"), or what the edits themselves show of
it (the SEARCH text and context lines, gaps unknown: "reconstructed", through the partial-file model of
`files.FileStates`). A whole-file write over a file the log never showed is "reconstructed" too:
the file is taken as absent before it, unless the log says it existed.

    replay = EditReplay(builder)
    replay.learn("a.py", "x = 1\\n")                       # the agent read it
    replay.replace("a.py", [("x = 1", "x = 2")], "replace_in_file", "call-1")
    replay.finish()                                        # bases, current states and confidence
    episodes = builder.finish()

Pure Python, CPU only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from golddiff.diffs.apply_patch import PatchChunk, PatchOp, parse_apply_patch
from golddiff.diffs.core import PatchError
from golddiff.diffs.unified import unified_diff
from golddiff.episodes import BaseConfidence, Edit, EditConfidence
from golddiff.traces.session.builder import SessionBuilder
from golddiff.traces.session.files import FileChange, FileState, FileStates, change_confidence


def _lines(text: str) -> list[str]:
    lines = text.replace("\r\n", "\n").split("\n")
    return lines[:-1] if lines and lines[-1] == "" else lines


def chunks_of(pairs: Iterable[tuple[str, str]]) -> list[PatchChunk]:
    """SEARCH/REPLACE pairs (old text, new text) as apply_patch chunks, placed in order."""
    return [PatchChunk(None, _lines(old), _lines(new)) for old, new in pairs]


class EditReplay:
    """The files of one session as its edits leave them, feeding `SessionBuilder` (module doc)."""

    def __init__(self, b: SessionBuilder):
        self.b = b
        self.files = FileStates()
        self.guessed: set[str] = set()  # files written whole that the log never showed before
        self.subagent: str | None = None  # set while replaying a subagent's edits
        self.learned: dict[str, BaseConfidence] = {}  # files learnt from something less than the log

    # ------------------------------------------------------------------------------ knowing

    def learn(self, rel: str, text: str, confidence: BaseConfidence = "logged") -> None:
        """The whole file as the log showed it (a read, a tool's record) before the session changed it.
        `confidence`: "reconstructed" for content known only from an earlier session's edits."""
        if self.files.learn(rel, text) and confidence != "logged":
            self.learned[rel] = confidence

    def text(self, rel: str) -> str | None:
        """The file as the session has left it, when the log knows it whole; else None."""
        state = self.files.current.get(rel)
        if state is None or state.partial:
            return self.files.reads.get(rel) if state is None else None
        return state.text()

    def exists(self, rel: str) -> bool | None:
        state = self.files.current.get(rel)
        return None if state is None else state.exists

    # ------------------------------------------------------------------------------ editing

    def write(
        self,
        rel: str,
        content: str | None,
        tool: str,
        call_id: str | None,
        *,
        existed: bool | None = None,
        status: str = "applied",
        reason: str | None = None,
    ) -> Edit | None:
        """A whole new content for `rel` (None: the file deleted). `existed`: whether the log says the
        file was there before (None: it does not say)."""
        unseen = rel not in self.files.current and rel not in self.files.reads
        if status == "applied" and content is not None and unseen:
            if existed is None or existed:
                self.guessed.add(rel)
                self.files.reconstructed.add(rel)
            # unknown before: taken as absent (a file created), stated as reconstructed when not logged
            self.files.base[rel] = FileState.of(None)
            self.files.current[rel] = FileState.of(None)
            self.files.origin[rel] = "logged" if existed is False else "reconstructed"
        if content is None:
            return self._record(rel, PatchOp("delete", rel), tool, call_id, status, reason)
        return self._record(rel, PatchOp("add", rel, content=content), tool, call_id, status, reason)

    def replace(
        self,
        rel: str,
        pairs: list[tuple[str, str]],
        tool: str,
        call_id: str | None,
        *,
        status: str = "applied",
        reason: str | None = None,
    ) -> Edit | None:
        """SEARCH/REPLACE pairs applied in order to `rel` (an edit tool's old/new strings)."""
        return self.update(rel, chunks_of(pairs), tool, call_id, status=status, reason=reason)

    def update(
        self,
        rel: str,
        chunks: list[PatchChunk],
        tool: str,
        call_id: str | None,
        *,
        status: str = "applied",
        reason: str | None = None,
    ) -> Edit | None:
        """Chunks of old lines -> new lines, placed in order by their content (not by line numbers)."""
        return self._record(rel, PatchOp("update", rel, chunks=chunks), tool, call_id, status, reason)

    def exact(
        self,
        rel: str,
        before: str | None,
        after: str | None,
        tool: str,
        call_id: str | None,
        *,
        status: str = "applied",
        reason: str | None = None,
        confidence: BaseConfidence = "logged",
    ) -> Edit | None:
        """An edit whose file before and after the log records whole (a tool's before/after record).
        `confidence`: "reconstructed" when `before` was derived (e.g. the edit undone on the saved file)."""
        if rel not in self.files.current:
            if before is not None:
                self.files.learn(rel, before)
            self.files.load(rel, "add" if before is None else "update")
            self.files.origin[rel] = confidence
        elif self.files.current[rel].partial and before is not None and not self._edited(rel):
            self.files.base[rel] = FileState.of(before)
            self.files.current[rel] = FileState.of(before)
            self.files.origin[rel] = confidence
            self.files.reconstructed.discard(rel)
        if self.files.origin.get(rel) == "reconstructed":
            self.files.reconstructed.add(rel)
        state = self.files.current[rel]
        change = FileChange(
            rel, before, after, state if before is None else FileState.of(before), FileState.of(after)
        )
        return self._commit(change, tool, call_id, status, reason)

    def patch(
        self,
        text: str,
        resolve: Callable[[str], str | None],
        tool: str,
        call_id: str | None,
        *,
        status: str = "applied",
        reason: str | None = None,
        where: int | str | None = None,
    ) -> list[Edit]:
        """An apply_patch text (`*** Begin Patch`); `resolve(path)` makes its paths relative (None: skip)."""
        try:
            ops = parse_apply_patch(text)
        except PatchError as e:
            self.b.report.skip(self.b.path, where, f"{tool}: the patch does not parse ({e})", "bad_patch")
            return []
        edits = []
        for op in ops:
            rel = resolve(op.path)
            dest = resolve(op.move_to) if op.move_to else None
            if rel is None:
                continue
            op.path, op.move_to = rel, dest
            edit = self._record(rel, op, tool, call_id, status, reason, where=where)
            if edit is not None:
                edits.append(edit)
        return edits

    def _edited(self, rel: str) -> bool:
        return any(a.path == rel for a in self.files.history)

    def _record(
        self,
        rel: str,
        op: PatchOp,
        tool: str,
        call_id: str | None,
        status: str,
        reason: str | None,
        where: int | str | None = None,
    ) -> Edit | None:
        applied = status == "applied"
        seen = rel in self.files.current or rel in self.files.reads
        try:
            changes = self.files.plan(
                op, rel, op.move_to, "apply" if applied else "scratch", None if applied else {}
            )
        except PatchError as e:
            if applied:
                what = f"{tool} on {rel}: {e}; this edit is left out"
                self.b.report.skip(self.b.path, where, what, "hunk_not_placed")
            else:
                self.b.report.counts["edits_not_placed"] += 1
            return None
        if not applied and not seen:  # a file only a refused edit touched: the log says nothing of it
            for table in (self.files.base, self.files.current, self.files.origin):
                table.pop(rel, None)
            self.files.reconstructed.discard(rel)
            self.guessed.discard(rel)
        edit = None
        for change in changes:
            confidence = "exact" if applied else change_confidence(change, seen)
            edit = self._commit(change, tool, call_id, status, reason, applied or seen, confidence)
        return edit

    def _commit(
        self,
        change: FileChange,
        tool: str,
        call_id: str | None,
        status: str,
        reason: str | None,
        known: bool = True,
        confidence: EditConfidence = "exact",
    ) -> Edit:
        if status != "applied":
            if known:
                self.b.learn_base(change.path, self.files.base_text(change.path))
            return self.b.propose_edit(
                change.path,
                change.before,
                change.after,
                tool,
                status,
                reason,
                call_id,
                subagent=self.subagent,
                diff=unified_diff(change.path, change.before, change.after),
                record_base=known,
                confidence=confidence,
            )
        self.b.learn_base(change.path, self.files.base_text(change.path))
        # what the log revealed of the file on the way is not a change by anyone
        edit = self.b.apply_edit(
            change.path, change.before, change.after, tool, call_id, self.subagent, revealed=True
        )
        self.files.commit(change, edit)
        return edit

    # ------------------------------------------------------------------------------ undoing

    def revert(self, edit_ids: Iterable[str], reason: str) -> list[str]:
        """Undo these applied edits (the user's undo): they become `reverted`, their files go back."""
        wanted = set(edit_ids)
        undone = [a for a in self.files.history if a.edit.edit_id in wanted and a.edit.status == "applied"]
        if not undone:
            return []
        restored = self.files.revert(undone)
        self.files.history = [a for a in self.files.history if a not in undone]
        ids = [a.edit.edit_id for a in undone]
        self.b.revert(ids, reason, restored)
        return ids

    # ------------------------------------------------------------------------------ closing

    def finish(self) -> None:
        """Give the builder what the log revealed late (bases, current states), the confidence, and say
        when none of the session's edits reached the accepted state."""
        touched = [p for p in self.b.base_files if p in self.files.base]
        for path in touched:
            self.b.revise(path, base=self.files.base_text(path), current=self.files.current_text(path))
        per_file = {p: self.files.origin.get(p, "logged") for p in touched}
        for p in touched:
            if per_file[p] == "logged" and p in self.learned:
                per_file[p] = self.learned[p]
        rebuilt = sorted(p for p in touched if per_file[p] == "reconstructed")
        self.b.set_confidence("reconstructed" if rebuilt else self.b.base_state_confidence, per_file)
        notes = {
            "guessed": "written whole, never shown before: taken as new files (any earlier content is unknown)",
            "earlier": "known only as an earlier session left them",
            "partial": "rebuilt from the edits' own text (the log never showed them whole)",
        }
        groups: dict[str, list[str]] = {}
        for p in rebuilt:
            kind = "guessed" if p in self.guessed else "earlier" if p in self.learned else "partial"
            groups.setdefault(kind, []).append(p)
        for kind, paths in groups.items():
            self.b.warn(f"base of {len(paths)} file(s) {notes[kind]}: " + ", ".join(paths[:10]))
        if self.b.edits and not self.b.gold_diff().strip():
            self.b.no_accepted_state("none of the session's edits reached the files it left")
