"""The files of a session whose log shows them whole, in part, or not at all: one book per session.

Gemini CLI logs each edit's whole file before and after; GitHub Copilot and pi log the edit's arguments
(`old_str`/`new_str`, a whole `file_text`) and a diff of the edit with a few lines of context, and the
file only when the agent read it whole. `FileBook` keeps what is known of every file the session touched
on top of `files.FileStates` (a file known whole, or *partial*: runs of real lines with unknown gaps
between them, revealed as the edits quote them), turns each edit into a `FileChange` (before and after
as far as they are known), records it in the `SessionBuilder` as applied or as a negative, and at the end
states where each base file came from: "logged" (read whole, created, or logged whole) or
"reconstructed" (rebuilt from the lines the edits quoted).

    book = FileBook(builder)
    book.learn("a.py", text)                                    # a whole-file read
    change = book.replace("a.py", "x = 1\\n", "x = 2\\n")       # or book.hunks(...), book.write(...)
    book.apply(change, "edit", call_id)                         # or book.propose(change, ..., "rejected")
    book.shell("sed -i s/a/b/ a.py")                            # counted: may write files
    book.finish()                                               # bases, current state, confidence

Pure Python, CPU only; used by `golddiff.traces.gemini`, `golddiff.traces.pi` and `golddiff.traces.copilot`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golddiff.diffs import unified_diff
from golddiff.diffs.apply_patch import PatchChunk, PatchOp
from golddiff.diffs.core import PatchError
from golddiff.episodes import Edit
from golddiff.traces.session.builder import SessionBuilder
from golddiff.traces.session.files import FileChange, FileState, FileStates, change_confidence
from golddiff.traces.session.tools import ShellCommand, may_write_files

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Hunk:
    """The lines one hunk of an edit's diff shows before and after (no line endings)."""

    old: list[str]
    new: list[str]
    end_of_file: bool = False  # the hunk reaches the end of the file


def parse_hunks(diff: str, context: int = 3) -> list[Hunk]:
    """The hunks of a one-file unified diff as the tools write it (`diff --git`, `---`/`+++`, `@@`).

    The tools split files on "\\n", so a file's final newline shows as an empty last line; it is dropped
    when the hunk reaches the end of the file (fewer trailing context lines than `context`)."""
    hunks: list[Hunk] = []
    cur: Hunk | None = None
    trailing = 0
    for line in diff.split("\n"):
        if _HUNK.match(line):
            if cur is not None:
                hunks.append(_close(cur, trailing, context))
            cur, trailing = Hunk([], []), 0
            continue
        if cur is None or line.startswith("\\"):
            continue
        sign, text = line[:1], line[1:]
        if sign == " ":
            cur.old.append(text)
            cur.new.append(text)
            trailing += 1
        elif sign == "-":
            cur.old.append(text)
            trailing = 0
        elif sign == "+":
            cur.new.append(text)
            trailing = 0
    if cur is not None:
        hunks.append(_close(cur, trailing, context))
    return [h for h in hunks if h.old or h.new]


def _close(h: Hunk, trailing: int, context: int) -> Hunk:
    # a diff's last line is often "" (the text after the final "\n"): not a context line
    if trailing and h.old and h.new and h.old[-1] == "" and h.new[-1] == "" and trailing - 1 < context:
        h.old.pop()
        h.new.pop()
        h.end_of_file = True
    return h


def _shell_may_write(command: str) -> bool:
    """A rough guess that a shell command changes files (the log cannot show how)."""
    return may_write_files(ShellCommand(None, command, None))


class FileBook:
    """What one session's log tells of its files, and the edits recorded on them (module doc)."""

    def __init__(self, builder: SessionBuilder):
        self.b = builder
        self.states = FileStates(None)
        self.shell_writes = 0  # shell commands that may have changed files (the log cannot show how)

    def shell(self, command: str) -> None:
        """A shell command the agent or the user ran: counted if it may have written files."""
        self.shell_writes += _shell_may_write(command)

    # ------------------------------------------------------------------------------ knowledge

    def learn(self, rel: str, text: str) -> None:
        """A file the agent read whole: its content before any edit the log has not shown yet."""
        self.states.learn(rel, text)

    def known(self, rel: str) -> bool:
        """Whether the whole current content of `rel` is known (read, created, or logged whole)."""
        if rel in self.states.current:
            return not self.states.current[rel].partial
        return rel in self.states.reads

    def text(self, rel: str) -> str | None:
        """The current content of `rel` as far as it is known (None: absent; partial: the known lines)."""
        return self.states.load(rel, "update").text()

    # -------------------------------------------------------------------------------- changes

    def replace(self, rel: str, old: str, new: str, count: int | None = 1, mode: str = "apply") -> FileChange:
        """`old` replaced by `new` (the first `count` times; None: all). On a file known whole the strings
        are replaced exactly; on a partial one they become whole lines. PatchError if `old` is not there."""
        if self.known(rel):
            state = self.states.load(rel, "update")
            before = state.text() or ""
            if old not in before or not old:
                raise PatchError(f"the text to replace is not in {rel} as the log knows it: {old[:80]!r}")
            after = before.replace(old, new, -1 if count is None else count)
            return FileChange(
                rel, before, after, state if mode == "apply" else state.copy(), FileState.of(after)
            )
        hunk = Hunk(_lines(old), _lines(new))
        return self.hunks(rel, [hunk], mode)

    def hunks(self, rel: str, hunks: list[Hunk], mode: str = "apply") -> FileChange:
        """An edit shown as diff hunks: placed by their lines; on a partial file the lines they quote that
        the log had not shown are revealed (mode "apply") or only shown (mode "scratch")."""
        chunks = [PatchChunk(None, h.old, h.new, h.end_of_file) for h in hunks]
        (change,) = self.states.plan(PatchOp("update", rel, chunks=chunks), rel, None, mode, None)
        return change

    def write(self, rel: str, content: str, *, absent: bool | None = None, mode: str = "apply") -> FileChange:
        """The whole file written. `absent`: the tool only creates files (True), or it is not known whether
        the file existed (None: its earlier content, if the log never showed it, is unknown)."""
        first_sight = rel not in self.states.current and rel not in self.states.reads
        state = self.states.load(rel, "add")
        if first_sight and absent is None:
            self.states.origin[rel] = "reconstructed"
            self.b.warn(f"{rel}: written whole before the log showed it; any earlier content is unknown")
        before = state.text()
        return FileChange(
            rel, before, content, state if mode == "apply" else state.copy(), FileState.of(content)
        )

    def logged(self, rel: str, before: str | None, after: str | None) -> FileChange:
        """An edit whose whole file before and after the log gives: it also tells the file's content."""
        state = FileState.of(before)
        if rel not in self.states.current:
            self.states.base[rel] = state.copy()
            self.states.origin[rel] = "logged"
            self.states.reads.pop(rel, None)
        self.states.current[rel] = state
        return FileChange(rel, before, after, state, FileState.of(after))

    @staticmethod
    def unrecorded(rel: str, before: str | None, after: str | None) -> FileChange:
        """A change the book does not record (an edit on a branch the user abandoned): for `propose`."""
        return FileChange(rel, before, after, FileState.of(before), FileState.of(after))

    # ------------------------------------------------------------------------------ recording

    def apply(
        self,
        change: FileChange,
        tool: str,
        call_id: str | None,
        subagent: str | None = None,
        *,
        revealed: bool = True,
    ) -> Edit | None:
        """An edit that reached the file. `revealed`: a `before` that differs from what the book had is
        what the log showed late (else the builder notes a change made outside the logged edits)."""
        if change.before == change.after:
            return None
        self.b.learn_base(change.path, self.states.base_text(change.path))
        edit = self.b.apply_edit(
            change.path, change.before, change.after, tool, call_id, subagent, revealed=revealed
        )
        self.states.commit(change, edit)
        return edit

    def propose(
        self,
        change: FileChange,
        tool: str,
        status: str,
        reason: str | None,
        call_id: str | None,
        subagent: str | None = None,
        on_main_line: bool = True,
    ) -> Edit | None:
        """An edit that did not reach the file (rejected, failed, abandoned): a negative."""
        if change.before == change.after:
            return None
        rel = change.path
        # a file the log never showed, that no applied edit touched: `before` is only the edit's fragment
        fragment = not self.known(rel) and not any(a.path == rel for a in self.states.history)
        if not fragment:
            self.b.learn_base(rel, self.states.base_text(rel))
        return self.b.propose_edit(
            rel,
            change.before,
            change.after,
            tool,
            status,
            reason,
            call_id,
            on_main_line,
            subagent,
            record_base=not fragment,
            confidence=change_confidence(change, seen=not fragment),
        )

    def propose_fragment(
        self,
        rel: str,
        old: str,
        new: str,
        tool: str,
        status: str,
        reason: str | None,
        call_id: str | None,
        subagent: str | None = None,
    ) -> Edit | None:
        """A negative edit whose place in the file cannot be found: its own fragment, `old` -> `new`."""
        if old == new:
            return None
        cur = self.b.files.get(rel)
        return self.b.propose_edit(
            rel,
            cur,
            cur,
            tool,
            status,
            reason,
            call_id,
            subagent=subagent,
            diff=unified_diff(rel, old or None, new),
            record_base=rel in self.b.files,
            confidence="unlocated",  # only its own old -> new text: placed nowhere
        )

    def undo_last(self, rel: str, reason: str) -> bool:
        """Put `rel` back as it was before its last applied edit (an agent's `undo_edit`)."""
        for applied in reversed(self.states.history):
            if applied.path == rel and applied.edit.status == "applied":
                self.b.revert([applied.edit.edit_id], reason, self.states.revert([applied]))
                return True
        return False

    def revert_edits(self, edit_ids: list[str], reason: str) -> None:
        """The user took back applied edits (Undo): they become `reverted` and the files go back."""
        ids = set(edit_ids)
        undone = [a for a in self.states.history if a.edit.edit_id in ids and a.edit.status == "applied"]
        if undone:
            self.b.revert([a.edit.edit_id for a in undone], reason, self.states.revert(undone))

    # ---------------------------------------------------------------------------------- close

    def finish(self) -> None:
        """Give the builder each touched file's base and current content as finally known, and say where
        each base came from."""
        touched = [p for p in self.b.base_files if p in self.states.base]
        for path in touched:  # what the log revealed late was there from the start
            self.b.revise(path, base=self.states.base_text(path), current=self.states.current_text(path))
        per_file = {p: self.states.origin.get(p, "logged") for p in touched}
        rebuilt = sorted(p for p, c in per_file.items() if c == "reconstructed")
        self.b.set_confidence("reconstructed" if rebuilt else "logged", per_file)
        if rebuilt:
            self.b.warn(
                f"base content of {len(rebuilt)} file(s) rebuilt from the lines the edits showed "
                "(the log never showed them whole): " + ", ".join(rebuilt[:10])
            )
        if self.shell_writes:
            self.b.warn(
                f"{self.shell_writes} shell command(s) may have changed files outside the edit tools; "
                "such changes are not in the gold diff"
            )


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    if len(lines) > 1 and lines[-1] == "":
        lines.pop()
    return lines
