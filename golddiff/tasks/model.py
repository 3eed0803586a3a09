"""The Task: what an RL task, an SFT record and a preference pair are made of, and its settings.

A task's `prompt` is TRL/verl conversational (a system message with the answer format, a user message with
the request and the base files); `gold` holds, per acceptable gold, the final files, the gold answer as
SEARCH/REPLACE blocks and the diff; `negatives` holds each rejected attempt. Pure pydantic; no torch.
"""

from __future__ import annotations

from pydantic import Field

from golddiff.config import Strict


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
