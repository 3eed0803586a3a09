"""Turn one session's events into Episodes: the piece every log reader shares.

A reader walks its log format and calls, in order: `user(...)`, `assistant_text(...)`, `tool_call(...)`,
`tool_result(...)`, `apply_edit(...)` for an edit that reached the files, `propose_edit(...)` for one that
did not (rejected, failed, on an abandoned branch), `feedback(...)`, `revert(...)` when the user undid
edits, and `new_episode()` when the user moved on to a new task. `finish()` returns the episodes: for
each, the base content of every touched file, the accepted end state, the gold diff between them, and
every edit labelled with its fate.

What the log says outside those events goes through small calls too: `set_header(...)` for session
fields that arrive late, `learn_base(...)` / `revise(...)` for file content the reader learns besides
the edits, `explain(...)` for the user's words about an earlier rejection, `drop_request()` when the
request itself was taken back, and, for the episode being built, `set_outside_gold(...)` (a submission),
`set_final_commit(...)`, `set_base_commit(...)`, `set_confidence(...)`, `no_accepted_state(...)` and
`settle(...)` (the reader's own verdict on an edit). Readers never touch the builder's state directly;
`files`, `base_files`, `edits`, `edit(...)` and `turns` are there to read.

    b = SessionBuilder("codex", "rollout.jsonl", None, IngestReport())
    b.user("fix the off-by-one", "task")
    b.apply_edit("a.py", "range(1, n)\\n", "range(n)\\n", "apply_patch")
    [episode] = b.finish()

Pure Python, CPU only; imported through `golddiff.traces.session`.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from types import MappingProxyType

from golddiff.diffs import files_diff, unified_diff
from golddiff.episodes import (
    BaseConfidence,
    Edit,
    EditStatus,
    Episode,
    Feedback,
    FeedbackKind,
    FinalSource,
    Step,
    ToolCall,
    Turn,
    UserKind,
)
from golddiff.traces.session.episode import (
    KEEP,
    Header,
    Keep,
    Outcome,
    apply_verdicts,
    close_episode,
)
from golddiff.traces.session.report import IngestReport


class SessionBuilder:
    """Accumulates one session's events and cuts them into episodes (see the module docstring)."""

    def __init__(
        self,
        tool: str,
        path: str,
        session_id: str | None,
        report: IngestReport,
        *,
        version: str | None = None,
        cwd: str | None = None,
        branch: str | None = None,
        base_commit: str | None = None,
        repository_url: str | None = None,
        base_state_confidence: BaseConfidence = "logged",
    ):
        self.tool, self.path, self.session_id, self.report = tool, path, session_id, report
        self.version, self.cwd, self.branch = version, cwd, branch
        self.base_commit, self.repository_url = base_commit, repository_url
        self.base_state_confidence: BaseConfidence = base_state_confidence
        self._current: dict[str, str | None] = {}  # the files as the session has left them so far
        self.episodes: list[Episode] = []
        self.segment = 0
        self._settled: dict[int, dict[str, tuple[EditStatus, str | None]]] = {}  # segment -> verdicts
        self._reset()

    def _reset(self) -> None:
        self._base: dict[str, str | None] = {}
        self.turns: list[Turn] = []
        self._edits: list[Edit] = []
        self._by_id: dict[str, Edit] = {}
        self._calls: dict[str, ToolCall] = {}
        self._warnings: list[str] = []
        self._task: str | None = None
        self._outcome = Outcome()

    # ------------------------------------------------------------------------------ to read

    @property
    def files(self) -> Mapping[str, str | None]:
        """The files as the session has left them so far (path -> content; None = absent). Read-only."""
        return MappingProxyType(self._current)

    @property
    def base_files(self) -> Mapping[str, str | None]:
        """The current episode's base: each touched file's content before the episode. Read-only."""
        return MappingProxyType(self._base)

    @property
    def edits(self) -> tuple[Edit, ...]:
        """The current episode's edits so far, in order."""
        return tuple(self._edits)

    @property
    def task(self) -> str | None:
        """The current episode's request, once the user has made one."""
        return self._task

    @property
    def next_edit_id(self) -> str:
        """The id the next `apply_edit` / `propose_edit` will give its edit."""
        return f"e{len(self._edits)}"

    def edit(self, edit_id: str) -> Edit:
        """The current episode's edit with this id (KeyError if there is none)."""
        if edit_id not in self._by_id:
            raise KeyError(f"{self.path}: the current episode has no edit {edit_id!r}")
        return self._by_id[edit_id]

    def gold_diff(self) -> str:
        """The gold diff the current episode would close with now."""
        if self._outcome.gold is not None:
            return self._outcome.gold[0]
        return files_diff(self._base, self._final_files())

    # ----------------------------------------------------------------------- header and paths

    def set_header(
        self,
        *,
        session_id: str | None | Keep = KEEP,
        version: str | None | Keep = KEEP,
        cwd: str | None | Keep = KEEP,
        branch: str | None | Keep = KEEP,
        base_commit: str | None | Keep = KEEP,
        repository_url: str | None | Keep = KEEP,
    ) -> None:
        """Session fields the log gives only after its first records (Codex's `session_meta`): each one
        passed replaces what the constructor was given. They are read when an episode closes."""
        given = dict(
            session_id=session_id,
            version=version,
            cwd=cwd,
            branch=branch,
            base_commit=base_commit,
            repository_url=repository_url,
        )
        for name, value in given.items():
            if value is not KEEP:
                setattr(self, name, value)

    def warn(self, msg: str) -> None:
        """A warning that belongs to the current episode (kept in its provenance)."""
        self._warnings.append(msg)

    def rel(self, path: str, line: int | str | None = None, src: str | None = None) -> str | None:
        """The path relative to the session's cwd; None (reported, counted) if it points outside it.

        `src` names the file the record came from when it is not the session's own (a subagent file).
        """
        p = path.replace("\\", "/")
        cwd = (self.cwd or "").replace("\\", "/").rstrip("/")
        if p.startswith("/") or (len(p) > 1 and p[1] == ":"):
            if cwd and (p == cwd or p.startswith(cwd + "/")):
                p = p[len(cwd) + 1 :]
            else:
                what = f"edit of {path!r}, outside the session's working directory {cwd!r}"
                self.report.skip(src or self.path, line, what, "outside_cwd")
                return None
        norm = posixpath.normpath(p)
        if norm == ".." or norm.startswith("../") or norm in ("", "."):
            what = f"edit of {path!r}, outside the session's working directory"
            self.report.skip(src or self.path, line, what, "outside_cwd")
            return None
        return norm

    # -------------------------------------------------------------------------- conversation

    def _turn(self) -> Turn:
        if not self.turns:
            self.turns.append(Turn(index=0, user=None, user_kind="followup"))
        return self.turns[-1]

    def user(self, text: str, kind: UserKind = "followup", timestamp: str | None = None) -> Turn:
        """A user message; the first request ("task" or "followup") of an episode becomes its task."""
        if self._task is None and kind in ("task", "followup"):
            self._task, kind = text, "task"
        turn = Turn(index=len(self.turns), user=text, user_kind=kind, timestamp=timestamp)
        self.turns.append(turn)
        return turn

    def drop_request(self) -> None:
        """The user took the episode's request back (a rollback past it): their next message is the task."""
        self._task = None

    def note(self, text: str, kind: UserKind) -> None:
        """A user-side record that is not a request (a queued message, a compaction summary, a command)."""
        self._turn().steps.append(Step(kind="note", text=f"[{kind}] {text}"))

    def assistant_text(self, text: str) -> None:
        if text.strip():
            self._turn().steps.append(Step(kind="text", text=text))

    def thinking(self, text: str) -> None:
        if text.strip():
            self._turn().steps.append(Step(kind="thinking", text=text))

    def tool_call(self, call_id: str, name: str, input: dict | list | str | None) -> ToolCall:
        call = ToolCall(call_id=call_id, name=name, input=input)
        self._calls[call_id] = call
        self._turn().steps.append(Step(kind="tool_call", call=call))
        return call

    def tool_result(self, call_id: str, output: str, is_error: bool = False, max_chars: int = 20_000) -> None:
        call = self._calls.get(call_id)
        if call is None:
            return
        call.output = (
            output
            if len(output) <= max_chars
            else output[:max_chars] + f"\n[... {len(output) - max_chars} chars cut]"
        )
        call.is_error = is_error

    def feedback(self, kind: FeedbackKind, text: str | None = None, call_id: str | None = None) -> Feedback:
        """The user's verdict in the current turn; returned so that `explain` can give it words later."""
        fb = Feedback(kind=kind, text=text, call_id=call_id)
        self._turn().feedback.append(fb)
        return fb

    def explain(self, text: str, feedback: Feedback | None = None, edit_ids: Iterable[str] = ()) -> None:
        """The user's words, arriving after what they explain (their next message after a rejection): they
        become `feedback`'s text (a plain "reject" becomes "reject_with_reason") and are added to the
        reason of each edit of `edit_ids`."""
        if feedback is not None:
            feedback.text = text
            if feedback.kind == "reject":
                feedback.kind = "reject_with_reason"
        for edit_id in edit_ids:
            e = self.edit(edit_id)
            e.reason = f"{e.reason}; the user said: {text}" if e.reason else text

    # ---------------------------------------------------------------------------------- files

    def learn_base(self, path: str, text: str | None) -> None:
        """The content `path` had before the current episode, learnt besides the edits (from the git
        repository, a file the agent printed). The first base an episode records for a file stays."""
        self._base.setdefault(path, text)

    def revise(self, path: str, *, base: str | None | Keep = KEEP, current: str | None | Keep = KEEP) -> None:
        """Set what is known of a file outside any edit: its `base` (content before the current episode)
        and/or its `current` content. For text that was there all along and the log showed late (a file
        rebuilt from what the edits quoted), a change no edit made (the user's own commit before the
        agent's edits), or a file known to be as it was (a file only a rejected edit touched)."""
        if base is not KEEP:
            self._base[path] = base
        if current is not KEEP:
            self._current[path] = current

    def _record_base(self, path: str, before: str | None) -> None:
        if path not in self._base:
            self._base[path] = self._current.get(path, before) if path in self._current else before

    def _add(self, edit: Edit) -> Edit:
        self._edits.append(edit)
        self._by_id[edit.edit_id] = edit
        self._turn().edits.append(edit.edit_id)
        return edit

    def apply_edit(
        self,
        path: str,
        before: str | None,
        after: str | None,
        tool: str,
        call_id: str | None = None,
        subagent: str | None = None,
        *,
        revealed: bool = False,
    ) -> Edit:
        """An edit that reached the file: `before` is the file just before it (None = did not exist).

        A `before` that differs from the file as the session left it is noted as a change made outside
        the logged edits, unless `revealed`: the reader itself learnt more of the file (lines the edit
        showed for the first time), so `before` simply replaces what it knew.
        """
        if revealed and path in self._current:
            self._current[path] = before
        if path in self._current and self._current[path] != before and path in self._base:
            # the file changed between two agent edits: a human (or a tool the log does not show) did it
            self._warnings.append(f"{path}: changed outside the logged edits before edit {len(self._edits)}")
        self._record_base(path, before)
        edit = Edit(
            edit_id=self.next_edit_id,
            path=path,
            tool=tool,
            call_id=call_id,
            turn=self._turn().index,
            diff=unified_diff(path, before, after),
            status="applied",
            subagent=subagent,
        )
        self._current[path] = after
        return self._add(edit)

    def propose_edit(
        self,
        path: str,
        before: str | None,
        after: str | None,
        tool: str,
        status: str,
        reason: str | None = None,
        call_id: str | None = None,
        on_main_line: bool = True,
        subagent: str | None = None,
        *,
        diff: str | None = None,
        record_base: bool = True,
    ) -> Edit:
        """An edit that did not reach the files (rejected, failed, abandoned branch): a negative.

        `diff` is the edit's own diff when `before`/`after` cannot show it (only a fragment of the file
        is known); with `record_base=False`, `before` is not the file's real content and is not taken
        as its base.
        """
        if record_base and (before is not None or path not in self._current):
            self._record_base(path, before)
        edit = Edit(
            edit_id=self.next_edit_id,
            path=path,
            tool=tool,
            call_id=call_id,
            turn=self._turn().index,
            diff=unified_diff(path, before, after) if diff is None else diff,
            status=status,  # type: ignore[arg-type]
            reason=reason,
            on_main_line=on_main_line,
            subagent=subagent,
        )
        return self._add(edit)

    def revert(self, edit_ids: Iterable[str], reason: str, restored: Mapping[str, str | None]) -> None:
        """The user undid applied edits (an /undo, a rollback): each of `edit_ids` becomes a `reverted`
        negative with `reason`, and the files go back to `restored` (path -> content, None = absent)."""
        for edit_id in edit_ids:
            e = self.edit(edit_id)
            e.status, e.reason = "reverted", reason
        self._current.update(restored)

    def settle(
        self, edit_id: str, status: EditStatus, reason: str | None, segment: int | None = None
    ) -> None:
        """The reader's own verdict on an edit's fate, over the labelling against the accepted state.
        Applied when `finish()` returns the episodes, so it may name an edit of an episode already closed
        (`segment`; default: the current episode)."""
        self._settled.setdefault(self.segment if segment is None else segment, {})[edit_id] = (status, reason)

    # ------------------------------------------------------------------- how the episode ends

    def set_outside_gold(
        self,
        diff: str,
        files: Mapping[str, str | None],
        source: FinalSource,
        *,
        base_files: Mapping[str, str | None] | None = None,
        commit: str | None = None,
        warnings: Iterable[str] = (),
    ) -> None:
        """The current episode's accepted state comes from outside the logged edits (SWE-agent's
        submission): `diff` is the gold, `files` the accepted content. `base_files`, when given, replace
        the base the edits gave. The edits are labelled against it; `warnings` follow the episode's own."""
        self._outcome.gold = (diff, dict(files), source, commit)
        self._outcome.gold_base = dict(base_files) if base_files is not None else None
        self._outcome.gold_warnings = list(warnings)

    def set_final_commit(self, commit: str, exact: bool = True) -> None:
        """The current episode's accepted state was committed as `commit` (`final.commit`). `exact`: the
        final files are that commit's (`final.source` "commit"); else they are the logged last state."""
        self._outcome.final_commit = (commit, exact)

    def set_base_commit(self, commit: str | None) -> None:
        """The commit the current episode's base files are at (by default only the first episode has
        one: the session's `base_commit`)."""
        self._outcome.base_commit = commit

    def set_confidence(
        self, confidence: BaseConfidence, files: Mapping[str, BaseConfidence] | None = None
    ) -> None:
        """Where the current episode's base files came from: overall, and per file when known."""
        self._outcome.confidence = confidence
        self._outcome.file_confidence = dict(files or {})

    def no_accepted_state(self, reason: str) -> None:
        """The current episode reached no state the user accepted (a failed run, all its work undone): it
        is kept for its negatives, with `final.accepted` False and the warning "no_gold: <reason>"."""
        self._outcome.no_gold = reason

    # -------------------------------------------------------------------------------- episodes

    def new_episode(self) -> None:
        """The user moved on: the state so far is accepted; the next episode starts from it."""
        self._close()
        self.segment += 1
        self._reset()

    def finish(self) -> list[Episode]:
        """Close the last episode and return them all, with the verdicts of `settle` applied."""
        self._close()
        apply_verdicts(self.episodes, self._settled)
        return self.episodes

    def _final_files(self) -> dict[str, str | None]:
        return {p: self._current.get(p, self._base[p]) for p in self._base}

    def _close(self) -> None:
        if not self._edits:
            return
        task = self._task or next((t.user for t in self.turns if t.user), None) or "(no request was logged)"
        header = Header(
            self.tool,
            self.path,
            self.session_id,
            self.version,
            self.cwd,
            self.branch,
            self.base_commit if self.segment == 0 else None,
            self.repository_url,
            self.base_state_confidence,
        )
        self.episodes.append(
            close_episode(
                header,
                self.segment,
                task,
                self.turns,
                self._edits,
                self._base,
                self._final_files(),
                self._warnings,
                self._outcome,
            )
        )
