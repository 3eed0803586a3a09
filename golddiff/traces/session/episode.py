"""How `SessionBuilder` assembles an Episode when one closes: the accepted end state (the logged last state,
or the reader's outside gold), each edit's fate, the labels and the provenance.

    episode = close_episode(header, segment, task, turns, edits, base, final, warnings, Outcome())

`Outcome` holds what a reader said about how the episode ends (`SessionBuilder.set_outside_gold`,
`set_final_commit`, `set_base_commit`, `set_confidence`, `no_accepted_state`); `apply_verdicts` applies the
readers' own verdicts on edits (`SessionBuilder.settle`) to the finished episodes. Pure Python, CPU only.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from golddiff.diffs import files_diff
from golddiff.episodes import (
    BaseConfidence,
    Edit,
    EditStatus,
    Episode,
    FinalSource,
    FinalState,
    Provenance,
    RepoState,
    Source,
    Turn,
    episode_id,
)
from golddiff.traces.session.labels import label_edits, labels_of

PARSER_VERSION = "1"
MAX_WARNINGS = 50  # an episode keeps its first warnings (the readers' closing ones come after)


class Keep(enum.Enum):
    KEEP = "keep"


KEEP = Keep.KEEP  # "leave as it is" for arguments where None is a value (a file that does not exist)


@dataclass
class Header:
    """The session's fields, as they are when an episode closes."""

    tool: str
    path: str
    session_id: str | None
    version: str | None
    cwd: str | None
    branch: str | None
    base_commit: str | None  # the session's, for the first episode only
    repository_url: str | None
    confidence: BaseConfidence


@dataclass
class Outcome:
    """What the reader said about how the episode being built ends; applied when it closes."""

    gold: tuple[str, dict[str, str | None], FinalSource, str | None] | None = None  # diff, files, source, sha
    gold_base: dict[str, str | None] | None = None
    gold_warnings: list[str] = field(default_factory=list)
    final_commit: tuple[str, bool] | None = None  # (sha, exact)
    base_commit: str | None | Keep = KEEP
    confidence: BaseConfidence | None = None
    file_confidence: dict[str, BaseConfidence] = field(default_factory=dict)
    no_gold: str | None = None


def close_episode(
    header: Header,
    segment: int,
    task: str,
    turns: list[Turn],
    edits: list[Edit],
    base: dict[str, str | None],
    last_state: dict[str, str | None],
    warnings: list[str],
    out: Outcome,
) -> Episode:
    """The episode of `edits`: gold from `base` to the accepted state, each edit labelled against it."""
    if out.gold_base is not None:
        base = out.gold_base
    if out.gold is not None:
        diff, final, source, commit = out.gold
    else:
        final = last_state
        diff, source, commit = files_diff(base, final), "last_state", None
    if out.final_commit is not None:
        commit, source = out.final_commit[0], ("commit" if out.final_commit[1] else "last_state")
    label_edits(edits, base, final)
    notes = warnings[:MAX_WARNINGS] + out.gold_warnings
    if out.no_gold is not None:
        notes.append(f"no_gold: {out.no_gold}")
    return Episode(
        episode_id=episode_id(header.tool, header.session_id or header.path, segment),
        source=Source(
            tool=header.tool,
            version=header.version,
            path=header.path,
            session_id=header.session_id,
            segment=segment,
            parser_version=PARSER_VERSION,
        ),
        repo=RepoState(
            cwd=header.cwd,
            branch=header.branch,
            base_commit=header.base_commit if out.base_commit is KEEP else out.base_commit,
            repository_url=header.repository_url,
            base_files=dict(base),
            base_state_confidence=out.confidence or header.confidence,
            file_confidence={p: c for p, c in out.file_confidence.items() if p in base},
        ),
        task=task,
        turns=turns,
        edits=edits,
        final=FinalState(diff=diff, files=final, source=source, commit=commit, accepted=out.no_gold is None),
        labels=labels_of(edits),
        provenance=Provenance(warnings=notes),
    )


def apply_verdicts(
    episodes: list[Episode], verdicts: dict[int, dict[str, tuple[EditStatus, str | None]]]
) -> None:
    """Set the fates readers gave edits themselves (segment -> edit id -> (status, reason)), in place."""
    for ep in episodes:
        mine = verdicts.get(ep.source.segment)
        if not mine:
            continue
        for e in ep.edits:
            if e.edit_id in mine:
                e.status, e.reason = mine[e.edit_id]
        ep.labels = labels_of(ep.edits)
