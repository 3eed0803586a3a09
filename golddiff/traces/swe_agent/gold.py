"""The gold of a SWE-agent run, its submitted diff: the base files it implies, and each replayed edit's fate.

    gold = submission_gold(submission, known)      # .base, .final, .confidence (per file), .complete
    fates = edit_fates(records, files, final)      # edit id -> (status, reason)

Pure Python, CPU only; used by `swe_agent/reader.py`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from golddiff.diffs import PatchError, apply_unified_diff, parse_unified_diff
from golddiff.episodes import BaseConfidence
from golddiff.traces.swe_agent.lines import EditRecord, FileModel


def split_diff(diff: str) -> dict[str, str]:
    """A multi-file unified diff cut into its files (path -> that file's part)."""
    parts: dict[str, str] = {}
    for chunk in re.split(r"(?m)^(?=diff --git )", diff):
        try:
            fps = parse_unified_diff(chunk) if "\n+++ " in chunk or chunk.startswith("--- ") else []
        except PatchError:
            continue
        if len(fps) == 1:
            parts[fps[0].path] = chunk
        elif fps:  # plain diffs without `diff --git` lines: one chunk holds several files
            for piece in re.split(r"(?m)^(?=--- )", chunk):
                try:
                    sub = parse_unified_diff(piece)
                except PatchError:
                    continue
                if sub:
                    parts[sub[0].path] = piece
    return parts


def _base_text(known: dict[int, str], total: int | None, last_has_newline: bool) -> tuple[str, bool]:
    """The base content from its known lines, and whether it is complete."""
    complete = total is not None and all(k in known for k in range(total))
    lines = [known[k] for k in sorted(known)]
    text = "".join(t + "\n" for t in lines)
    if complete and lines and not last_has_newline:
        text = text[:-1]
    return text, complete


@dataclass
class SubmissionGold:
    """What a submitted diff implies: the base files, the accepted files, where each base came from."""

    base: dict[str, str | None]
    final: dict[str, str | None]
    confidence: dict[str, BaseConfidence]  # per base file: "logged" if the run showed it whole
    complete: bool  # every changed file's base is known whole
    warnings: list[str]


def submission_gold(submission: str, known: dict[str, tuple[dict[int, str], int | None]]) -> SubmissionGold:
    """The gold of a submitted diff (see `gold_from_submission`)."""
    patches = parse_unified_diff(submission)
    if not patches:
        raise PatchError("the submission holds no file diff")
    base: dict[str, str | None] = {}
    confidence: dict[str, BaseConfidence] = {}
    complete, warnings = True, []
    for fp in patches:
        if fp.old_path is None:
            base[fp.path], confidence[fp.path] = None, "logged"
            continue
        lines, total = known.get(fp.old_path, ({}, None))
        lines, last_nl = dict(lines), True
        for h in fp.hunks:
            for i, raw in enumerate(h.old_side()):
                k, text = h.old_start - 1 + i, raw.rstrip("\n")
                if k in lines and lines[k] != text:
                    warnings.append(
                        f"{fp.old_path}:{k + 1}: the run showed a line the submission contradicts"
                    )
                lines[k] = text
                last_nl = raw.endswith("\n")
        base[fp.old_path], whole = _base_text(lines, total, last_nl)
        confidence[fp.old_path] = "logged" if whole else "reconstructed"
        complete = complete and whole
    try:
        final = apply_unified_diff(base, submission)
    except PatchError:  # the viewed lines mislead the hunks: fall back to the hunks' own lines
        base = {
            fp.old_path: "".join(ln for h in fp.hunks for ln in h.old_side()) if fp.old_path else None
            for fp in patches
        }
        final, complete = apply_unified_diff(base, submission), False
        confidence = dict.fromkeys(base, "reconstructed")
        warnings.append("base files rebuilt from the submission's hunks alone")
    return SubmissionGold(base, final, confidence, complete, warnings)


def gold_from_submission(
    submission: str, known: dict[str, tuple[dict[int, str], int | None]]
) -> tuple[dict[str, str | None], dict[str, str | None], bool, list[str]]:
    """Base files, final files, whether every base is complete, warnings — for a submitted diff.

    `known` holds, per path, the lines of the file as the run found it (0-based) and its length if
    shown. The submission's own context and removed lines are added at their positions (they win over
    a conflicting view). Raises PatchError if the submission is not a diff.
    """
    gold = submission_gold(submission, known)
    return gold.base, gold.final, gold.complete, gold.warnings


def edit_fates(records: list[EditRecord], files: dict[str, FileModel], final: dict[str, str | None]) -> dict:
    """edit id -> (status, reason) for every replayed edit, against the accepted final files."""
    fates: dict[str, tuple[str, str | None]] = {}
    for i, r in enumerate(records):
        later = [o for o in records[i + 1 :] if o.path == r.path]
        rewritten = any(o.removed & (r.removed | r.added) for o in later)
        if not r.applied:
            fates[r.edit_id] = (
                ("superseded", "a later edit rewrote the same lines") if rewritten else ("failed", None)
            )
            continue
        if r.path not in final:
            fates[r.edit_id] = ("not_in_gold", "the submission does not change this file")
            continue
        alive = {ln.uid for ln in files[r.path].lines} if r.path in files else set()
        if r.added and not (r.added & alive):
            status = "superseded" if rewritten else "not_in_gold"
            fates[r.edit_id] = (status, "a later edit rewrote what this edit added")
            continue
        end = set((final[r.path] or "").splitlines())
        texts = (
            [ln.text for ln in files[r.path].lines if ln.uid in r.added and ln.text]
            if r.path in files
            else []
        )
        if texts and not any(t in end for t in texts):
            fates[r.edit_id] = ("not_in_gold", "its lines are not in the submission")
        else:
            fates[r.edit_id] = ("applied", None)
    return fates


def failed_run(info: dict) -> str | None:
    """Why the run has no accepted state, or None if its submission is the gold."""
    status = str(info.get("exit_status") or "")
    if not isinstance(info.get("submission"), str) or not info["submission"].strip():
        return f"no submission (exit status {status or 'unknown'!r})"
    if "error" in status.lower():
        return f"the run ended with {status!r}"
    return None
