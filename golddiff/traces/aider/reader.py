"""Aider's `.aider.chat.history.md`: sessions, turns, edits and their fate, one Episode per accepted change.

    from golddiff.traces import aider
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in aider.read(Path(".aider.chat.history.md"), IngestReport(), ReadOptions(repo=".")):
        print(ep.final.commit, ep.task[:60])

or `golddiff ingest .aider.chat.history.md --repo .`. Pure Python over the `git` command; CPU only.

The log (read as text in `aider/log.py`): `# aider chat started at ...` starts a session; `#### ` lines
are the user's; `> ` lines are aider's own output (only the first line of a multi-line message carries the
`> `); the rest is the model's reply. Edits are read in the session's edit format (`> Main model: ... with
<fmt> edit format`): SEARCH/REPLACE blocks (5-9 markers, or ORIGINAL/UPDATED), whole files, udiff and V4A patches.
`> Applied edit to <file>` marks a file's blocks as applied, `# N SEARCH/REPLACE block(s) failed to
match!` lists failed blocks (negatives), `> Commit <sha> <msg>` is aider's auto-commit, and
`/undo` + `> Removed: <sha> <msg>` undoes one (feedback "undo"; that commit's edits become negatives).

Episode boundaries: one episode per user request that produced its own surviving commit ("per turn with
its own gold"). Requests whose work was undone or failed join the next request that does commit: the
episode's task is the first request of the group, its gold the net change of the group's surviving
commits, its negatives the undone commits and failed blocks on the way. Requests that changed nothing
before the group's first edit (questions, /add) are left out, so the task is the request that started
the work. A `/clear` also ends an episode (when `split_on_clear`). Trailing requests with no surviving
commit form a last episode only if they made edits. Sessions with no `Commit` lines (auto-commit off)
end an episode at each request whose edits applied.

With `opts.repo` (the repository the log lives in) the applied edits are the commits themselves (`git
show`), the base is the parent commit (base_state_confidence "git"), `final.source = "commit"` and
`final.commit` is the group's last surviving commit. A commit missing from the repository is a warning on
its episode; that turn's edits are then rebuilt from its blocks. Without the repository every edit is
rebuilt from the blocks alone: a file's base is the SEARCH text the blocks needed, in order, and the
episode says so (base_state_confidence "reconstructed"; per file, `file_confidence` is "git" for a base read
from the repository). An episode none of whose changes were kept has no accepted state (`final.accepted`
False, warning "no_gold: ...").
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from golddiff.diffs import (
    PatchError,
    PatchOp,
    SearchReplace,
    apply_patch_ops,
    apply_search_replace,
    unified_diff,
)
from golddiff.episodes import BaseConfidence, Episode
from golddiff.traces.aider.log import (
    APPLIED,
    COMMIT,
    DECLINED,
    FAILED_APPLY,
    FORMAT_LINE,
    REMOVED,
    THINKING,
    Block,
    Event,
    LogTurn,
    among,
    failed_blocks,
    log_events,
    log_sessions,
    log_turns,
    reply_blocks,
)
from golddiff.traces.git.history import commit_changes, parent
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import KEEP, IngestReport, ReadOptions, SessionBuilder

FORMAT = "aider"

_REQUEST_COMMANDS = ("/code", "/architect", "/ask", "/context", "/agent")


def sniff(path: Path, head: str) -> bool:
    return re.search(r"(?m)^# aider chat started at ", head) is not None


def is_attached(path: Path) -> bool:
    return False


# ------------------------------------------------------------------------------------ one session


@dataclass
class _Segment:
    commits: list[tuple[str, bool]] = field(default_factory=list)  # (sha, exists in the repository)
    first_parent: str | None = None
    rebuilt: bool = False  # some edit was rebuilt from blocks


class _Session:
    """Feeds one session's turns to a SessionBuilder; see the module docstring for the choices."""

    def __init__(
        self, path: Path, report: IngestReport, repo: GitRepo | None, start: str, turns: list[LogTurn]
    ):
        self.path, self.report, self.turns = path, report, turns
        self.repo = repo if repo is not None and any(t.commits for t in turns) else None
        first = next((t.user for t in turns if t.user), None)
        key = hashlib.sha256(f"{start}\n{first.text if first else ''}".encode()).hexdigest()[:12]
        self.b = SessionBuilder(
            "aider",
            str(path),
            f"{start}@{key}",
            report,
            version=_version(turns[0]),
            cwd=str(repo.root) if repo is not None else str(path.resolve().parent),
        )
        self.fmt, self.editor_fmt = "diff", None
        self.pending: list[Block] = []  # blocks of the latest reply whose fate is not known yet
        self.unreadable = False  # aider said the latest reply did not conform to the edit format
        self.to_commit: list[Block] = []  # applied blocks the next Commit line holds (git mode)
        self.since_commit: list[tuple[str, str, str | None]] = []  # (edit id, path, before)
        self.commit_edits: dict[str, tuple[int, list[tuple[str, str, str | None]]]] = {}
        self.removed = [sha for t in turns for sha in t.removed]  # shas /undo removes, in the whole session
        self.reconstructed: set[str] = set()
        self.segments: dict[int, _Segment] = {}
        self.ref = self._first_ref()
        self.last_tool = ""

    def _first_ref(self) -> str | None:
        """Git mode: the revision standing for files before the session's first commit."""
        if self.repo is None:
            return None
        for t in self.turns:
            for sha, _ in t.commits:
                if self.repo.has_commit(sha):
                    return parent(self.repo, sha)
        return None

    @property
    def seg(self) -> _Segment:
        return self.segments.setdefault(self.b.segment, _Segment())

    # ---------------------------------------------------------------------------- the walk

    def read(self, opts: ReadOptions) -> list[Episode]:
        for t in self.turns:
            if t.user is not None:
                self._user(t.user, opts)
            for ev in t.events:
                self._event(ev)
            self._settle()
            for blk in self.to_commit:  # applied, but no Commit line followed (auto-commit off)
                self._apply_block(blk)
            self.to_commit = []
            if t.end_group:
                self._new_episode()
        self._conclude()
        return self.b.finish()

    def _user(self, ev: Event, opts: ReadOptions) -> None:
        text = ev.text.strip()
        cmd, _, rest = text.partition(" ")
        if self.b.turns and not self.b.edits:  # nothing changed since the last episode: a fresh start
            self._new_episode()
        if not text.startswith("/"):
            self.b.user(ev.text)
        elif cmd in _REQUEST_COMMANDS and rest.strip():
            self.b.user(rest.strip())
        else:
            if cmd in ("/clear", "/reset") and opts.split_on_clear and self.b.edits:
                self._new_episode()
            self.b.user(text, "command")

    def _event(self, ev: Event) -> None:
        if ev.kind == "text":
            self._reply(ev)
        elif ev.kind == "failed":
            self._failed(ev)
        elif ev.kind == "tool":
            self._tool(ev)
            self.last_tool = ev.text

    def _reply(self, ev: Event) -> None:
        self._settle()
        for thought in THINKING.findall(ev.text):
            self.b.thinking(thought.strip())
        self.b.assistant_text(THINKING.sub("", ev.text).strip())
        fmt = self.editor_fmt if self.fmt == "architect" and self.editor_fmt else self.fmt
        try:
            self.pending = reply_blocks(ev.text, fmt)
        except PatchError as e:
            self.report.skip(str(self.path), ev.line, f"unreadable edit block: {e}", "bad_edit_block")
            self.pending = []

    def _tool(self, ev: Event) -> None:
        text = ev.text
        fmt, commit, removed = FORMAT_LINE.match(text), COMMIT.match(text), REMOVED.match(text)
        applied, failed = APPLIED.match(text), FAILED_APPLY.match(text)
        if fmt:
            if fmt[1] == "Editor model":
                self.editor_fmt = fmt[2]
            else:
                self.fmt = fmt[2]
        elif applied or failed:
            path = self._norm((applied or failed)[1])
            for blk in [b for b in self.pending if self._norm(b.path) == path]:
                self.pending.remove(blk)
                if applied:
                    self._applied(blk)
                else:
                    self._propose(blk, "failed", "aider could not apply it")
        elif DECLINED.match(text):
            path = self._norm(self.last_tool)
            self.b.feedback("reject", text=text)
            for blk in [b for b in self.pending if self._norm(b.path) == path]:
                self.pending.remove(blk)
                self._propose(blk, "rejected", f"the user declined: {text}")
        elif commit:
            self._commit(commit[1], dirty=self.last_tool.startswith("Committing "))
        elif removed:
            self._undo(removed[1], text)
        elif text.startswith("The LLM did not conform to the edit format"):
            self.unreadable = True  # a failed-match notice may follow and say which blocks failed
        elif "KeyboardInterrupt" in text or text.startswith("^C"):
            self.b.feedback("interrupt", text=text)

    def _failed(self, ev: Event) -> None:
        failed = failed_blocks(ev.text)
        for f in failed:
            match = next((b for b in self.pending if b.search == f.search and b.replace == f.replace), None)
            if match is not None:
                self.pending.remove(match)
            self._propose(
                match or Block(f.path, "SEARCH/REPLACE", f.search, f.replace), "failed", "failed to match"
            )
        for blk in self.pending:  # the other blocks of the reply were written before the error
            self._applied(blk)
        self.pending, self.unreadable = [], False

    def _settle(self) -> None:
        """Blocks of the last reply nothing applied: failed if aider could not read the reply, else
        dropped (an /ask answer, an interrupted reply) and counted."""
        for blk in self.pending if self.unreadable else []:
            self._propose(blk, "failed", "aider could not read the reply's edits")
        if not self.unreadable:
            self.report.counts["aider/unapplied_blocks"] += len(self.pending)
        self.pending, self.unreadable = [], False

    # ---------------------------------------------------------------------------- commits and undo

    def _applied(self, blk: Block) -> None:
        if self.repo is not None:
            self.to_commit.append(blk)
        else:
            self._apply_block(blk)

    def _commit(self, sha: str, dirty: bool) -> None:
        if not dirty:
            for blk in self.pending:  # a commit right after a reply: its blocks were applied
                self._applied(blk)
            self.pending = []
        exists = self._git_commit(sha, dirty) if self.repo is not None else False
        if exists and self.repo is not None:
            sha = self.repo.git("rev-parse", sha).strip()
        if not dirty:
            self.seg.commits.append((sha, exists))
            self.commit_edits[sha] = (self.b.segment, self.since_commit)
            self.since_commit = []

    def _git_commit(self, sha: str, dirty: bool) -> bool:
        """Record a commit's changes from the repository (or rebuild them); whether it exists."""
        assert self.repo is not None
        exists = self.repo.has_commit(sha)
        if not exists:
            self.b.warn(
                f"commit {sha} is not in {self.repo.root}; its edits are rebuilt from the reply's blocks"
            )
            self.seg.rebuilt = True
            for blk in self.to_commit:
                self._apply_block(blk)
        else:
            for ch in commit_changes(self.repo, sha):
                if dirty:  # the user's own changes, committed before aider edited: part of the base
                    self.b.revise(ch.path, current=ch.after)
                else:
                    self._record(ch.path, ch.before, ch.after, "commit")
            if not dirty:
                self.seg.first_parent = self.seg.first_parent or parent(self.repo, sha)
            self.ref = sha
        self.to_commit = []
        return exists

    def _undo(self, sha: str, text: str) -> None:
        """The files go back to before the commit; its edits (maybe of an episode already closed) are
        marked reverted once labelled."""
        self.b.feedback("undo", text=text)
        key = next((k for k in self.commit_edits if among(sha, [k])), None)
        if key is not None:
            segment, edits = self.commit_edits.pop(key)
            for edit_id, path, before in reversed(edits):
                self.b.revise(path, current=before)
                self.b.settle(edit_id, "reverted", f"undone with /undo (commit {sha})", segment)
        elif self.repo is not None and self.repo.has_commit(sha):
            for ch in commit_changes(self.repo, sha):
                if ch.path in self.b.files:
                    self.b.revise(ch.path, current=ch.before)
        else:
            self.b.warn(f"/undo removed {sha}, a commit this session's log does not show")

    # ---------------------------------------------------------------------------- applying blocks

    def _norm(self, path: str) -> str:
        return path.strip().strip("`").replace("\\", "/").removeprefix("./")

    def _content(self, path: str) -> tuple[str | None, bool]:
        """The file as the session has it, and whether that is the whole real file."""
        if path in self.b.files:
            return self.b.files[path], path not in self.reconstructed
        if self.repo is not None and self.ref is not None:
            return self.repo.file_at(self.ref, path), True
        return None, False

    def _record(self, path: str, before: str | None, after: str | None, tool: str) -> None:
        if before == after:
            return
        edit = self.b.apply_edit(path, before, after, tool)
        self.since_commit.append((edit.edit_id, path, before))

    def _fragment(self, path: str, text: str) -> str:
        """Add text the blocks need to the rebuilt file (and its base), and return the file."""
        cur = self.b.files.get(path) or ""
        sep = "" if not cur or cur.endswith("\n") else "\n"
        frag = text if text.endswith("\n") else text + "\n"
        base = self.b.base_files.get(path)
        self.b.revise(path, current=cur + sep + frag, base=KEEP if base is None else base + sep + frag)
        # the text was there all along: the states an /undo would go back to hold it too
        self.since_commit = _with_fragment(self.since_commit, path, frag)
        for sha, (segment, edits) in self.commit_edits.items():
            self.commit_edits[sha] = (segment, _with_fragment(edits, path, frag))
        self.reconstructed.add(path)
        self.seg.rebuilt = True
        return self.b.files[path] or ""

    def _apply_block(self, blk: Block) -> None:
        path = self.b.rel(self._norm(blk.path))
        if path is None:
            return
        cur, known = self._content(path)
        if blk.kind == "whole":
            if not known:
                self.b.warn(f"{path}: whole-file edit of a file whose base is unknown; taken as new")
                self.seg.rebuilt = True
            self._record(path, cur if known else None, blk.replace, "whole")
        elif blk.kind == "apply_patch" and blk.op is not None:
            self._apply_op(path, blk.op, cur, known)
        else:
            self._apply_replace(path, blk, cur, known)

    def _apply_replace(self, path: str, blk: Block, cur: str | None, known: bool) -> None:
        if not blk.search.strip():  # an empty SEARCH creates the file, or appends to it
            before = cur if known or path in self.b.files else None
            self._record(path, before, (before or "") + blk.replace, blk.kind)
            return
        sr = [SearchReplace(path, blk.search, blk.replace, 0)]
        if cur is not None:
            try:
                self._record(path, cur, apply_search_replace({path: cur}, sr)[path], blk.kind)
                return
            except PatchError:
                if known:
                    self.b.warn(f"{path}: an applied block does not match the file; skipped")
                    self.seg.rebuilt = True
                    return
        cur = self._fragment(path, blk.search)
        self._record(path, cur, apply_search_replace({path: cur}, sr)[path], blk.kind)

    def _apply_op(self, path: str, op: PatchOp, cur: str | None, known: bool) -> None:
        if op.kind == "update" and not known:
            for chunk in op.chunks:
                old = "".join(ln if ln.endswith("\n") else ln + "\n" for ln in chunk.old)
                if old and old not in (self.b.files.get(path) or ""):
                    cur = self._fragment(path, old)
        try:
            out = apply_patch_ops({path: cur}, [op])
        except PatchError as e:
            self.b.warn(f"{path}: an applied patch does not apply to the file as rebuilt ({e})")
            return
        for p, after in out.items():
            self._record(p, cur if p == path else None, after, "apply_patch")

    def _propose(self, blk: Block, status: str, reason: str) -> None:
        path = self.b.rel(self._norm(blk.path))
        if path is None:
            return
        cur, known = self._content(path)
        if blk.op is not None:  # a V4A operation: its chunks' old and new lines
            old = "".join(ln + "\n" for c in blk.op.chunks for ln in c.old)
            new = blk.op.content or "".join(ln + "\n" for c in blk.op.chunks for ln in c.new)
            diff = unified_diff(path, old or None, new or None)
        else:
            diff = unified_diff(path, blk.search, blk.replace)
        before = cur if known else None
        self.b.propose_edit(path, before, before, blk.kind, status, reason, diff=diff, record_base=known)

    # ---------------------------------------------------------------------------- episodes

    def _new_episode(self) -> None:
        self._conclude()
        self.b.new_episode()

    def _conclude(self) -> None:
        """How the episode being built ends: the commit it was kept in, where its base came from, and
        whether anything it changed was kept at all."""
        seg = self.seg
        alive = [(s, ok) for s, ok in seg.commits if not among(s, self.removed)]
        git = self.repo is not None and not seg.rebuilt
        per_file: dict[str, BaseConfidence] = {
            p: "git" if self.repo is not None and p not in self.reconstructed else "reconstructed"
            for p in self.b.base_files
        }
        self.b.set_confidence("git" if git else "reconstructed", per_file)
        self.b.set_base_commit(seg.first_parent if self.repo is not None else None)
        if alive:
            self.b.set_final_commit(alive[-1][0], exact=git and alive[-1][1])
        if self.b.edits and not self.b.gold_diff().strip():
            self.b.no_accepted_state("nothing this episode changed was kept")


def _with_fragment(
    edits: list[tuple[str, str, str | None]], path: str, frag: str
) -> list[tuple[str, str, str | None]]:
    out = []
    for edit_id, p, before in edits:
        if p == path and before is not None:
            before += ("" if not before or before.endswith("\n") else "\n") + frag
        out.append((edit_id, p, before))
    return out


def _version(header: LogTurn) -> str | None:
    for ev in header.events:
        m = re.match(r"^Aider v(\S+)", ev.text) if ev.kind == "tool" else None
        if m:
            return m[1]
    return None


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    text = path.read_text(encoding="utf-8", errors="replace")
    repo = GitRepo(opts.repo) if opts.repo else None
    for start, first, lines in log_sessions(text):
        events = log_events(lines, first)
        report.counts["records"] += len(events)
        try:
            yield from _Session(path, report, repo, start, log_turns(events)).read(opts)
        except GitError as e:
            report.skip(str(path), first, f"session skipped: {e}", "git_error")
