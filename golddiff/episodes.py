"""The Episode: one accepted end state of a coding-agent session, and its JSONL read/write.

An episode is what every later stage eats: the user's request, the turns that led to the accepted state
(messages, tool calls, edits with their fate, the user's feedback), the gold diff from the base files to
that state, and the negatives (edits the user rejected, interrupted or that were rewritten on the way).

    from golddiff.episodes import read_episodes
    for ep in read_episodes("episodes.jsonl"):
        print(ep.episode_id, ep.task[:60], len(ep.gold_edits()), len(ep.negative_edits()))

Pure Python (pydantic v2); importing it does not import torch.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

from pydantic import Field

from golddiff.config import Strict

SCHEMA_VERSION = 1

EditStatus = Literal["applied", "rejected", "failed", "superseded", "reverted", "not_in_gold"]
FeedbackKind = Literal[
    "reject", "reject_with_reason", "cancel", "interrupt", "undo", "rewind", "plan_rejected"
]
UserKind = Literal["task", "followup", "queued", "feedback", "compact_summary", "command", "meta"]
FinalSource = Literal["commit", "last_state", "submission"]
BaseConfidence = Literal["logged", "git", "reconstructed"]

NEGATIVE_STATUSES: frozenset[str] = frozenset({"rejected", "failed", "superseded", "reverted", "not_in_gold"})


class Source(Strict):
    tool: str  # claude_code | codex | aider | swe_agent | openhands | git
    version: str | None = None  # the agent's version as logged
    path: str  # the log file (or repository) this came from
    session_id: str | None = None
    segment: int = 0  # index of this episode within the session
    parser_version: str = "1"


class RepoState(Strict):
    cwd: str | None = None
    branch: str | None = None
    base_commit: str | None = None
    repository_url: str | None = None
    # path (relative to cwd where possible) -> content before the episode; None = the file did not exist
    base_files: dict[str, str | None] = Field(default_factory=dict)
    base_state_confidence: BaseConfidence = "logged"  # how far the base files can be trusted, overall
    # per base file, where its content came from, when the reader knows it file by file; a file not
    # listed has `base_state_confidence`
    file_confidence: dict[str, BaseConfidence] = Field(default_factory=dict)

    def confidence_of(self, path: str) -> BaseConfidence:
        """Where the base content of `path` came from (its own entry, else the episode's)."""
        return self.file_confidence.get(path, self.base_state_confidence)


class Feedback(Strict):
    kind: FeedbackKind
    text: str | None = None  # the user's own words, when they gave any
    call_id: str | None = None  # the tool call it answered, when it answered one


class ToolCall(Strict):
    call_id: str
    name: str
    input: dict | list | str | None = None
    output: str | None = None
    is_error: bool = False


class Edit(Strict):
    edit_id: str
    path: str
    tool: str  # Edit | MultiEdit | Write | apply_patch | ...
    call_id: str | None = None
    turn: int = 0
    diff: str  # unified diff of this edit against the file as it was when the edit was made
    status: EditStatus = "applied"
    reason: str | None = None  # the user's words when rejected, or why it was marked as it is
    on_main_line: bool = True  # False for edits on an abandoned branch (rewind, edited prompt)
    subagent: str | None = None  # id of the subagent that made it, if any


class Step(Strict):
    kind: Literal["text", "thinking", "tool_call", "note"]  # note: a user-side record that is not a request
    text: str | None = None
    call: ToolCall | None = None


class Turn(Strict):
    index: int
    user: str | None = None
    user_kind: UserKind = "followup"
    timestamp: str | None = None
    steps: list[Step] = Field(default_factory=list)
    edits: list[str] = Field(default_factory=list)  # edit ids made in this turn
    feedback: list[Feedback] = Field(default_factory=list)


class FinalState(Strict):
    diff: str  # the gold diff: unified, multi-file, from repo.base_files to files
    files: dict[str, str | None] = Field(default_factory=dict)  # path -> accepted content; None = deleted
    source: FinalSource = "last_state"
    commit: str | None = None
    # the human's own changes on top of the agent's last state (when linked to a commit)
    human_diff: str | None = None
    # False: the session reached no state the user accepted (a failed run, all its work undone); the
    # episode is kept for its negatives, `diff` is empty and it makes no RL task
    accepted: bool = True


class Labels(Strict):
    gold_edits: list[str] = Field(default_factory=list)
    negative_edits: list[str] = Field(default_factory=list)


class Provenance(Strict):
    scrubber_version: str | None = None
    redactions: dict[str, int] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)
    ingested_at: str | None = None


class Episode(Strict):
    schema_version: int = SCHEMA_VERSION
    episode_id: str
    source: Source
    repo: RepoState = Field(default_factory=RepoState)
    task: str
    turns: list[Turn] = Field(default_factory=list)
    edits: list[Edit] = Field(default_factory=list)
    final: FinalState
    labels: Labels = Field(default_factory=Labels)
    provenance: Provenance = Field(default_factory=Provenance)

    def edit(self, edit_id: str) -> Edit:
        for e in self.edits:
            if e.edit_id == edit_id:
                return e
        raise KeyError(f"episode {self.episode_id} has no edit {edit_id!r}")

    def gold_edits(self) -> list[Edit]:
        return [self.edit(i) for i in self.labels.gold_edits]

    def negative_edits(self) -> list[Edit]:
        return [self.edit(i) for i in self.labels.negative_edits]


def episode_id(tool: str, session_key: str, segment: int) -> str:
    """Stable id: the same log ingested twice gives the same ids."""
    digest = hashlib.sha256(f"{tool}\x00{session_key}\x00{segment}".encode()).hexdigest()
    return f"{tool}-{digest[:16]}"


def read_episodes(path: str | Path) -> Iterator[Episode]:
    """Stream episodes from a JSONL file; a bad line raises with the file and line number."""
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield Episode.model_validate_json(line)
            except ValueError as e:
                raise ValueError(
                    f"{path}:{lineno}: not a valid episode ({e.__class__.__name__}: {str(e)[:300]}); "
                    "regenerate the file with `golddiff ingest`"
                ) from e


def existing_ids(path: str | Path) -> set[str]:
    """The episode ids already in a JSONL file, read without validating whole episodes."""
    ids: set[str] = set()
    p = Path(path)
    if not p.exists():
        return ids
    with open(p, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                ids.add(json.loads(line)["episode_id"])
            except (ValueError, KeyError):
                continue  # a torn last line from an interrupted run: the episode will be written again
    return ids


def write_episodes(episodes: Iterable[Episode], path: str | Path, append: bool = True) -> int:
    """Append episodes as JSONL, one flushed line each, so an interrupted run loses nothing written."""
    n = 0
    with open(path, "a" if append else "w", encoding="utf-8") as f:
        for ep in episodes:
            f.write(ep.model_dump_json(exclude_none=False) + "\n")
            f.flush()
            n += 1
    return n
