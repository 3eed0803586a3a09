"""Episode → Task: the task's files, its gold answers (checked to re-apply exactly), its negatives, the
prompt (`golddiff.tasks.prompt`), and the split (a hash of the session or repository, so no session is
on both sides).

    task = task_from_episode(ep, split_of(group_key(ep), {"heldout": 0.1}))
    task = make_task({"a.py": "x = 1\n"}, {"a.py": "x = 2\n"})     # from plain dicts (tests, benchmarks)

The task's files (`allowed_paths`) are those the gold or a rejected attempt touches; only they may be
changed, and a file may be created only if it is one of them. Pure Python; no torch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Literal

from golddiff.diffs import (
    PatchError,
    answer_from_diff,
    apply_answer,
    apply_unified_diff,
    changed_paths,
    check_path,
    files_diff,
    normalize_text,
    parse_answer,
    render_search_replace,
)
from golddiff.episodes import Edit, Episode
from golddiff.tasks.model import Gold, Negative, Task, TaskError, TaskSettings
from golddiff.tasks.prompt import build_prompt, prompt_regions

# ------------------------------------------------------------------------------------------ answers


def render_answer(base: Mapping[str, str | None], final: Mapping[str, str | None]) -> str:
    """The change base → final as SEARCH/REPLACE blocks that re-apply exactly (`apply_answer`)."""
    return render_search_replace(base, final)


def _check_reapplies(base: dict[str, str | None], final: dict[str, str | None], answer: str) -> None:
    got = apply_answer(base, parse_answer(answer), base.keys())
    bad = [p for p in base if normalize_text(got.get(p)) != normalize_text(final.get(p))]
    if bad:
        raise TaskError(f"the gold answer does not re-apply to give the gold content of {', '.join(bad)}")


# -------------------------------------------------------------------------------------------- tasks


def _negative(edit: Edit, base: Mapping[str, str | None]) -> Negative | None:
    """A rejected attempt against the task's base; None if its file is not a task file or it changes nothing."""
    try:
        path = check_path(edit.path)
    except PatchError:
        return None
    if path not in base:
        return None
    try:
        files: dict[str, str | None] | None = {path: apply_unified_diff({path: base[path]}, edit.diff)[path]}
        answer = render_search_replace({path: base[path]}, files)
    except PatchError:  # it no longer applies to the base (or quotes a marker line): keep it as logged
        files, answer = None, answer_from_diff(edit.diff)
    if files is not None and normalize_text(files[path]) == normalize_text(base[path]):
        return None
    meta = edit.model_dump(include={"edit_id", "status", "reason", "diff"})
    return Negative(path=path, files=files, answer=answer, **meta)


def build_task(
    task_id: str,
    episode_id: str,
    request: str,
    base: Mapping[str, str | None],
    finals: list[Mapping[str, str | None]],
    negatives: list[Negative] = (),  # type: ignore[assignment]
    settings: TaskSettings | None = None,
    **extra,
) -> Task:
    """A task from plain content: base files, one or more gold final states, rejected attempts."""
    settings = settings or TaskSettings()
    gold_paths = sorted({p for f in finals for p in f if normalize_text(f[p]) != normalize_text(base.get(p))})
    if not gold_paths:
        raise TaskError("the gold changes nothing")
    allowed = sorted(set(gold_paths) | {n.path for n in negatives})
    task_base = {p: base.get(p) for p in allowed}
    golds = []
    for final in finals:
        gold_files = {p: final.get(p, base.get(p)) for p in allowed}
        try:
            answer = render_answer(task_base, gold_files)
            _check_reapplies(task_base, gold_files, answer)
        except PatchError as e:
            raise TaskError(f"the gold cannot be written as SEARCH/REPLACE blocks: {e}") from e
        if len(answer) > settings.max_gold_answer_chars:
            raise TaskError(
                f"the gold answer has {len(answer)} characters, over {settings.max_gold_answer_chars}"
            )
        golds.append(Gold(files=gold_files, answer=answer, diff=files_diff(task_base, gold_files)))
    prompt, trimmed = build_prompt(
        request, task_base, prompt_regions(task_base, golds, list(negatives)), settings
    )
    return Task(
        task_id=task_id,
        episode_id=episode_id,
        prompt=prompt,
        base_files=task_base,
        allowed_paths=allowed,
        gold=golds,
        negatives=list(negatives),
        prompt_trimmed=trimmed,
        **extra,
    )


def make_task(
    base: Mapping[str, str | None],
    final: Mapping[str, str | None],
    negatives: Iterable[Mapping[str, str | None]] = (),
    request: str = "Make the change.",
    task_id: str = "task",
    settings: TaskSettings | None = None,
) -> Task:
    """A task from dicts (tests, benchmarks): each negative is the files of a rejected attempt."""
    negs = []
    for k, files in enumerate(negatives):
        for path in changed_paths({p: base.get(p) for p in files}, files):
            one = {path: files[path]}
            diff = files_diff({path: base.get(path)}, one)
            answer = render_search_replace({path: base.get(path)}, one)
            negs.append(Negative(edit_id=f"n{k}", path=path, diff=diff, files=one, answer=answer))
    return build_task(task_id, task_id, request, base, [final], negs, settings)


def request_text(ep: Episode, include_followups: bool = True) -> str:
    """The user's request, and (optionally) their later messages that were not feedback on an attempt."""
    later = [
        t.user.strip()
        for t in ep.turns
        if include_followups
        and t.user
        and t.user_kind in ("followup", "queued")
        and t.user.strip() != ep.task
    ]
    if not later:
        return ep.task
    return ep.task + "\n\nLater messages from the user:\n" + "\n".join(f"- {m}" for m in later)


def group_key(ep: Episode, by: Literal["session", "repo"] = "session") -> str:
    """What the split is drawn from: the session (default) or the repository."""
    session = f"{ep.source.tool}:{ep.source.session_id or ep.source.path}"
    if by == "repo":
        return ep.repo.repository_url or ep.repo.cwd or session
    return session


def split_of(group: str, splits: Mapping[str, float], seed: int = 0) -> str:
    """The split of a group: a hash of (seed, group) in [0, 1) against cumulative fractions; else train."""
    h = int.from_bytes(hashlib.sha256(f"{seed}\x00{group}".encode()).digest()[:8], "big") / 2**64
    acc = 0.0
    for name, frac in splits.items():
        acc += frac
        if h < acc:
            return name
    return "train"


def task_from_episode(
    ep: Episode,
    split: str = "train",
    group: str | None = None,
    settings: TaskSettings | None = None,
) -> Task:
    """The RL task of an episode's accepted end state. Raises TaskError when there is none."""
    settings = settings or TaskSettings()
    if not ep.final.accepted:
        why = next((w[len("no_gold: ") :] for w in ep.provenance.warnings if w.startswith("no_gold: ")), None)
        raise TaskError("the episode reached no accepted state" + (f" ({why})" if why else ""))
    base, final = ep.repo.base_files, ep.final.files
    unknown = sorted(set(final) - set(base))
    if unknown:
        raise TaskError(f"the base content of {', '.join(unknown)} is unknown")
    for path in changed_paths(base, final):
        try:
            check_path(path)
        except PatchError as e:
            raise TaskError(f"the gold touches a path outside the repository: {e}") from e
    negatives = [n for e in ep.negative_edits() if (n := _negative(e, base)) is not None]
    return build_task(
        task_id=f"{ep.episode_id}:final",
        episode_id=ep.episode_id,
        request=request_text(ep, settings.include_followups),
        base=base,
        finals=[final],
        negatives=negatives,
        settings=settings,
        split=split,
        group=group or group_key(ep),
        source_tool=ep.source.tool,
    )
