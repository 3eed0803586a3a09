"""The edit tools of GitHub Copilot (CLI and VS Code), replayed on a session's `FileBook`.

    ops = ops_of("str_replace_editor", {"command": "str_replace", "path": p, "old_str": a, "new_str": b})
    runner = EditRunner(book, rel)              # rel(path, where) -> path relative to the workspace
    runner.applied("edit", ops, call_id, diff)  # or runner.refused(..., "rejected", reason)

An edit call becomes `Op`s, one file operation each: `create` (the whole file; Copilot creates only new
files), `replace` (old -> new text, exactly once), `insert` (text after a line), `undo` (the agent's
`undo_edit`: the file back as before its last edit), `patch` (one file of an `apply_patch` patch). An
applied op is replayed on the file when its content is known whole; on a file the log showed only in
part, the diff Copilot logged for the edit (`detailedContent`, the legacy `log`) is used, else the op's own
text. Tool names of both agents:

    Copilot CLI:  str_replace_editor {command: create|str_replace|insert|undo_edit, path, ...},
                  create {path, file_text}, edit {path, old_str, new_str}, apply_patch (the patch text)
    VS Code:      replace_string_in_file / multi_replace_string_in_file {filePath, oldString, newString},
                  create_file {filePath, content}, apply_patch {input}, insert_edit_into_file {filePath,
                  code} (a sketch with "...existing code..." markers: not replayable, counted)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from golddiff.diffs.apply_patch import PatchOp, parse_apply_patch
from golddiff.diffs.core import PatchError
from golddiff.episodes import Edit
from golddiff.traces.session import IngestReport
from golddiff.traces.session.file_book import FileBook, parse_hunks
from golddiff.traces.session.files import FileChange

REPLACE_TOOLS = frozenset({"edit", "replace_string_in_file", "copilot_replaceString"})
MULTI_REPLACE_TOOLS = frozenset({"multi_replace_string_in_file", "copilot_multiReplaceString"})
CREATE_TOOLS = frozenset({"create", "create_file", "copilot_createFile"})
PATCH_TOOLS = frozenset({"apply_patch", "copilot_applyPatch"})
SKETCH_TOOLS = frozenset({"insert_edit_into_file", "copilot_insertEdit", "edit_file", "copilot_editFile"})
EDIT_TOOLS = (
    REPLACE_TOOLS | MULTI_REPLACE_TOOLS | CREATE_TOOLS | PATCH_TOOLS | SKETCH_TOOLS | {"str_replace_editor"}
)


@dataclass
class Op:
    """One file operation of an edit call (module doc)."""

    kind: str  # create | replace | insert | undo | patch | sketch
    path: str
    old: str = ""
    new: str = ""
    line: int = 0
    patch: PatchOp | None = None


def _s(v: object) -> str | None:
    return v if isinstance(v, str) else None


def ops_of(name: str, args: object) -> list[Op] | None:
    """The file operations an edit call asks for; None if `name` is no edit tool (or a `view`)."""
    if name in PATCH_TOOLS:
        text = args.get("input") if isinstance(args, dict) else args
        if not isinstance(text, str):
            return []
        try:
            return [Op("patch", op.path, patch=op) for op in parse_apply_patch(text)]
        except PatchError:
            return []
    if not isinstance(args, dict):
        return None if name not in EDIT_TOOLS else []
    path = _s(args.get("path")) or _s(args.get("filePath")) or _s(args.get("file_path")) or ""
    if name == "str_replace_editor":
        cmd = args.get("command")
        if cmd == "create":
            return [Op("create", path, new=_s(args.get("file_text")) or "")]
        if cmd == "str_replace":
            return [Op("replace", path, _s(args.get("old_str")) or "", _s(args.get("new_str")) or "")]
        if cmd == "insert":
            line = args.get("insert_line")
            return [
                Op(
                    "insert",
                    path,
                    new=_s(args.get("new_str")) or "",
                    line=line if isinstance(line, int) else 0,
                )
            ]
        if cmd == "undo_edit":
            return [Op("undo", path)]
        return None  # view
    if name in CREATE_TOOLS:
        return [Op("create", path, new=_s(args.get("file_text")) or _s(args.get("content")) or "")]
    if name in REPLACE_TOOLS:
        old = _s(args.get("old_str")) or _s(args.get("oldString")) or _s(args.get("old_string")) or ""
        new = _s(args.get("new_str")) or _s(args.get("newString")) or _s(args.get("new_string")) or ""
        return [Op("replace", path, old, new)]
    if name in MULTI_REPLACE_TOOLS:
        reps = args.get("replacements")
        return [
            Op(
                "replace",
                _s(r.get("filePath")) or "",
                _s(r.get("oldString")) or "",
                _s(r.get("newString")) or "",
            )
            for r in (reps if isinstance(reps, list) else [])
            if isinstance(r, dict)
        ]
    if name in SKETCH_TOOLS:
        return [Op("sketch", path, new=_s(args.get("code")) or "")]
    return None


def _inserted(text: str, line: int, new: str) -> str:
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    add = new if new.endswith("\n") else new + "\n"
    return "".join(lines[:line]) + add + "".join(lines[line:])


class EditRunner:
    """Replays edit ops on a FileBook and records them as applied or negative edits (module doc)."""

    def __init__(
        self,
        book: FileBook,
        rel: Callable[[str, int | str | None], str | None],
        report: IngestReport,
        log: str,
    ):
        self.book, self.rel, self.report, self.log = book, rel, report, log

    def applied(
        self,
        tool: str,
        ops: list[Op],
        call_id: str,
        diff: str | None,
        where: int | str | None,
        subagent: str | None = None,
    ) -> list[Edit]:
        out = []
        for op in ops:
            rel = self.rel(op.path, where) if op.path else None
            if rel is None:
                if not op.path:
                    self.report.skip(
                        self.log,
                        where,
                        f"{tool} call {call_id} names no file; edit left out",
                        "bad_tool_input",
                    )
                continue
            if op.kind == "undo":
                self.book.undo_last(rel, "undone by the agent (undo_edit)")
                continue
            try:
                for change in self._changes(op, rel, diff if len(ops) == 1 else None, "apply"):
                    edit = self.book.apply(change, tool, call_id, subagent)
                    if edit is not None:
                        out.append(edit)
            except PatchError as e:
                self.report.skip(
                    self.log, where, f"{tool} of {rel}: {e}; the edit is left out", "edit_not_placed"
                )
        return out

    def refused(
        self, tool: str, ops: list[Op], call_id: str, status: str, reason: str, subagent: str | None = None
    ) -> list[Edit]:
        out = []
        for op in ops:
            rel = self.rel(op.path, None) if op.path else None
            if rel is None or op.kind == "undo":
                continue
            try:
                changes = self._changes(op, rel, None, "scratch")
            except PatchError:
                edit = self.book.propose_fragment(
                    rel, op.old, op.new, tool, status, reason, call_id, subagent
                )
                out += [edit] if edit is not None else []
                continue
            for change in changes:
                edit = self.book.propose(change, tool, status, reason, call_id, subagent)
                out += [edit] if edit is not None else []
        return out

    def _changes(self, op: Op, rel: str, diff: str | None, mode: str) -> list[FileChange]:
        book = self.book
        if op.kind == "create":
            return [book.write(rel, op.new, absent=True, mode=mode)]
        if op.kind == "sketch":
            self.report.counts["copilot/sketch_edits"] += 1
            raise PatchError("an edit sketch with '...existing code...' markers cannot be replayed")
        if op.kind == "patch" and op.patch is not None:
            dest = self.rel(op.patch.move_to, None) if op.patch.move_to else None
            return book.states.plan(op.patch, rel, dest, mode, None if mode == "apply" else {})
        if book.known(rel):
            if op.kind == "replace":
                try:
                    return [book.replace(rel, op.old, op.new, mode=mode)]
                except PatchError:
                    if not diff:
                        raise
            elif op.kind == "insert":
                return [
                    book.write(rel, _inserted(book.text(rel) or "", op.line, op.new), absent=False, mode=mode)
                ]
        hunks = parse_hunks(diff) if diff else []
        if hunks:
            return [book.hunks(rel, hunks, mode)]
        if op.kind == "replace" and op.old:
            return [book.replace(rel, op.old, op.new, mode=mode)]
        raise PatchError(f"the {op.kind} cannot be placed: the file is not known and no diff was logged")
