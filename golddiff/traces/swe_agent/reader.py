"""SWE-agent `.traj` and mini-swe-agent `.traj.json` trajectories: one Episode per run.

    from golddiff.traces import swe_agent
    from golddiff.traces.session import IngestReport, ReadOptions
    for ep in swe_agent.read(Path("pydicom__pydicom-1458.traj"), IngestReport(), ReadOptions()):
        print(ep.final.source, [e.status for e in ep.edits])

or `golddiff ingest trajectories/`. Pure Python, CPU only.

What is read
- SWE-agent steps in either layout: `trajectory[]` of {thought, action, observation, state, query|message}
  (`query` since 1.1, `message` before), or, with no `trajectory`, the `history` messages (an assistant
  message's `action`, the next message's content as its observation).
- mini-swe-agent `messages`: bash blocks in the assistant text (or `tool_calls`), `<output>` observations
  (both layouts: `steps.py`).
- The task is the issue text of the first non-demonstration user message.

Choices
- One episode per run. Its gold is `info.submission`, verbatim (`final.source = "submission"`).
- Edits `edit N:M` ... `end_of_edit`, `create <file>` and `str_replace_editor create|str_replace|insert`
  are replayed on a line model of each file, built from what the run was shown (`[File: ...]` windows,
  `cat -n` views), so each edit's diff has the file's real line numbers (`lines.py`).
- Fates: an edit the tool refused (linter error, no match) is `failed`; an edit, refused or applied, whose
  lines a later edit changed again is `superseded`; an applied edit whose lines reach the submission is
  gold; any other applied edit is `not_in_gold`.
- Base files (the submission's files only): the lines the run saw before changing them, plus the
  submission's own context and removed lines. A file known in full gives base_state_confidence "logged";
  otherwise the known lines in order, gaps closed up, and "reconstructed" (per file in `file_confidence`).
  `final.files` = base + submission (`gold.py`).
- A failed run (no submission, or an exit status naming an error) that made edits still yields an
  episode: empty gold, every edit a negative, `final.accepted` False and a provenance warning starting
  "no_gold:", so the tasks stage can use its negatives and skip it as an RL task.
- mini-swe-agent edits through the shell, which is not replayed: its gold edits are the submission's
  per-file diffs (tool "submission"), and a failed mini run yields no episode.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from golddiff.diffs import PatchError
from golddiff.episodes import Episode
from golddiff.traces.session import IngestReport, ReadOptions, SessionBuilder
from golddiff.traces.swe_agent.gold import (
    edit_fates,
    failed_run,
    gold_from_submission,
    split_diff,
    submission_gold,
)
from golddiff.traces.swe_agent.lines import CATN_HDR, FILE_HDR, EditRecord, FileModel, Replay, step_call_id
from golddiff.traces.swe_agent.steps import RunStep, as_list, mini_steps, swe_steps, task_text

__all__ = ["FORMAT", "gold_from_submission", "is_attached", "read", "sniff"]

FORMAT = "swe_agent"


def sniff(path: Path, head: str) -> bool:
    s = head.lstrip()
    if not s.startswith("{"):
        return False
    if '"mini_version"' in head or "minisweagent" in head or '"trajectory_format"' in head:
        return True
    first_key = re.match(r'\{\s*"(\w+)"', s)
    return bool(first_key and first_key[1] in ("environment", "trajectory", "history", "info")) and (
        '"trajectory"' in head or '"history"' in head
    )


def is_attached(path: Path) -> bool:
    return False


def _finish(
    b: SessionBuilder, known: dict, records: list[EditRecord], files: dict[str, FileModel], info: dict
) -> Iterator[Episode]:
    """Close the session and make its episode's gold the submission (or mark the run failed)."""
    failure = failed_run(info)
    gold = None
    if failure is None:
        try:
            gold = submission_gold(info["submission"], known)
        except PatchError as e:
            failure = f"the submission is not a usable diff ({e})"
    from_submission: list[str] = []
    if gold is not None:
        covered = {r.path for r in records if r.applied}
        for path, part in split_diff(info["submission"]).items():
            if path not in covered:  # changed by shell commands the replay does not follow
                edit = b.propose_edit(path, None, None, "submission", "applied", diff=part)
                from_submission.append(edit.edit_id)
    if not b.edits:
        return
    if gold is None:
        b.set_outside_gold("", {}, "submission", base_files={})
        b.no_accepted_state(str(failure))
        fates = {r.edit_id: ("not_in_gold", f"the run failed: {failure}") for r in records if r.applied}
        fates.update({k: v for k, v in edit_fates(records, files, {}).items() if v[0] != "not_in_gold"})
        b.report.counts["swe_agent/failed_runs"] += 1
    else:
        b.set_outside_gold(
            info["submission"], gold.final, "submission", base_files=gold.base, warnings=gold.warnings
        )
        b.set_confidence("logged" if gold.complete else "reconstructed", gold.confidence)
        fates = edit_fates(records, files, gold.final)
        fates.update({edit_id: ("applied", None) for edit_id in from_submission})
    for edit_id, (status, reason) in fates.items():
        refused = b.edit(edit_id)  # keep why the tool refused an edit
        if refused.status == "failed" and refused.reason and reason:
            reason = f"{refused.reason}; {reason}"
        b.settle(edit_id, status, reason if status != "failed" else refused.reason)  # type: ignore[arg-type]
    yield from b.finish()


# ------------------------------------------------------------------------------------ readers


def _session_id(path: Path, raw: bytes) -> str:
    stem = path.name.removesuffix(".json").removesuffix(".traj")
    return f"{stem}:{hashlib.sha256(raw).hexdigest()[:12]}"


def _load(path: Path, report: IngestReport) -> tuple[dict, bytes] | None:
    raw = path.read_bytes()
    try:
        data = json.loads(raw)
    except ValueError as e:
        report.skip(str(path), None, f"not JSON ({e})", "bad_json")
        return None
    if not isinstance(data, dict):
        report.skip(str(path), None, "not a trajectory object", "bad_record")
        return None
    return data, raw


def _cwd(steps: list[RunStep], submission: object) -> str:
    """The repository root: the steps' `working_dir`, else where the submission's files were shown."""
    for s in steps:
        wd = s.state.get("working_dir")
        if isinstance(wd, str) and wd.startswith("/"):
            return wd.rstrip("/") or "/"
    if isinstance(submission, str):
        shown = {m[1] for s in steps for m in FILE_HDR.finditer(s.observation)}
        shown |= {m[1] for s in steps for m in CATN_HDR.finditer(s.observation)}
        for fp in split_diff(submission):
            for abs_path in shown:
                if abs_path.endswith("/" + fp):
                    return abs_path[: -len(fp) - 1] or "/"
    return "/testbed"


def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]:
    loaded = _load(path, report)
    if loaded is None:
        return
    data, raw = loaded
    info = data.get("info") if isinstance(data.get("info"), dict) else {}
    if isinstance(data.get("messages"), list) and "trajectory" not in data:
        yield from _read_mini(path, data, info, raw, report, opts)
        return
    steps = swe_steps(data, path, report)
    report.counts["records"] += len(steps)
    first = (as_list(data.get("trajectory")) or [{}])[0]
    task = task_text(as_list(data.get("history"))) or task_text(
        as_list(first.get("query") if isinstance(first, dict) else 0)
    )
    b = SessionBuilder(
        "swe_agent",
        str(path),
        _session_id(path, raw),
        report,
        version=str(info.get("swe_agent_version") or "") or None,
        cwd=_cwd(steps, info.get("submission")),
    )
    b.user(task or "(no task was logged)", "task")
    replay = Replay(b, path)
    for step in steps:
        b.assistant_text(step.thought)
        b.tool_call(
            step_call_id(step), step.action.split(maxsplit=1)[0] if step.action.strip() else "?", step.action
        )
        b.tool_result(step_call_id(step), step.observation, max_chars=opts.max_output_chars)
        replay.step(step)
    known = {p: (m.base, m.total) for p, m in replay.files.items()}
    yield from _finish(b, known, replay.records, replay.files, info)


# ------------------------------------------------------------------------------------ mini-swe-agent


_CAT = re.compile(r"\A(?:cd (\S+) && )?cat (\S+)\s*\Z")
_SED_WINDOW = re.compile(r"\A(?:cd (\S+) && )?sed -n '?(\d+),(\d+)p'? (\S+)\s*\Z")
_MODIFIES = (">", "sed -i", "tee ", "python", "perl -i", "patch", "git ", "mv ", "cp ", "rm ")
_FILE_TOKEN = re.compile(r"[\w./-]+\.\w+")


def _mini_view(s: RunStep, b: SessionBuilder) -> tuple[str, int, list[str], bool] | None:
    """(file, first line, lines, whole file?) if the step printed a file with `cat` or `sed -n`."""
    cat, window = _CAT.match(s.action.strip()), _SED_WINDOW.match(s.action.strip())
    view = cat or window
    if view is None or s.returncode not in (0, None):
        return None
    name = view[2] if cat else view[4]
    rel = b.rel(f"{view[1]}/{name}" if view[1] and not name.startswith("/") else name)
    if rel is None:
        return None
    out = s.observation[:-1] if s.observation.endswith("\n") else s.observation
    return rel, 0 if cat else int(view[2]) - 1, out.split("\n"), cat is not None


def _mini_known(steps: list[RunStep], b: SessionBuilder) -> dict[str, tuple[dict[int, str], int | None]]:
    """What `cat` / `sed -n` showed of each file before a command that names it could have changed it."""
    known: dict[str, tuple[dict[int, str], int | None]] = {}
    changed: set[str] = set()  # base names of files some command may have changed
    for s in steps:
        view = _mini_view(s, b)
        if view is not None and Path(view[0]).name not in changed:
            rel, first, lines, whole = view
            shown, total = known.get(rel, ({}, None))
            shown.update({first + i: t for i, t in enumerate(lines)})
            known[rel] = (shown, len(lines) if whole else total)
        if view is None and any(op in s.action for op in _MODIFIES):
            changed |= {Path(t).name for t in _FILE_TOKEN.findall(s.action)}
    return known


def _read_mini(
    path: Path, data: dict, info: dict, raw: bytes, report: IngestReport, opts: ReadOptions
) -> Iterator[Episode]:
    steps = mini_steps(data["messages"])
    report.counts["records"] += len(data["messages"])
    if failed_run(info):
        report.counts["swe_agent/failed_runs"] += 1
        return
    config = info.get("config") if isinstance(info.get("config"), dict) else {}
    env = config.get("environment") if isinstance(config.get("environment"), dict) else {}
    b = SessionBuilder(
        "swe_agent",
        str(path),
        _session_id(path, raw),
        report,
        version=f"mini-swe-agent {info.get('mini_version', '')}".strip(),
        cwd=env.get("cwd") if isinstance(env.get("cwd"), str) else "/testbed",
    )
    b.user(task_text(data["messages"]) or "(no task was logged)", "task")
    for s in steps:
        b.assistant_text(s.thought)
        b.tool_call(f"msg{s.index}", "bash", s.action)
        b.tool_result(f"msg{s.index}", s.observation, bool(s.returncode), opts.max_output_chars)
    yield from _finish(b, _mini_known(steps, b), [], {}, info)
