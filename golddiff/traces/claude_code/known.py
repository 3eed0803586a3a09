"""What a Claude Code session has shown of each file, and where an edit lands when the whole file is unknown.

A file's whole content is known from a whole-file Read, an edit's `originalFile`, or the edits made on
top of a known content. Often it is not: the only Read was a window (lines 1-100 of 267), or the tracked
copy went stale because the file changed outside the edit tools (the user's editor, a shell command). An
edit the user rejected (or that failed) must still be kept as a negative then: `place()` rebuilds its
change on the latest content seen of the file (a window, as the Read showed it) and says how far the
result can be trusted (`EditConfidence`):

    exact      the change applied to the whole file as it was (not made here: see `patch`)
    located    the change applied to a window read after the last whole content (or to a stale copy):
               its line numbers and context come from there
    unlocated  the change's text is in nothing seen: only old_string -> new_string is known

    views = FileViews()
    views.saw_window("/r/a.py", 101, "x = 1\\ny = 2\\n")
    hunk = views.place("/r/a.py", "a.py", [("y = 2", "y = 3", False)])
    assert hunk.confidence == "located" and "@@ -101,2 +101,2 @@" in hunk.diff

Pure functions over text, no I/O; used by `edits.EditRecorder`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from golddiff.diffs import bare_diff, shift_hunks, unified_diff
from golddiff.episodes import EditConfidence
from golddiff.traces.claude_code.patch import Change, apply_changes

_NUMBERED = re.compile(r"^ *(\d+)(?:→|\t)(.*)$")


@dataclass
class Window:
    """Lines of a file as a Read showed them: `start` is the 1-based number of the first line."""

    start: int
    text: str  # the lines, each ending in a newline


@dataclass
class Placed:
    """An edit's change placed as well as what is known of the file allows."""

    diff: str
    confidence: EditConfidence


@dataclass
class FileViews:
    """Per file (absolute path), the windows read since its whole content was last known, newest last;
    and the files whose tracked whole content a later window showed to be stale."""

    windows: dict[str, list[Window]] = field(default_factory=dict)
    stale: set[str] = field(default_factory=set)

    def saw_whole(self, key: str) -> None:
        """The file's whole content is known again: older windows and staleness no longer matter."""
        self.windows.pop(key, None)
        self.stale.discard(key)

    def saw_window(self, key: str, start: int, text: str, whole: str | None = None) -> None:
        """A windowed Read; if the whole content is tracked (`whole`) and the window disagrees with it,
        the tracked copy is stale (the file changed outside the edit tools)."""
        if not text:
            return
        text = text if text.endswith("\n") else text + "\n"
        if whole is not None:
            lines = whole.splitlines(keepends=True)
            mine = text.splitlines(keepends=True)
            theirs = lines[start - 1 : start - 1 + len(mine)]
            if [s.rstrip("\r\n") for s in theirs] == [s.rstrip("\r\n") for s in mine]:
                return  # nothing new: the tracked copy says the same
            self.stale.add(key)
        self.windows.setdefault(key, []).append(Window(start, text))

    def place(self, key: str, rel: str, changes: list[Change], stale_copy: str | None = None) -> Placed:
        """The change on the newest window it applies to (located), else on a stale whole copy
        (located), else as bare old -> new hunks (unlocated). A whole-file write is never placed in a
        window: it replaces what the window does not show too."""
        whole_write = any(old is None for old, _, _ in changes)
        for w in [] if whole_write else reversed(self.windows.get(key, [])):
            after = apply_changes(w.text, changes)
            if after is not None and after != w.text:
                return Placed(shift_hunks(unified_diff(rel, w.text, after), w.start - 1), "located")
        if stale_copy is not None:
            after = apply_changes(stale_copy, changes)
            if after is not None and after != stale_copy:
                return Placed(unified_diff(rel, stale_copy, after), "located")
        return Placed(bare_diff(rel, [(old, new) for old, new, _ in changes]), "unlocated")


def numbered_window(text: str) -> Window | None:
    """The window a Read's text result shows (`     5→line`, or a tab in older releases), or None."""
    start, lines = None, []
    for line in text.split("\n"):
        m = _NUMBERED.match(line)
        if not m:
            if lines:
                break
            continue
        n = int(m[1])
        if start is None:
            start = n
        elif n != start + len(lines):
            break
        lines.append(m[2] + "\n")
    return Window(start, "".join(lines)) if start is not None and lines else None
