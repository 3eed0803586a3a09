"""Replaying a SWE-agent run's edits on a line model of each file, so each edit's diff has real line numbers.

Each file is modelled from what the run was shown (`[File: ...]` windows, `cat -n` views); a line keeps its
identity through later edits, so the fates can tell which edit's lines survived. `Replay` walks the steps
and records every `edit N:M`, `create` and `str_replace_editor` edit through the SessionBuilder.

    replay = Replay(builder, path)
    for step in steps:
        replay.step(step)
    replay.files, replay.records          # the line models, and what each edit replaced and wrote

Pure Python, CPU only; used by `swe_agent/reader.py`.
"""

from __future__ import annotations

import itertools
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from golddiff.diffs import unified_diff
from golddiff.traces.session import SessionBuilder
from golddiff.traces.swe_agent.steps import RunStep

_EDIT_RE = re.compile(r"\Aedit (\d+):(\d+)[ \t]*\n(.*?)^end_of_edit[ \t]*$", re.S | re.M)
FILE_HDR = re.compile(r"^\[File: (.+?) \((\d+) lines total\)\]\s*$", re.M)
_NUMBERED = re.compile(r"^(\d+):(.*)$")
CATN_HDR = re.compile(r"Here's the result of running `cat -n` on (?:a snippet of )?(\S+?):?\s*$", re.M)
_CATN_LINE = re.compile(r"^\s*(\d+)\t(.*)$")
_REFUSED = (
    "Your proposed edit has introduced new syntax error",
    "Your changes have NOT been applied",
    "No replacement was performed",
    "already exists",
    "Usage: edit",
    "No file open",
    "Invalid `insert_line`",
)
NEW_UID = 1 << 40  # uids below this are line numbers (0-based) of the file as the run found it


# ------------------------------------------------------------------------------------ the line model


@dataclass
class _Line:
    uid: int
    text: str | None  # without its newline; None = never shown
    by: str | None = None  # id of the edit that wrote it; None = as the run found the file


class FileModel:
    """One file as the run has seen it; each line keeps an identity through later edits."""

    def __init__(self, fresh: Iterator[int], exists: bool = True):
        self.fresh = fresh
        self.lines: list[_Line] = []
        self.exists = exists
        self.total: int | None = None  # length of the file as the run found it, when shown
        self.base: dict[int, str] = {}  # original line (0-based) -> its text
        self.shift = 0  # lines added minus lines removed by the replayed edits

    def observe(self, shown: dict[int, str], total: int | None) -> bool:
        """Lines a view showed (1-based number -> text); False if the view contradicts the model."""
        ok = True
        if total is not None and not self.lines and self.total is None and self.exists:
            self.lines = [_Line(i, None) for i in range(total)]
            self.total = total
        elif total is not None and total != len(self.lines):  # changed by a command not replayed
            self.lines = [_Line(next(self.fresh), None, "external") for _ in range(total)]
            ok = False
        top = max(shown, default=0)
        while len(self.lines) < top:
            self.lines.append(_Line(len(self.lines) - self.shift, None))
        for n, text in shown.items():
            if n < 1:
                continue
            line = self.lines[n - 1]
            line.text = text
            if line.by is None and line.uid < NEW_UID:
                self.base[line.uid] = text
        return ok

    def plan(self, start: int, end: int, texts: list[str], edit_id: str) -> list[_Line]:
        """The file after replacing lines [start, end) with `texts`; unchanged lines keep their identity."""
        old = self.lines[start:end]
        keys = [ln.text if ln.text is not None else f"\x00{ln.uid}" for ln in old]
        new: list[_Line] = []
        for tag, i1, i2, j1, j2 in SequenceMatcher(None, keys, texts, autojunk=False).get_opcodes():
            if tag == "equal":
                new += old[i1:i2]
            else:
                new += [_Line(next(self.fresh), t, edit_id) for t in texts[j1:j2]]
        return self.lines[:start] + new + self.lines[end:]

    def commit(self, after: list[_Line]) -> None:
        self.shift += len(after) - len(self.lines)
        self.lines = after
        self.exists = True

    def find(self, old: str, new: str) -> tuple[int, int, list[str]] | None:
        """Where the single occurrence of `old` is: (first line, end line, replacement lines)."""
        joined = "\n".join(ln.text if ln.text is not None else "\x00" for ln in self.lines) + "\n"
        k = joined.find(old)
        if not old or k < 0 or joined.find(old, k + 1) >= 0:
            return None
        first = joined.count("\n", 0, k)
        start_off = joined.rfind("\n", 0, k) + 1
        end_off = joined.find("\n", k + len(old) - 1)
        region = joined[start_off:k] + new + joined[k + len(old) : end_off + 1]
        last = joined.count("\n", 0, end_off)
        if not region.endswith("\n") and last + 1 < len(self.lines):  # `old` ate a newline `new` lacks
            last += 1
            region += joined[end_off + 1 : joined.find("\n", end_off + 1) + 1]
        texts = region[:-1].split("\n") if region.endswith("\n") else region.split("\n")
        return first, last + 1, texts if region else []


def _hunk_range(start: int, length: int) -> str:
    if length == 1:
        return str(start + 1)
    return f"{start if length == 0 else start + 1},{length}"


def _numbered_diff(path: str, before: list[_Line] | None, after: list[_Line]) -> str:
    """A unified diff between two states of a line model, with the file's real line numbers.

    Context lines the run never saw are left out at the edges of a hunk (so a hunk may have less than
    three lines of context); unseen changed lines are written empty.
    """
    a = before or []
    sm = SequenceMatcher(None, [ln.uid for ln in a], [ln.uid for ln in after], autojunk=False)
    head = [f"diff --git a/{path} b/{path}\n"]
    head += ["new file mode 100644\n", "--- /dev/null\n"] if before is None else [f"--- a/{path}\n"]
    head.append(f"+++ b/{path}\n")
    out: list[str] = []
    for group in sm.get_grouped_opcodes(3):
        rows: list[tuple[str, str | None, int, int]] = []
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                rows += [(" ", a[i].text, i, j1 + i - i1) for i in range(i1, i2)]
                continue
            rows += [("-", a[i].text, i, j1) for i in range(i1, i2)]
            rows += [("+", after[j].text, i2, j) for j in range(j1, j2)]
        while rows and rows[0][0] == " " and rows[0][1] is None:
            rows.pop(0)
        while rows and rows[-1][0] == " " and rows[-1][1] is None:
            rows.pop()
        old_len = sum(r[0] != "+" for r in rows)
        new_len = sum(r[0] != "-" for r in rows)
        old_start = next((r[2] for r in rows if r[0] != "+"), rows[0][2])
        new_start = next((r[3] for r in rows if r[0] != "-"), rows[0][3])
        out.append(f"@@ -{_hunk_range(old_start, old_len)} +{_hunk_range(new_start, new_len)} @@\n")
        out += [f"{sign}{text or ''}\n" for sign, text, _, _ in rows]
    return "".join(head + out) if out else ""


# ------------------------------------------------------------------------------------ replaying edits


@dataclass
class EditRecord:
    edit_id: str
    path: str
    applied: bool
    removed: set[int]  # uids of the lines it replaced (or would have)
    added: set[int]  # uids of the lines it wrote


class Replay:
    """Walks the steps, keeps a line model per file, and records every edit through the builder."""

    def __init__(self, builder: SessionBuilder, path: Path):
        self.b, self.log = builder, str(path)
        self.fresh = itertools.count(NEW_UID)
        self.files: dict[str, FileModel] = {}
        self.open_file: str | None = None
        self.records: list[EditRecord] = []

    def model(self, rel: str) -> FileModel:
        if rel not in self.files:
            self.files[rel] = FileModel(self.fresh)
        return self.files[rel]

    def step(self, step: RunStep) -> None:
        action, obs = step.action.strip(), step.observation
        verb = action.split(maxsplit=1)[0] if action else ""
        viewing = verb == "str_replace_editor" and " view " in f" {action} "
        editing = verb in ("edit", "create", "str_replace_editor") and not viewing
        refused = editing and any(s in obs[:400] for s in _REFUSED)
        opened = step.state.get("open_file")
        if verb == "edit" and isinstance(opened, str) and opened.startswith("/"):
            self.open_file = opened  # an edit leaves the open file as it is: right before or after the step
        if verb == "edit" and _EDIT_RE.match(step.action.lstrip()):
            self._edit_lines(step, refused)
        elif verb == "create" and len(action.split()) == 2 and not refused:
            self._create(step, action.split()[1], "\n", "create")
        elif verb == "str_replace_editor":
            self._str_replace_editor(step, refused)
        if not refused:
            self._views(obs, view_all=viewing)

    def _views(self, obs: str, view_all: bool) -> None:
        for m in FILE_HDR.finditer(obs):
            shown: dict[int, str] = {}
            for ln in obs[m.end() :].lstrip("\n").split("\n"):
                num = _NUMBERED.match(ln)
                if num:
                    shown[int(num[1])] = num[2]
                elif not (ln.startswith("(") and "more lines" in ln):
                    break
            self._observe(m[1], shown, int(m[2]))
            self.open_file = m[1]
        for m in CATN_HDR.finditer(obs):
            shown = {}
            for ln in obs[m.end() :].lstrip("\n").split("\n"):
                num = _CATN_LINE.match(ln)
                if not num:
                    break
                shown[int(num[1])] = num[2]
            full = view_all and "snippet" not in m[0] and "<response clipped>" not in obs
            self._observe(m[1], shown, len(shown) if full and shown else None)

    def _observe(self, file: str, shown: dict[int, str], total: int | None) -> None:
        rel = self.b.rel(file)
        if rel is not None and not self.model(rel).observe(shown, total):
            self.b.warn(f"{rel}: changed by a command that is not replayed; line identities reset")

    def _edit_lines(self, step: RunStep, refused: bool) -> None:
        m = _EDIT_RE.match(step.action.lstrip())
        assert m is not None
        target = self.open_file and self.b.rel(self.open_file)
        if not target:
            self.b.report.skip(
                self.log, f"trajectory[{step.index}]", "`edit` with no open file", "no_open_file"
            )
            return
        start, end = int(m[1]) - 1, int(m[2])
        texts = m[3].split("\n")[:-1] if m[3] else []
        model = self.model(target)
        while len(model.lines) < end:
            model.lines.append(_Line(len(model.lines) - model.shift, None))
        self._record(step, target, model, max(start, 0), end, texts, refused, "edit")

    def _create(self, step: RunStep, file: str, text: str, tool: str) -> None:
        rel = self.b.rel(file, f"trajectory[{step.index}]")
        if rel is None:
            return
        model = self.files[rel] = FileModel(self.fresh, exists=False)
        texts = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
        self._record(step, rel, model, 0, 0, texts, False, tool)

    def _str_replace_editor(self, step: RunStep, refused: bool) -> None:
        try:
            argv = shlex.split(step.action)
        except ValueError as e:
            self.b.report.skip(self.log, f"trajectory[{step.index}]", f"unparsable command: {e}")
            return
        if len(argv) < 3 or argv[1] not in ("create", "str_replace", "insert"):
            return
        cmd, file, opts = argv[1], argv[2], _options(argv[3:])
        if cmd == "create":
            if not refused:
                self._create(step, file, opts.get("file_text", ""), "str_replace_editor")
            return
        rel = self.b.rel(file, f"trajectory[{step.index}]")
        if rel is None:
            return
        model = self.model(rel)
        if cmd == "insert":
            at = int(opts["insert_line"]) if opts.get("insert_line", "").isdigit() else 0
            new = opts.get("new_str", "")
            texts = (new[:-1] if new.endswith("\n") else new).split("\n")
            while len(model.lines) < at:
                model.lines.append(_Line(len(model.lines) - model.shift, None))
            self._record(step, rel, model, at, at, texts, refused, "str_replace_editor")
            return
        old, new = opts.get("old_str", ""), opts.get("new_str", "")
        place = model.find(old, new)
        if place is None:  # text the run never displayed (or refused): keep the edit as a fragment
            status, reason = ("failed", _refusal(step.observation)) if refused else ("applied", None)
            diff = unified_diff(rel, old, new)
            edit = self.b.propose_edit(
                rel, None, None, "str_replace_editor", status, reason, step_call_id(step), diff=diff
            )
            self.records.append(EditRecord(edit.edit_id, rel, not refused, set(), set()))
            return
        self._record(step, rel, model, place[0], place[1], place[2], refused, "str_replace_editor")

    def _record(self, step, rel, model, start, end, texts, refused, tool) -> None:
        edit_id = self.b.next_edit_id
        before = list(model.lines) if model.exists else None
        after = model.plan(start, end, texts, edit_id)
        removed = {ln.uid for ln in model.lines[start:end]} - {ln.uid for ln in after}
        added = {ln.uid for ln in after if ln.by == edit_id}
        reason = _refusal(step.observation) if refused else None
        status = "failed" if refused else "applied"
        diff = _numbered_diff(rel, before, after)
        edit = self.b.propose_edit(rel, None, None, tool, status, reason, step_call_id(step), diff=diff)
        if not refused:
            model.commit(after)
        self.records.append(EditRecord(edit.edit_id, rel, not refused, removed, added))


def _options(args: list[str]) -> dict[str, str]:
    out, i = {}, 0
    while i < len(args):
        if args[i].startswith("--") and i + 1 < len(args):
            out[args[i][2:]] = args[i + 1]
            i += 2
        else:
            i += 1
    return out


def step_call_id(step: RunStep) -> str:
    return f"step{step.index}"


def _refusal(obs: str) -> str:
    errors = re.search(r"ERRORS:\n(.*?)\n\n", obs, re.S)
    first = errors[1] if errors else obs.strip().split("\n", 1)[0]
    return f"refused by the tool: {first[:300]}"
