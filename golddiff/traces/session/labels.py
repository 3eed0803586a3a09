"""The fate of each edit that reached the files, judged against the accepted end state.

    label_edits(edits, base_files, final_files)   # in place: applied | superseded | reverted | not_in_gold
    labels = labels_of(edits)                      # Labels(gold_edits=[...], negative_edits=[...])
    map_rejections(turns, edits, no_edit)          # each rejection -> the one edit it refused, or why none

Used by `SessionBuilder` when an episode closes and by the git linker when a commit becomes the gold.
Pure Python, CPU only; imported through `golddiff.traces.session`.
"""

from __future__ import annotations

from collections.abc import Mapping

from golddiff.episodes import NEGATIVE_STATUSES, REJECTION_KINDS, Edit, Labels, ToolCall, Turn
from golddiff.traces.session.stripped import StrippedLines


def _content_lines(diff: str, sign: str) -> list[str]:
    """The non-blank added ('+') or removed ('-') lines of a unified diff, stripped."""
    out = []
    for ln in diff.splitlines():
        if ln.startswith(sign) and not ln.startswith(sign * 3):
            s = ln[1:].strip()
            if s:
                out.append(s)
    return out


def label_edits(
    edits: list[Edit],
    base: dict[str, str | None],
    final: dict[str, str | None],
    statuses: tuple[str, ...] = ("applied",),
) -> None:
    """Give each edit that reached the files (status in `statuses`) its fate against `final`, in place.

    applied: some line it added is new in the end state, or some line it removed is gone; superseded: a later
    applied edit of the same file rewrote it; reverted: the file ended as it began; not_in_gold: its
    change is simply not in the end state (e.g. the human undid it before committing).
    """
    last_touch = {e.path: i for i, e in enumerate(edits) if e.status in statuses and e.on_main_line}
    line_sets: dict[tuple[str, str], StrippedLines] = {}

    def lines_of(which: str, path: str) -> StrippedLines:
        if (which, path) not in line_sets:
            text = (final if which == "end" else base).get(path) or ""
            line_sets[which, path] = StrippedLines(text)
        return line_sets[which, path]

    for i, e in enumerate(edits):
        if e.status not in statuses or not e.on_main_line:
            continue
        e.status, e.reason = "applied", None
        end = final.get(e.path)
        if end == base.get(e.path):
            e.status, e.reason = "reverted", "the file ended as it began"
            continue
        end_lines, base_lines = lines_of("end", e.path), lines_of("base", e.path)
        added = _content_lines(e.diff, "+")
        removed = _content_lines(e.diff, "-")
        # it survives if some line it added is new in the end state, or some line it removed is gone
        survived = any(a in end_lines and a not in base_lines for a in added) or any(
            r not in end_lines and r in base_lines for r in removed
        )
        if not added and not removed:  # a whitespace-only edit
            survived = True
        if survived:
            continue
        if last_touch.get(e.path, i) > i:
            e.status, e.reason = "superseded", "a later edit rewrote what this edit added"
        else:
            e.status, e.reason = "not_in_gold", "its changes are not in the accepted state"


def labels_of(edits: list[Edit]) -> Labels:
    return Labels(
        gold_edits=[e.edit_id for e in edits if e.status == "applied"],
        negative_edits=[e.edit_id for e in edits if e.status in NEGATIVE_STATUSES],
    )


def map_rejections(turns: list[Turn], edits: list[Edit], no_edit: Mapping[str, str]) -> None:
    """Give each user rejection (reject, reject_with_reason, cancel) the one edit it refused, in place, or
    say why it refused none: `no_edit` (call id -> reason) holds what the reader knew, else the tool call's
    name says it (a rejected shell command is no edit). An interrupted edit call is mapped the same way.

    A call that made several edits (one patch over several files) maps to its first edit.
    """
    by_call: dict[str, list[Edit]] = {}
    for e in edits:
        if e.call_id:
            by_call.setdefault(e.call_id, []).append(e)
    calls: dict[str, ToolCall] = {
        s.call.call_id: s.call for t in turns for s in t.steps if s.kind == "tool_call" and s.call is not None
    }
    for turn in turns:
        for fb in turn.feedback:
            if fb.kind not in REJECTION_KINDS and fb.kind != "interrupt":
                continue
            fb.edit_id = fb.unmapped = None
            mine = by_call.get(fb.call_id or "", [])
            refused = [e for e in mine if e.status == "rejected"] or mine
            if refused:
                fb.edit_id = refused[0].edit_id
            elif fb.kind == "interrupt":
                continue  # an interrupt that stopped no edit is no rejection of one
            elif fb.call_id is None:
                fb.unmapped = "the rejection names no tool call"
            elif fb.call_id in no_edit:
                fb.unmapped = no_edit[fb.call_id]
            elif fb.call_id in calls:
                fb.unmapped = f"not an edit: a {calls[fb.call_id].name} call"
            else:
                fb.unmapped = "its tool call is not in this episode"
