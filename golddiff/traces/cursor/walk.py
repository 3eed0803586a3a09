"""One Cursor composer -> Episodes: its bubbles in order, suggested blocks and tool edits with their fates.

    episodes = ComposerWalk(composer, db_path, report, opts, carried).episodes()

User bubbles (`type` 1) are requests, the first the task; assistant bubbles (`type` 2) give the
model's text, its thinking, its tool calls (`toolFormerData`, see `tools.py`) and its suggested code
blocks (see `blocks.py`). Fates:

- a suggested block: `accepted` -> applied; `rejected` (or the user's last answer for the file
  rejected it) -> rejected, with "reject" feedback; `cancelled` (dismissed before it was applied) ->
  rejected; a block nobody decided on (`completed`, `outdated`) is not an edit (it never reached the
  file and was never judged): counted as `cursor/undecided_code_blocks`;
- a tool edit: `completed` -> applied, unless the user rejected it in review (rejected, "reject");
  `cancelled` -> rejected with "cancel" feedback; `error` -> failed.

After a rejection, the user's next message gives its reason ("reject_with_reason").

Base state: agent-mode composers record each file's content before their first edit
(`originalFileStates`): "logged". Older composers record none: a file is known from an earlier composer
of the same database that left it whole ("reconstructed"), else a whole-file block is taken as
creating it ("reconstructed", and said so). A lazy block (elided code) is merged onto the known file
(`merge_lazy`); one that cannot be placed is left out, counted and named in a warning.

Episode choice: one episode per composer (Cursor's unit of a conversation about one task; a new task
is a new composer), the accepted state where the composer left the files. Pure Python, CPU only.
"""

from __future__ import annotations

import posixpath
import re

from golddiff.diffs.apply_patch import PatchChunk
from golddiff.episodes import Episode, Feedback
from golddiff.traces.cursor import tools
from golddiff.traces.cursor.blocks import (
    ACCEPTED,
    REJECTED,
    Block,
    is_lazy,
    merge_lazy,
    responses,
    suggested_blocks,
)
from golddiff.traces.cursor.store import Composer, uri_path
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.session.replay import EditReplay

_FENCE = re.compile(r"^```[\w+#.-]*:([^\s`]+)\s*$", re.M)


def infer_root(c: Composer, blocks: list[Block]) -> str | None:
    """The folder the composer worked in: the workspace Cursor had open, else the prefix an absolute
    path has beyond a relative spelling of the same file, else the deepest folder holding every file."""
    if c.workspace:
        return c.workspace.rstrip("/")
    absolute = {b.uri_path for b in blocks}
    for key in c.data.get("originalFileStates") or {}:
        if (p := uri_path(key)) is not None:
            absolute.add(p)
    relative = set(responses(c))
    for b in c.bubbles:
        relative.update(_FENCE.findall(str(b.get("text") or "")))
        call = tools.tool_call(b)
        if call is not None and isinstance(call.params.get("relativeWorkspacePath"), str):
            relative.add(call.params["relativeWorkspacePath"])
        if (
            call is not None
            and (t := tools.target(call)) is not None
            and (t.startswith("/") or t[1:2] == ":")
        ):
            absolute.add(uri_path(t) or t)
    for a in sorted(absolute):
        for r in relative:
            r = r.replace("\\", "/").lstrip("./")
            if r and a.endswith("/" + r):
                return a[: -len(r) - 1]
    dirs = [posixpath.dirname(a) for a in absolute]
    if dirs:
        common = posixpath.commonpath(dirs) if all(d.startswith("/") for d in dirs) else _common(dirs)
        return common or None
    return None


def _common(dirs: list[str]) -> str:
    parts = [d.split("/") for d in dirs]
    out = []
    for level in zip(*parts):
        if len(set(level)) != 1:
            break
        out.append(level[0])
    return "/".join(out)


class ComposerWalk:
    """Walks one composer (module doc). `carried`: files earlier composers left whole (path -> text)."""

    def __init__(
        self, c: Composer, db: str, report: IngestReport, opts: ReadOptions, carried: dict[str, str]
    ):
        self.c, self.report, self.opts, self.carried = c, report, opts, carried
        self.blocks = suggested_blocks(c)
        self.b = SessionBuilder("cursor", db, c.id, report, cwd=infer_root(c, self.blocks))
        self.replay = EditReplay(self.b)
        self.answers = responses(c)
        self.last_rejections: list[tuple[Feedback, str]] = []
        self.lazy_left_out: list[str] = []
        self.new_files: set[str] = set()  # files the composer created (Cursor says so)

    def episodes(self) -> list[Episode]:
        self.report.counts["records"] += len(self.c.bubbles)
        self._original_states()
        by_bubble: dict[str, list[Block]] = {}
        for blk in self.blocks:
            by_bubble.setdefault(str(blk.bubble_id), []).append(blk)
        latest = {}
        for blk in self.blocks:
            latest[blk.uri_path] = blk.index
        self.latest = latest
        for bubble in self.c.bubbles:
            kind = bubble.get("type")
            if kind == 1:
                self._user(bubble)
            elif kind == 2:
                self._assistant(bubble, by_bubble.get(str(bubble.get("bubbleId")), []))
            else:
                self.report.unknown(self.b.path, None, f"bubble type {kind}")
        if self.lazy_left_out:
            self.report.counts["cursor/lazy_blocks_not_placed"] += len(self.lazy_left_out)
            self.b.warn(
                f"{len(self.lazy_left_out)} accepted block(s) elide code ('... existing code ...') on a file whose "
                "content the log does not hold; they are left out of the gold: "
                + ", ".join(self.lazy_left_out[:10])
            )
        self.replay.finish()
        for rel in self.b.base_files:
            text = self.replay.text(rel)
            if text is not None:
                self.carried[rel] = text
            elif self.replay.exists(rel) is False:
                self.carried.pop(rel, None)
        return self.b.finish()

    # ------------------------------------------------------------------------------ bubbles

    def _original_states(self) -> None:
        """`originalFileStates`: each file's content before the composer's first edit of it, and the files
        it created (`isNewlyCreated`, `newlyCreatedFiles`)."""
        for item in self.c.data.get("newlyCreatedFiles") or []:
            rel = self._rel(uri_path(item.get("uri")) if isinstance(item, dict) else uri_path(item))
            if rel is not None:
                self.new_files.add(rel)
        states = self.c.data.get("originalFileStates")
        for key, state in (states or {}).items() if isinstance(states, dict) else ():
            rel = self._rel(uri_path(key))
            if rel is None or not isinstance(state, dict):
                continue
            if state.get("isNewlyCreated"):
                self.new_files.add(rel)
                continue
            if isinstance(state.get("content"), str):
                self.replay.learn(rel, state["content"])

    def _user(self, bubble: dict) -> None:
        text = str(bubble.get("text") or "").strip()
        ts = bubble.get("createdAt")
        self.b.user(text or "(no text)", "followup", str(ts) if ts is not None else None)
        if text and self.last_rejections:
            for fb, edit_id in self.last_rejections:
                self.b.explain(text, fb, [edit_id] if edit_id else [])
        self.last_rejections = []

    def _assistant(self, bubble: dict, blocks: list[Block]) -> None:
        thinking = bubble.get("thinking")
        if isinstance(thinking, dict) and thinking.get("text"):
            self.b.thinking(str(thinking["text"]))
        if bubble.get("text"):
            self.b.assistant_text(str(bubble["text"]))
        call = tools.tool_call(bubble)
        if call is not None:
            self._tool(call)
            if call.name.lower() in tools.EDIT_NAMES:
                return  # its code block is the tool's own edit, already recorded
        for blk in blocks:
            self._block(blk)

    # ------------------------------------------------------------------------------ blocks

    def _decision(self, blk: Block, rel: str) -> tuple[str | None, str | None, bool]:
        """(edit status, reason, whether it is the user's explicit rejection) of a suggested block."""
        if blk.status == "accepted":
            return "applied", None, False
        if blk.status == "rejected":
            return "rejected", "rejected by the user", True
        if blk.status == "cancelled":
            return "rejected", "cancelled in Cursor: dismissed before it was applied", False
        answer = self.answers.get(rel) if self.latest.get(blk.uri_path) == blk.index else None
        if answer == REJECTED:
            return "rejected", "rejected by the user", True
        if answer == ACCEPTED:
            return "applied", None, False
        return None, None, False

    def _block(self, blk: Block) -> None:
        rel = self._rel(blk.uri_path)
        if rel is None:
            return
        status, reason, explicit = self._decision(blk, rel)
        call_id = f"block:{blk.bubble_id}:{blk.version}:{rel}"
        self.b.tool_call(call_id, "code_block", {"path": rel, "version": blk.version, "status": blk.status})
        if status is None:
            self.report.counts["cursor/undecided_code_blocks"] += 1
            return
        self._carry_in(rel)
        content = blk.content if blk.content.endswith("\n") else blk.content + "\n"
        r = self.replay
        if is_lazy(content):
            known = r.text(rel)
            merged = merge_lazy(known, content) if known is not None else None
            if merged is None:
                if status == "applied":
                    self.lazy_left_out.append(rel)
                else:
                    self.report.counts["cursor/lazy_negatives_not_placed"] += 1
                return
            edit = r.exact(rel, known, merged, "code_block", call_id, status=status, reason=reason)
        elif r.exists(rel) is not None or rel in r.files.reads:
            edit = r.exact(rel, r.text(rel), content, "code_block", call_id, status=status, reason=reason)
        else:
            existed = False if rel in self.new_files else None
            edit = r.write(rel, content, "code_block", call_id, existed=existed, status=status, reason=reason)
        if edit is not None and explicit:
            fb = self.b.feedback("reject", None, call_id)
            self.last_rejections.append((fb, edit.edit_id))

    def _carry_in(self, rel: str) -> None:
        """What an earlier composer of the database left in the file, if this one knows nothing of it."""
        if rel in self.carried and self.replay.exists(rel) is None and rel not in self.replay.files.reads:
            self.replay.learn(rel, self.carried[rel], confidence="reconstructed")

    # ------------------------------------------------------------------------------ tools

    def _tool(self, call: tools.ToolCall) -> None:
        self.b.tool_call(call.call_id, call.name, call.params)
        if isinstance(call.result, (dict, str)):
            out = call.result if isinstance(call.result, str) else str(call.result)[:2000]
            self.b.tool_result(call.call_id, out, call.status == "error", self.opts.max_output_chars)
        name = call.name.lower()
        if name not in tools.EDIT_NAMES:
            return
        status, reason, feedback = tools.verdict(call)
        if status is None:
            self.report.counts["cursor/unfinished_tool_edits"] += 1
            return
        edits = self._tool_edit(call, name, status, reason)
        if feedback is not None:
            fb = self.b.feedback(feedback, None, call.call_id)  # type: ignore[arg-type]
            if feedback == "reject":
                self.last_rejections += [(fb, e.edit_id) for e in edits] or [(fb, "")]

    def _tool_edit(self, call: tools.ToolCall, name: str, status: str, reason: str | None) -> list:
        r = self.replay
        if name == "apply_patch" and (text := tools.patch_text(call)) is not None:
            return r.patch(text, self._rel, call.name, call.call_id, status=status, reason=reason)
        rel = self._rel(tools.target(call))
        if rel is None:
            self.report.counts["cursor/tool_edits_without_path"] += 1
            return []
        self._carry_in(rel)
        edit = None
        if name == "delete_file":
            edit = r.write(rel, None, call.name, call.call_id, status=status, reason=reason)
        elif (pairs := tools.replace_pairs(call)) and name in (
            "search_replace",
            "edit",
            "multiedit",
            "multi_edit",
        ):
            if call.params.get("replace_all") and (known := r.text(rel)) is not None:
                after = known
                for old, new in pairs:
                    after = after.replace(old, new) if old else after
                edit = r.exact(rel, known, after, call.name, call.call_id, status=status, reason=reason)
            else:
                edit = r.replace(rel, pairs, call.name, call.call_id, status=status, reason=reason)
        elif (content := tools.whole_content(call, self.c.extra)) is not None and name != "edit_file":
            existed = r.exists(rel) if r.exists(rel) is not None else (True if rel in r.files.reads else None)
            if existed:
                edit = r.exact(
                    rel, r.text(rel), content, call.name, call.call_id, status=status, reason=reason
                )
            else:
                existed = False if rel in self.new_files or r.exists(rel) is False else None
                edit = r.write(
                    rel, content, call.name, call.call_id, existed=existed, status=status, reason=reason
                )
        elif chunks := tools.result_chunks(call):
            placed = [PatchChunk(None, old, new) for old, new in chunks]
            edit = r.update(rel, placed, call.name, call.call_id, status=status, reason=reason)
        else:
            self.report.counts["cursor/tool_edits_without_content"] += 1
            self.b.warn(
                f"{call.name} on {rel}: the log holds neither the applied diff nor the new file; left out"
            )
        return [edit] if edit is not None else []

    def _rel(self, path: str | None) -> str | None:
        if path is None:
            return None
        p = uri_path(path) or path
        return self.b.rel(p, None)
