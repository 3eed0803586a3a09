"""Reader of OpenAI Codex CLI session logs (`~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`).

A rollout is one session: the user's messages, the model's messages and reasoning summaries, its tool
calls and their outputs, and lifecycle events (aborted turns, /undo, rollbacks). Codex edits files only
through `apply_patch` (a tool call of its own, `["apply_patch", patch]`, or a heredoc in a shell script);
the patch text is parsed and applied here to follow every file, and each patch's fate comes from its
output ("Success. Updated the following files", an error and exit code, "patch rejected by user",
"aborted") or from the `patch_apply_end` event. Codex never logs file contents, so base files come from
the git repository at the session's base commit when `ReadOptions.repo` holds it, else they are rebuilt
from the patches (see `codex/files.py`) and the episode says so (`base_state_confidence`, and per
file `file_confidence`).

    from golddiff.traces import codex
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in codex.read(Path("rollout.jsonl"), IngestReport(), ReadOptions(repo="~/src/project")):
        print(ep.task[:60], ep.final.diff)

CPU only, standard library plus pydantic; tests: `python -m pytest tests/test_codex.py`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from golddiff.diffs.apply_patch import PatchOp, parse_apply_patch
from golddiff.diffs.core import PatchError
from golddiff.episodes import Edit, Episode, Feedback, FeedbackKind
from golddiff.traces.codex.files import Applied, FileChange, FileStates, GitBase
from golddiff.traces.codex.records import (
    IGNORED_EVENTS,
    IGNORED_ITEMS,
    SHELL_TOOLS,
    Echoes,
    Record,
    ShellCommand,
    ToolOutput,
    content_text,
    environment_cwd,
    file_read,
    find_patch,
    json_args,
    may_write_files,
    patch_outcome,
    quiet_rel,
    read_content,
    read_records,
    reasoning_texts,
    shell_command,
    sniff_head,
    str_or_none,
    tool_output,
    tool_path,
    user_text_kind,
)
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder

FORMAT = "codex"


def sniff(path: Path, head: str) -> bool:
    return sniff_head(head)


def is_attached(path: Path) -> bool:
    return False  # a sub-agent writes a rollout of its own, read as a session of its own


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    """Stream the episodes of one rollout; bad records are reported and skipped, never raised."""
    session = _Session(path, report, opts)
    for lineno, record in read_records(path, report):
        session.handle(lineno, record)
    yield from session.finish()


@dataclass
class _Patch:
    """An apply_patch call waiting for its output."""

    call_id: str
    text: str
    workdir: str | None
    lineno: int
    turn: int


class _Session:
    """One rollout, record by record, into a SessionBuilder (see the module docstring)."""

    def __init__(self, path: Path, report: IngestReport, opts: ReadOptions):
        self.log, self.report, self.opts = str(path), report, opts
        self.b = SessionBuilder(FORMAT, self.log, None, report)
        self.files: FileStates | None = None
        self.turn_cwd: str | None = None
        self.meta_seen = False
        self.pending: dict[str, _Patch] = {}
        self.reads: dict[str, tuple[str, str, int | None]] = {}  # call_id -> (path, how, line limit)
        self.exit_codes: dict[str, int] = {}  # call_id -> exit code from exec_command_end
        self.patch_ends: dict[str, dict] = {}  # call_id -> patch_apply_end payload
        self.echoes = Echoes()
        self.awaiting_words: list[tuple[Feedback, list[Edit]]] = []  # feedback the next user message explains
        self.snapshot_marks: list[int] = []  # len(history) at each ghost snapshot (/undo goes back to one)
        self.shell_writes = 0

    # ------------------------------------------------------------------------------- dispatch

    def handle(self, lineno: int, rec: Record) -> None:
        handler = {
            "session_meta": self._session_meta,
            "turn_context": self._turn_context,
            "response_item": self._response_item,
            "event_msg": self._event,
            "compacted": self._compacted,
            "state": lambda lineno, rec: None,
        }.get(rec.kind)
        if handler is None:
            self.report.unknown(self.log, lineno, rec.kind)
            return
        try:
            handler(lineno, rec)
        except (TypeError, AttributeError, KeyError, ValueError) as e:
            self.report.skip(
                self.log, lineno, f"malformed {rec.kind} record ({type(e).__name__}: {e})", "bad_record"
            )

    def _session_meta(self, lineno: int, rec: Record) -> None:
        if self.meta_seen:  # a fork repeats its parent's meta after its own
            self.report.counts["codex/extra_session_meta"] += 1
            return
        self.meta_seen = True
        p = rec.payload
        git = p.get("git") if isinstance(p.get("git"), dict) else {}
        self.b.set_header(
            session_id=str_or_none(p.get("id")) or str_or_none(p.get("session_id")),
            version=str_or_none(p.get("cli_version")),
            branch=str_or_none(git.get("branch")),
            repository_url=str_or_none(git.get("repository_url")),
            base_commit=str_or_none(git.get("commit_hash")),
        )
        self._default_cwd(str_or_none(p.get("cwd")))

    def _turn_context(self, lineno: int, rec: Record) -> None:
        cwd = str_or_none(rec.payload.get("cwd"))
        if cwd:
            self.turn_cwd = cwd
            self._default_cwd(cwd)

    def _compacted(self, lineno: int, rec: Record) -> None:
        self.report.counts["codex/compactions"] += 1
        message = str_or_none(rec.payload.get("message"))
        if message:
            self.b.note(message, "compact_summary")

    def _response_item(self, lineno: int, rec: Record) -> None:
        p = rec.payload
        kind = p.get("type")
        if kind == "message":
            self._message(p, rec.timestamp)
        elif kind == "reasoning":
            for text in reasoning_texts(p):
                if not self.echoes.is_echo("thinking", "item", text):
                    self.b.thinking(text)
        elif kind in ("function_call", "custom_tool_call", "local_shell_call"):
            self._call(lineno, p)
        elif kind in ("function_call_output", "custom_tool_call_output"):
            self._output(lineno, str_or_none(p.get("call_id")) or "", tool_output(p.get("output", "")))
        elif kind == "ghost_snapshot":
            self.report.counts["codex/ghost_snapshots"] += 1
            self.snapshot_marks.append(len(self._files().history))
        elif kind in IGNORED_ITEMS:
            self.report.counts[f"codex/ignored/{kind}"] += 1
        else:
            self.report.unknown(self.log, lineno, f"response_item/{kind}")

    def _event(self, lineno: int, rec: Record) -> None:
        p = rec.payload
        kind = p.get("type")
        if kind == "user_message":
            self._user(str_or_none(p.get("message")) or "", "event", rec.timestamp)
        elif kind == "agent_message":
            text = str_or_none(p.get("message")) or ""
            if text.strip() and not self.echoes.is_echo("assistant", "event", text):
                self.b.assistant_text(text)
        elif kind in ("agent_reasoning", "agent_reasoning_raw_content"):
            text = str_or_none(p.get("text")) or ""
            if text.strip() and not self.echoes.is_echo("thinking", "event", text):
                self.b.thinking(text)
        elif kind == "exec_command_end" and isinstance(p.get("exit_code"), int):
            self.exit_codes[str_or_none(p.get("call_id")) or ""] = p["exit_code"]
        elif kind == "patch_apply_end":  # the patch's fate, before (or instead of) its output
            call_id = str_or_none(p.get("call_id")) or ""
            self.patch_ends[call_id] = p
            if call_id in self.pending:
                self._resolve(self.pending.pop(call_id), None, None)
        elif kind == "turn_aborted":
            self._turn_aborted(str_or_none(p.get("reason")) or "")
        elif kind == "undo_completed":
            self._undo(p)
        elif kind == "thread_rolled_back":
            self._rolled_back(p.get("num_turns"))
        elif kind in IGNORED_EVENTS:
            self.report.counts[f"codex/ignored/{kind}"] += 1
        else:
            self.report.unknown(self.log, lineno, f"event_msg/{kind}")

    # ------------------------------------------------------------------------------- messages

    def _message(self, p: dict, timestamp: str | None) -> None:
        role, parts = p.get("role"), content_text(p.get("content"))
        if role == "user":  # scaffolding parts one by one, the user's own parts as one message
            own = [part for part in parts if user_text_kind(part) == "user"]
            for part in parts:
                if user_text_kind(part) != "user":
                    self._user(part, "item", timestamp)
            if own:
                self._user("\n".join(own), "item", timestamp)
        elif role == "assistant":
            text = "\n".join(parts)
            if text.strip() and not self.echoes.is_echo("assistant", "item", text):
                self.b.assistant_text(text)
        else:  # developer / system: instructions Codex injects
            self.report.counts["codex/scaffolding"] += 1

    def _user(self, text: str, source: str, timestamp: str | None) -> None:
        kind = user_text_kind(text)
        if kind == "scaffold":
            self.report.counts["codex/scaffolding"] += 1
            self._default_cwd(environment_cwd(text))
            return
        if not text.strip() or self.echoes.is_echo("user", source, text):
            return
        if kind == "command":
            self.b.note(text, "command")
            return
        self.b.user(text, "feedback" if self.awaiting_words else "followup", timestamp)
        for fb, edits in self.awaiting_words:
            self.b.explain(text, fb, [e.edit_id for e in edits])
        self.awaiting_words = []
        self.echoes.new_turn()

    def _feedback(
        self, kind: FeedbackKind, call_id: str | None = None, edits: list[Edit] | None = None
    ) -> None:
        self.awaiting_words.append((self.b.feedback(kind, None, call_id), edits or []))

    # ---------------------------------------------------------------------------------- tools

    def _call(self, lineno: int, p: dict) -> None:
        call_id = str_or_none(p.get("call_id")) or str_or_none(p.get("id")) or f"line-{lineno}"
        if p.get("type") == "local_shell_call":
            name, args = "local_shell", p.get("action")
        elif p.get("type") == "custom_tool_call":
            name, args = str_or_none(p.get("name")) or "?", p.get("input")
        else:
            name, args = str_or_none(p.get("name")) or "?", json_args(p.get("arguments"))
        self.b.tool_call(call_id, name, args if isinstance(args, (dict, list, str)) else None)
        if name == "apply_patch":
            text = args.get("input") if isinstance(args, dict) else args
            if isinstance(text, str):
                self.pending[call_id] = _Patch(call_id, text, None, lineno, self._turn_index())
        elif name in SHELL_TOOLS:
            cmd = shell_command(args)
            if cmd is not None:
                self._shell(call_id, cmd, lineno)

    def _shell(self, call_id: str, cmd: ShellCommand, lineno: int) -> None:
        found = find_patch(cmd)
        if found is not None:
            text, cd = found
            workdir = posixpath.join(cmd.workdir or "", cd) if cd else cmd.workdir
            self.pending[call_id] = _Patch(call_id, text, workdir or None, lineno, self._turn_index())
            return
        read = file_read(cmd)
        if read is not None:
            path, how, limit = read
            self.reads[call_id] = (self._join(path, cmd.workdir), how, limit)
        elif may_write_files(cmd):
            self.shell_writes += 1

    def _output(self, lineno: int, call_id: str, out: ToolOutput) -> None:
        code = out.exit_code if out.exit_code is not None else self.exit_codes.get(call_id)
        low = out.text.strip().lower()
        rejected = "rejected by user" in low[:200]
        is_error = rejected or out.success is False or (code is not None and code != 0)
        self.b.tool_result(call_id, out.text, is_error, self.opts.max_output_chars)
        if call_id in self.pending:
            self._resolve(self.pending.pop(call_id), out, code)
        elif call_id in self.reads:
            read = self.reads.pop(call_id)
            if not is_error:
                self._remember_read(*read, out.text)
        elif rejected:
            self._feedback("reject", call_id)

    def _remember_read(self, path: str, how: str, limit: int | None, text: str) -> None:
        rel = self._quiet_rel(path)
        content = None if rel is None else read_content(how, limit, text)
        if rel is not None and content is not None and self._files().learn(rel, content):
            self.report.counts["codex/whole_file_reads"] += 1

    # -------------------------------------------------------------------------------- patches

    def _resolve(
        self, patch: _Patch, out: ToolOutput | None, code: int | None, default: str = "applied"
    ) -> None:
        status, reason = patch_outcome(out, code, self.patch_ends.get(patch.call_id), default)
        edits = self._record_patch(patch, status, reason)
        if status == "rejected":
            self._feedback("reject", patch.call_id, edits)
        elif status == "interrupted":
            self._feedback("interrupt", patch.call_id, edits)

    def _record_patch(self, patch: _Patch, status: str, reason: str | None) -> list[Edit]:
        """Parse and apply (or only propose) a patch; one Edit per file it changes."""
        try:
            ops = parse_apply_patch(patch.text)
        except PatchError as e:
            if status == "applied":
                self.report.skip(
                    self.log, patch.lineno, f"a patch Codex applied does not parse: {e}", "bad_patch"
                )
            else:
                self.report.counts["codex/unparsable_failed_patches"] += 1
            return []
        applied = status == "applied"
        edit_status = {"interrupted": "rejected", "unanswered": "failed"}.get(status, status)
        overlay = None if applied else {}
        edits = []
        for op in ops:
            for change in self._plan(patch, op, overlay):
                self.b.learn_base(change.path, self._files().base_text(change.path))
                if applied:
                    edits.append(self._apply(change, patch.call_id))
                else:
                    edits.append(
                        self.b.propose_edit(
                            change.path,
                            change.before,
                            change.after,
                            "apply_patch",
                            edit_status,
                            reason,
                            patch.call_id,
                        )
                    )
                    overlay[change.path] = change.state_after  # type: ignore[index]
        return edits

    def _plan(self, patch: _Patch, op: PatchOp, overlay: dict | None) -> list[FileChange]:
        rel = self.b.rel(self._join(op.path, patch.workdir), patch.lineno)
        dest = self.b.rel(self._join(op.move_to, patch.workdir), patch.lineno) if op.move_to else None
        if rel is None or (op.move_to and dest is None):
            return []
        deleted = self._deleted_content(patch.call_id, rel) if op.kind == "delete" else None
        mode = "apply" if overlay is None else "scratch"
        try:
            return self._files().plan(op, rel, dest, mode, overlay, deleted)
        except PatchError as e:
            self.report.skip(
                self.log, patch.lineno, f"apply_patch: {e}; this file's edit is left out", "hunk_not_placed"
            )
            return []

    def _apply(self, change: FileChange, call_id: str) -> Edit:
        # what the log revealed of the file on the way is not a change by anyone
        edit = self.b.apply_edit(
            change.path, change.before, change.after, "apply_patch", call_id, revealed=True
        )
        self._files().commit(change, edit)
        return edit

    def _deleted_content(self, call_id: str, rel: str) -> str | None:
        """A deleted file's content, from the `patch_apply_end` event's changes when it has them."""
        changes = self.patch_ends.get(call_id, {}).get("changes")
        for path, change in (changes or {}).items() if isinstance(changes, dict) else ():
            if not isinstance(change, dict) or self._quiet_rel(path) != rel:
                continue
            body = change.get("delete", change) if "delete" in change else change
            if isinstance(body, dict) and isinstance(body.get("content"), str):
                return body["content"]
        return None

    # -------------------------------------------------------------------- aborts, undo, rollback

    def _turn_aborted(self, reason: str) -> None:
        turn = self._turn_index()
        for call_id, patch in list(self.pending.items()):
            if patch.turn == turn:
                del self.pending[call_id]
                self._resolve(patch, None, self.exit_codes.get(call_id), default="interrupted")
        already = self.b.turns and any(f.kind == "interrupt" for f in self.b.turns[-1].feedback)
        if reason in ("interrupted", "replaced", "") and not already:
            self._feedback("interrupt")

    def _undo(self, p: dict) -> None:
        if p.get("success") is False:
            self.report.counts["codex/failed_undos"] += 1
            return
        history = self._files().history
        start = self.snapshot_marks.pop() if self.snapshot_marks else self._last_turn_start(history)
        self._revert([a for a in history[start:] if a.edit.status == "applied"], "undone by the user (/undo)")
        self.b.feedback("undo")

    def _rolled_back(self, num_turns: object) -> None:
        n = num_turns if isinstance(num_turns, int) else 1
        asked = [
            t.index
            for t in self.b.turns
            if t.user is not None and t.user_kind in ("task", "followup", "feedback")
        ]
        if n <= 0 or not asked:
            return
        first = asked[-min(n, len(asked))]
        history = self._files().history
        start = next((i for i, a in enumerate(history) if a.edit.turn >= first), len(history))
        self.snapshot_marks = [m for m in self.snapshot_marks if m <= start]
        self._revert(
            [a for a in history[start:] if a.edit.status == "applied"],
            f"rolled back by the user ({n} turn(s))",
        )
        self.b.feedback("undo")
        if first <= next((t.index for t in self.b.turns if t.user_kind == "task"), -1):
            self.b.drop_request()  # the request itself was taken back: the next message is the task

    @staticmethod
    def _last_turn_start(history: list[Applied]) -> int:
        live = [i for i, a in enumerate(history) if a.edit.status == "applied"]
        if not live:
            return len(history)
        last_turn = history[live[-1]].edit.turn
        return next(i for i in live if history[i].edit.turn == last_turn)

    def _revert(self, undone: list[Applied], reason: str) -> None:
        self.b.revert([a.edit.edit_id for a in undone], reason, self._files().revert(undone))
        self.report.counts["codex/reverted_edits"] += len(undone)

    # --------------------------------------------------------------------------------- finish

    def finish(self) -> list[Episode]:
        for patch in list(self.pending.values()):  # calls the log never answered
            self._resolve(patch, None, self.exit_codes.get(patch.call_id), default="unanswered")
        self.pending.clear()
        if self.files is None:
            return self.b.finish()
        files = self.files
        touched = [p for p in self.b.base_files if p in files.base]
        for path in touched:  # what the log revealed late was there from the start
            self.b.revise(path, base=files.base_text(path), current=files.current_text(path))
        self._label_confidence(files, touched)
        if self.shell_writes:
            self.b.warn(
                f"{self.shell_writes} shell command(s) may have changed files outside apply_patch; "
                "such changes are not in the gold diff"
            )
        return self.b.finish()

    def _label_confidence(self, files: FileStates, touched: list[str]) -> None:
        overall, per_file, notes = files.confidence(touched)
        self.b.set_confidence(overall or self.b.base_state_confidence, per_file)
        for note in notes:
            self.b.warn(note)

    # -------------------------------------------------------------------------------- helpers

    def _files(self) -> FileStates:
        if self.files is None:
            git = None
            if self.opts.repo and self.b.base_commit:
                git = GitBase.open(self.opts.repo, self.b.base_commit, self.b.cwd, self.report)
            self.files = FileStates(git)
        return self.files

    def _quiet_rel(self, path: str) -> str | None:
        """`path` relative to the session's cwd, or None (unreported: reads may look anywhere)."""
        return quiet_rel(path, self.b.cwd)

    def _default_cwd(self, cwd: str | None) -> None:
        """The session's cwd, unless an earlier record gave it."""
        if not self.b.cwd:
            self.b.set_header(cwd=cwd)

    def _turn_index(self) -> int:
        return self.b.turns[-1].index if self.b.turns else 0

    def _join(self, path: str, workdir: str | None) -> str:
        """`path` as the tool saw it: relative paths are under the call's workdir, or the turn's cwd."""
        return tool_path(path, workdir, self.turn_cwd or self.b.cwd or "")
