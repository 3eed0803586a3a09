"""Episode → RL task (prompt, gold, negatives), SFT records and preference pairs; tasks as Parquet.

    from golddiff.episodes import read_episodes
    from golddiff.tasks import task_from_episode, write_tasks_parquet
    tasks = [task_from_episode(ep) for ep in read_episodes("episodes.jsonl")]
    write_tasks_parquet(tasks, "tasks.parquet")       # or: golddiff tasks episodes.jsonl -o tasks.parquet

A task's `prompt` is TRL/verl conversational: a system message stating the answer format
(SEARCH/REPLACE blocks, `SYSTEM_PROMPT`) and a user message with the request and the base content of the
task's files, trimmed around the changed regions when over the token budget (the trimming is stated in
the prompt; `tasks_prompt.py`). The task's files (`allowed_paths`) are those the gold or a rejected attempt touches; only they
may be changed, and a file may be created only if it is one of them. `gold` holds, per acceptable gold,
the final files, the gold answer as SEARCH/REPLACE blocks (checked to re-apply exactly) and the diff;
`negatives` holds each rejected attempt (its logged diff, the base with it applied when it applies, and
as an answer). The split is a hash of the session (or repository), so no session is on both sides.

Pure Python (pydantic, pyarrow); no torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Literal

from pydantic import Field

from golddiff.config import Strict
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
from golddiff.tasks_prompt import OMITTED, SYSTEM_PROMPT, build_prompt, prompt_regions

__all__ = [
    "OMITTED",
    "SYSTEM_PROMPT",
    "Gold",
    "Negative",
    "Task",
    "TaskError",
    "TaskSettings",
    "build_prompt",
    "build_task",
    "group_key",
    "iter_tasks_parquet",
    "make_task",
    "pairs_from_episode",
    "preference_pairs",
    "read_split",
    "read_tasks_parquet",
    "render_answer",
    "request_text",
    "sft_answer_record",
    "sft_trajectory_record",
    "split_of",
    "task_from_episode",
    "write_tasks_parquet",
]


class TaskError(ValueError):
    """An episode that cannot make a task; the message says why."""


class TaskSettings(Strict):
    max_prompt_tokens: int = Field(8000, ge=1024)  # the prompt's budget, in approximate tokens
    chars_per_token: float = Field(4.0, gt=0)  # tokens ≈ characters / chars_per_token
    include_followups: bool = True  # later user messages of the episode go into the request
    max_gold_answer_chars: int = Field(100_000, ge=1)  # a longer gold answer makes no task (reward caps)


class Gold(Strict):
    files: dict[str, str | None]  # task path -> accepted content (None = deleted)
    answer: str  # SEARCH/REPLACE blocks that turn base_files into files
    diff: str  # unified diff base_files -> files


class Negative(Strict):
    edit_id: str
    path: str
    status: str = "rejected"
    reason: str | None = None
    diff: str  # as logged: against the file as it was when the attempt was made
    files: dict[str, str | None] | None = None  # base_files with the attempt applied, when it applies
    answer: str = ""  # the attempt as SEARCH/REPLACE blocks


class Task(Strict):
    task_id: str
    episode_id: str
    split: str = "train"
    group: str = ""  # the session (or repository) key the split was drawn from
    source_tool: str = ""
    prompt: list[dict[str, str]]  # [{"role": "system", ...}, {"role": "user", ...}]
    base_files: dict[str, str | None]  # task path -> content before (None = does not exist)
    allowed_paths: list[str]
    gold: list[Gold]  # one or more acceptable golds; the reward takes the best
    negatives: list[Negative] = Field(default_factory=list)
    prompt_trimmed: bool = False


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


# ------------------------------------------------------------------------------------- SFT and pairs


def _ids(task: Task) -> dict:
    return {"task_id": task.task_id, "episode_id": task.episode_id, "split": task.split}


def sft_answer_record(task: Task) -> dict:
    """Chat messages ending in the gold answer (the first gold)."""
    messages = [*task.prompt, {"role": "assistant", "content": task.gold[0].answer}]
    return {**_ids(task), "variant": "answer", "messages": messages}


def sft_trajectory_record(ep: Episode, task: Task) -> dict:
    """The episode's whole tool-use trajectory (OpenAI-style messages with tool_calls, from
    `golddiff.export.to_messages`). `negative_call_ids` names the tool calls that made rejected
    attempts, for trainers that mask them."""
    from golddiff.export import to_messages

    negative_calls = sorted({e.call_id for e in ep.negative_edits() if e.call_id})
    messages = to_messages(ep)["messages"]
    return {**_ids(task), "variant": "trajectory", "messages": messages, "negative_call_ids": negative_calls}


def preference_pairs(task: Task) -> list[dict]:
    """`{prompt, chosen, rejected}` per rejected attempt: the gold answer against the attempt's."""
    gold = task.gold[0].answer
    chosen = [{"role": "assistant", "content": gold}]
    return [
        {
            **_ids(task),
            "edit_id": n.edit_id,
            "prompt": task.prompt,
            "chosen": chosen,
            "rejected": [{"role": "assistant", "content": n.answer}],
        }
        for n in task.negatives
        if n.answer.strip() and n.answer != gold
    ]


def pairs_from_episode(ep: Episode, settings: TaskSettings | None = None) -> list[dict]:
    """Preference pairs of one episode ([] when it makes no task or has no rejected attempt)."""
    try:
        return preference_pairs(task_from_episode(ep, settings=settings))
    except TaskError:
        return []


# ------------------------------------------------------------------------------------------ parquet

_JSON_COLUMNS = ("base_files", "gold", "negatives")


def _schema():
    import pyarrow as pa

    message = pa.struct([("role", pa.string()), ("content", pa.string())])
    strings = ["task_id", "episode_id", "split", "group", "source_tool", "data_source"]
    return pa.schema(
        [(name, pa.string()) for name in strings]
        + [("prompt", pa.list_(message)), ("allowed_paths", pa.list_(pa.string()))]
        + [(name, pa.string()) for name in _JSON_COLUMNS]  # JSON text: base_files, gold, negatives
        + [("prompt_trimmed", pa.bool_())]
        + [("reward_model", pa.struct([("style", pa.string()), ("ground_truth", pa.string())]))]
    )


def _row(task: Task) -> dict:
    row = task.model_dump()
    for col in _JSON_COLUMNS:
        row[col] = json.dumps(row[col], ensure_ascii=False)
    row["data_source"] = "golddiff"
    row["reward_model"] = {"style": "rule", "ground_truth": task.gold[0].answer}
    return row


def write_tasks_parquet(tasks: Iterable[Task], path: str | Path, batch_rows: int = 256) -> int:
    """Write tasks to Parquet in row groups of `batch_rows` (streamed); returns how many were written."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema, n, batch = _schema(), 0, []
    with pq.ParquetWriter(str(path), schema) as writer:
        for task in tasks:
            batch.append(_row(task))
            if len(batch) >= batch_rows:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                n, batch = n + len(batch), []
        if batch or n == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            n += len(batch)
    return n


def iter_tasks_parquet(path: str | Path) -> Iterator[Task]:
    """Stream tasks from a Parquet file written by `write_tasks_parquet`."""
    import pyarrow.parquet as pq

    for batch in pq.ParquetFile(str(path)).iter_batches(batch_size=256):
        for row in batch.to_pylist():
            row.pop("data_source", None)
            row.pop("reward_model", None)
            for col in _JSON_COLUMNS:
                row[col] = json.loads(row[col])
            yield Task.model_validate(row)


def read_tasks_parquet(path: str | Path) -> list[Task]:
    return list(iter_tasks_parquet(path))


def read_split(path: str | Path, split: str, limit: int | None = None) -> list[Task]:
    """The tasks of `split` ("all" for every task) in `path`, the first `limit` of them if given.

    Raises ValueError naming the file when it cannot be read or holds no task of that split."""
    try:
        tasks = read_tasks_parquet(path)
    except OSError as e:
        raise ValueError(f"cannot read {path}: {e}; expected tasks.parquet from `golddiff tasks`") from e
    chosen = tasks if split == "all" else [t for t in tasks if t.split == split]
    if not chosen:
        splits = sorted({t.split for t in tasks})
        raise ValueError(f"no task in split {split!r} of {path} (it has: {', '.join(splits) or 'none'})")
    return chosen[:limit] if limit is not None else chosen
