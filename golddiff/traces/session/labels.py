"""The fate of each edit that reached the files, judged against the accepted end state.

    label_edits(edits, base_files, final_files)   # in place: applied | superseded | reverted | not_in_gold
    labels = labels_of(edits)                      # Labels(gold_edits=[...], negative_edits=[...])

Used by `SessionBuilder` when an episode closes and by the git linker when a commit becomes the gold.
Pure Python, CPU only; imported through `golddiff.traces.session`.
"""

from __future__ import annotations

from golddiff.episodes import NEGATIVE_STATUSES, Edit, Labels


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
    line_sets: dict[tuple[str, str], set[str]] = {}

    def lines_of(which: str, path: str) -> set[str]:
        if (which, path) not in line_sets:
            text = (final if which == "end" else base).get(path) or ""
            line_sets[which, path] = set(ln.strip() for ln in text.splitlines())
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
