"""One Cline / Roo Code task's events -> Episodes: requests, tool calls, edits with their fates.

    episodes = TaskWalk(builder, opts).run(events)

Edits: `write_to_file` (whole content), `replace_in_file` / Roo's `apply_diff` (SEARCH/REPLACE blocks
in the `diff` parameter: `------- SEARCH` / `=======` / `+++++++ REPLACE`, or `<<<<<<< SEARCH` /
`>>>>>>> REPLACE`, Roo's with a `:start_line:` header), Roo's `insert_content`, `search_and_replace`,
`search_replace` / `edit_file` (old and new strings) and `apply_patch`. The result says what became of
each: "The user denied this operation." is a rejection, its `<feedback>` block the user's reason
("reject_with_reason"); "The content was successfully saved to ..." with `<final_file_content>` an
applied edit whose file after is known whole (and, undoing the SEARCH/REPLACE blocks on it, the file
before: "reconstructed"); "The user made the following updates to your content" means the user changed
the agent's edit before saving (their change joins the gold, with a warning); an error a failed edit.
A call left without a result when the task was interrupted (`[TASK RESUMPTION]`) was cancelled: the
extension reverts the file. Files the agent read whole (`read_file`, `<file_content>`) give their base
("logged").

Episode choice: one episode per task (a new request starts a new task in Cline and Roo Code;
follow-ups in the same task refine it); the accepted state is where the task left the files.
Pure Python, CPU only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golddiff.episodes import Episode, Feedback
from golddiff.traces.cline.history import EDIT_TOOLS, Event, parse_xml_params
from golddiff.traces.session import ReadOptions, SessionBuilder
from golddiff.traces.session.replay import EditReplay

_FINAL = re.compile(r'<final_file_content path="[^"]*">\n(.*)\n</final_file_content>', re.S)
_FILE_CONTENT = re.compile(r'<file_content path="([^"]*)">\n(.*?)\n</file_content>', re.S)
_FEEDBACK = re.compile(r"<feedback>\n?(.*?)\n?</feedback>", re.S)
_ANSWER = re.compile(r"<(answer|user_message)>\n?(.*?)\n?</\1>", re.S)
_ROO_READ = re.compile(
    r"<file><path>([^<]*)</path>\s*<content(?: lines=\"(\d+)-(\d+)\")?>\n?(.*?)</content>", re.S
)
_NUMBERED = re.compile(r"^\s*(\d+) \| ?(.*)$")
_BLOCK = re.compile(
    r"^(?:<{5,9} SEARCH|-{3,9} SEARCH)>?\s*\n(.*?)^={5,9}\s*\n(.*?)^(?:>{5,9} REPLACE|\+{3,9} REPLACE)<?\s*$",
    re.S | re.M,
)
_LINE_HINT = re.compile(r"\A(?::(?:start|end)_line:\s*\d+\s*\n)+(?:-{3,}\s*\n)?")
_DENIED = "The user denied this operation"
_SAVED = ("successfully saved to", "Changes successfully applied", "<file_write_result>", '"operation"')
_FAILED = (
    "The tool execution failed",
    "<error>",
    "This is likely because the SEARCH block content doesn't match",
    "Unable to apply diff",
    "<error_details>",
    "is blocked by the .clineignore",
    "This tool cannot be used in PLAN MODE",
    "Missing value for required parameter",
    "was not executed because",
    "Error writing file",
)
_NOT_EXECUTED = "was not executed because a tool has already been used"


def search_replace_pairs(diff: str) -> list[tuple[str, str]]:
    """The (search, replace) pairs of a SEARCH/REPLACE `diff` parameter (Cline's and Roo's markers)."""
    pairs = []
    for m in _BLOCK.finditer(diff.replace("\r\n", "\n")):
        search = _LINE_HINT.sub("", m[1])
        pairs.append((search, m[2]))
    return pairs


def undo_pairs(final: str, pairs: list[tuple[str, str]]) -> str | None:
    """The file before SEARCH/REPLACE `pairs` turned it into `final`, or None when a replacement is not
    found in it exactly once (the edit cannot be undone with certainty)."""
    text = final
    for search, replace in reversed(pairs):
        if not replace.strip() or text.count(replace) != 1:
            return None
        text = text.replace(replace, search, 1)
    return text


def read_result_content(texts: list[str]) -> list[tuple[str | None, str]]:
    """(path or None for the call's own, content) of the whole files a read_file result shows."""
    joined = "\n".join(texts)
    roo = list(_ROO_READ.finditer(joined))
    if roo:
        out = []
        for m in roo:
            lines = [_NUMBERED.match(ln) for ln in m[4].rstrip("\n").split("\n")]
            if (m[2] in (None, "1")) and all(lines):
                out.append((m[1], "".join(x[2] + "\n" for x in lines if x)))
        return out
    if _DENIED in joined or not joined.strip() or joined.startswith("Error"):
        return []
    return [(None, joined if joined.endswith("\n") else joined + "\n")]


@dataclass
class Outcome:
    status: str  # applied | rejected | failed
    reason: str | None = None
    feedback: tuple[str, str | None] | None = None
    final: str | None = None
    user_edited: bool = False
    existed: bool | None = None
    said: str | None = None  # the user's words given with an approval


def outcome_of(texts: list[str], is_error: bool) -> Outcome:
    joined = "\n".join(texts)
    if joined.strip() == "[interrupted]":
        return Outcome(
            "rejected", "cancelled: the task was interrupted before the user answered", ("cancel", None)
        )
    fb = _FEEDBACK.search(joined)
    if _DENIED in joined:
        if fb and fb[1].strip():
            return Outcome("rejected", fb[1].strip(), ("reject_with_reason", fb[1].strip()))
        return Outcome("rejected", "rejected by the user", ("reject", None))
    final = _FINAL.search(joined)
    if any(s in joined for s in _FAILED) and final is None:
        return Outcome("failed", joined.strip()[:300] or None)
    if is_error and final is None and not any(s in joined for s in _SAVED):
        return Outcome("failed", joined.strip()[:300] or None)
    out = Outcome("applied", final=final[1] if final else None)
    out.user_edited = (
        "The user made the following updates to your content" in joined or "<user_edits>" in joined
    )
    op = re.search(r"<operation>(\w+)</operation>|\"operation\"\s*:\s*\"(\w+)\"", joined)
    if op:
        out.existed = (op[1] or op[2]) != "created"
    if fb and fb[1].strip():
        out.said = fb[1].strip()
    return out


class TaskWalk:
    """Walks one task's events into its SessionBuilder (module doc)."""

    def __init__(self, b: SessionBuilder, opts: ReadOptions, existed: dict[str, bool] | None = None):
        self.b, self.opts, self.report = b, opts, b.report
        self.existed = existed or {}  # whether a file was there when the task first wrote it (the chat says)
        self.replay = EditReplay(b)
        self.calls: dict[str, Event] = {}  # calls waiting for their result
        self.last_rejection: tuple[Feedback, list[str]] | None = None

    def run(self, events) -> list[Episode]:
        for ev in events:
            handler = getattr(self, f"_on_{ev.kind}", None)
            if handler is None:
                self.report.unknown(self.b.path, ev.where if isinstance(ev.where, int) else None, ev.kind)
            else:
                handler(ev)
        for call in self.calls.values():
            if call.name in EDIT_TOOLS and not call.params.get("partial"):
                self.report.counts["cline/edits_without_outcome"] += 1
        self.replay.finish()
        return self.b.finish()

    # ------------------------------------------------------------------------------ events

    def _on_user(self, ev: Event) -> None:
        for m in _FILE_CONTENT.finditer(ev.text):
            self._learn(m[1], m[2] + "\n")
        self.b.user(ev.text, "task" if ev.user_kind == "task" else "followup")
        if self.last_rejection is not None:
            fb, edit_ids = self.last_rejection
            if fb.text is None:
                self.b.explain(ev.text, fb, edit_ids)
        self.last_rejection = None

    def _on_text(self, ev: Event) -> None:
        self.b.assistant_text(ev.text)

    def _on_thinking(self, ev: Event) -> None:
        self.b.thinking(ev.text)

    def _on_interrupt(self, ev: Event) -> None:
        self.b.feedback("interrupt", "the user stopped the response")

    def _on_note(self, ev: Event) -> None:
        if ev.text == "task resumed":
            for call_id in list(self.calls):  # calls the interruption left unanswered were cancelled
                self._result(Event("result", call_id=call_id, results=["[interrupted]"]))
            self.calls.clear()
        self.b.note(ev.text, "meta")

    def _on_bad(self, ev: Event) -> None:
        self.report.skip(self.b.path, ev.where, "a message that is not a JSON object; skipped", "bad_record")

    def _on_unknown(self, ev: Event) -> None:
        self.report.unknown(self.b.path, ev.where if isinstance(ev.where, int) else None, ev.text)

    def _on_call(self, ev: Event) -> None:
        params = dict(ev.params)
        if ev.name in EDIT_TOOLS and isinstance(params.get("args"), str):  # Roo's multi-file form
            params.update(parse_xml_params(params["args"], ev.name))
        self.b.tool_call(
            ev.call_id or "?", ev.name or "?", {k: v for k, v in params.items() if k != "partial"}
        )
        if ev.call_id:
            self.calls[ev.call_id] = Event(
                "call", call_id=ev.call_id, name=ev.name, params=params, where=ev.where
            )

    def _on_result(self, ev: Event) -> None:
        self._result(ev)

    # ------------------------------------------------------------------------------ results

    def _result(self, ev: Event) -> None:
        call = self.calls.pop(ev.call_id, None) if ev.call_id else None
        text = "\n".join(ev.results)
        if call is None:
            self.report.counts["cline/results_without_call"] += 1
            return
        self.b.tool_result(call.call_id or "?", text, ev.is_error, self.opts.max_output_chars)
        name = call.name or "?"
        if name == "read_file":
            path = call.params.get("path")
            for p, content in read_result_content(ev.results):
                self._learn(p or path, content)
        for m in _FILE_CONTENT.finditer(text):
            self._learn(m[1], m[2] + "\n")
        if name in ("ask_followup_question", "attempt_completion", "plan_mode_respond", "act_mode_respond"):
            said = _ANSWER.search(text) or _FEEDBACK.search(text)
            if said and said.group(said.lastindex).strip():
                self._on_user(Event("user", text=said.group(said.lastindex).strip()))
            return
        if name not in EDIT_TOOLS and name not in ("delete_file", "unknown_diff"):
            return
        if _NOT_EXECUTED in text or call.params.get("partial"):
            self.report.counts["cline/edits_not_executed"] += 1
            return
        out = outcome_of(ev.results, ev.is_error)
        edits = self._edit(call, out)
        if out.feedback is not None:
            fb = self.b.feedback(out.feedback[0], out.feedback[1], call.call_id)
            if out.feedback[0] == "reject":
                self.last_rejection = (fb, [e.edit_id for e in edits])
        if out.said:
            self.b.user(out.said, "feedback")

    def _learn(self, path: object, content: str) -> None:
        rel = self.b.rel(str(path), None) if isinstance(path, str) and path else None
        if rel is not None and self.replay.exists(rel) is None:
            self.replay.learn(rel, content)

    # ------------------------------------------------------------------------------ edits

    def _edit(self, call: Event, out: Outcome) -> list:
        p, name = call.params, call.name or "?"
        path = p.get("path") or p.get("file_path") or p.get("target_file")
        r = self.replay
        if name == "apply_patch":
            return r.patch(
                str(p.get("patch", "")), self._rel, name, call.call_id, status=out.status, reason=out.reason
            )
        rel = self.b.rel(str(path), call.where if isinstance(call.where, int) else None) if path else None
        if rel is None:
            if not path:
                self.report.skip(self.b.path, call.where, f"{name} without a path; skipped", "bad_record")
            return []
        known = r.text(rel)
        if out.existed is None and isinstance(path, str):
            out.existed = self.existed.get(path, self.existed.get(rel))
        edit = None
        if out.status == "applied" and out.final is not None:
            edit = self._saved(rel, name, p, out, known, call.call_id)
        elif name in ("write_to_file", "new_rule"):
            edit = r.write(
                rel,
                str(p.get("content", "")),
                name,
                call.call_id,
                existed=out.existed,
                status=out.status,
                reason=out.reason,
            )
        elif name == "delete_file":
            edit = r.write(rel, None, name, call.call_id, status=out.status, reason=out.reason)
        elif name == "insert_content":
            edit = self._insert(rel, p, name, call.call_id, out)
        elif name == "search_and_replace" and known is not None:
            edit = r.exact(
                rel,
                known,
                self._search_and_replace(known, p),
                name,
                call.call_id,
                status=out.status,
                reason=out.reason,
            )
        else:
            pairs = self._pairs(name, p)
            if not pairs:
                self.report.skip(
                    self.b.path, call.where, f"{name} on {rel}: no SEARCH/REPLACE block found", "bad_record"
                )
                return []
            edit = r.replace(rel, pairs, name, call.call_id, status=out.status, reason=out.reason)
        return [edit] if edit is not None else []

    def _saved(self, rel: str, name: str, p: dict, out: Outcome, known: str | None, call_id: str | None):
        """An applied edit whose saved file the result shows whole (`<final_file_content>`)."""
        r, final = self.replay, out.final
        if out.user_edited:
            self.b.warn(
                f"{rel}: the user changed the agent's edit before saving it; their change is in the gold"
            )
            self.report.counts["cline/user_edited_saves"] += 1
        if known is not None or r.exists(rel) is False:
            return r.exact(rel, known, final, name, call_id)
        if name in ("write_to_file", "new_rule"):
            return r.write(rel, final, name, call_id, existed=out.existed)
        pairs = self._pairs(name, p)
        before = None if out.user_edited else undo_pairs(final, pairs)
        if before is not None:
            return r.exact(rel, before, final, name, call_id, confidence="reconstructed")
        return r.replace(rel, pairs, name, call_id)

    def _pairs(self, name: str, p: dict) -> list[tuple[str, str]]:
        if name in ("search_replace", "edit_file"):
            return [(str(p.get("old_string", "")), str(p.get("new_string", "")))]
        if name == "search_and_replace":
            return [(str(p.get("search", "")), str(p.get("replace", "")))]
        diff = p.get("diff")
        if isinstance(diff, dict):  # Roo's multi-file form: <diff><content>...</content></diff>
            diff = diff.get("content")
        return search_replace_pairs(str(diff or p.get("content") or ""))

    @staticmethod
    def _search_and_replace(text: str, p: dict) -> str:
        search, replace = str(p.get("search", "")), str(p.get("replace", ""))
        flags = re.I if str(p.get("ignore_case", "")).lower() == "true" else 0
        pattern = search if str(p.get("use_regex", "")).lower() == "true" else re.escape(search)
        try:
            return re.sub(pattern, lambda _: replace, text, flags=flags)
        except re.error:
            return text.replace(search, replace)

    def _insert(self, rel: str, p: dict, name: str, call_id: str | None, out: Outcome):
        content = str(p.get("content", ""))
        content = content if content.endswith("\n") else content + "\n"
        known = self.replay.text(rel)
        try:
            line = int(str(p.get("line", "0")).strip() or 0)
        except ValueError:
            line = -1
        if known is None or line < 0:
            if line == 0:  # appended: placed at the end of what is known of the file
                return self.replay.replace(
                    rel, [("", content)], name, call_id, status=out.status, reason=out.reason
                )
            self.report.counts["cline/inserts_not_placed"] += 1
            return None
        lines = known.splitlines(keepends=True)
        at = len(lines) if line == 0 else min(line - 1, len(lines))
        after = "".join(lines[:at]) + content + "".join(lines[at:])
        return self.replay.exact(rel, known, after, name, call_id, status=out.status, reason=out.reason)

    def _rel(self, path: str) -> str | None:
        return self.b.rel(path, None)
