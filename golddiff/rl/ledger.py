"""The consumed-prompt ledger: which prompts each optimizer step trained, append-only, fsynced.

RUN_DIR/ledger.jsonl, one JSON object per line:

    {"kind": "step", "step": 3, "prompts": [[17, "task-a"], [18, "task-b"]], "skipped": []}
    {"kind": "resume", "step": 2}

A step line is written (and fsynced) after the learner finished that step, before the next one's weights
reach anyone: `prompts` are [stream position, prompt id] of the groups consumed by it (samples masked or
dropped as stale included), `skipped` those consumed but untrainable (prompt too long). A resume line
says the run continued from checkpoint step N: step lines after N written before it are void (their updates
died with the crash) and those prompts are issued again. `read_ledger` applies that, so its result is what
the model in the latest checkpoint has actually seen; `--resume` uses it to issue no prompt twice and skip
none. No torch.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from golddiff.jsonl import JsonlAppender, print_note

LEDGER_FILE = "ledger.jsonl"


@dataclass
class LedgerStep:
    step: int
    prompts: list[tuple[int, str]]
    skipped: list[tuple[int, str]] = field(default_factory=list)

    @property
    def prompt_ids(self) -> list[str]:
        return [prompt_id for _, prompt_id in self.prompts]


class Ledger:
    """Appends (fsynced) to RUN_DIR/ledger.jsonl; a torn last line left by a crash is moved aside first."""

    def __init__(self, run_dir: str | Path, on_repair: Callable[[str], None] | None = None) -> None:
        self.path = Path(run_dir) / LEDGER_FILE
        self._file = JsonlAppender(self.path, fsync=True, on_repair=on_repair or print_note)

    def _append(self, record: dict) -> None:
        self._file.append(json.dumps(record).encode())

    def record_step(
        self, step: int, prompts: list[tuple[int, str]], skipped: list[tuple[int, str]] = ()
    ) -> None:
        self._append({"kind": "step", "step": step, "prompts": prompts, "skipped": list(skipped)})

    def record_resume(self, step: int) -> None:
        self._append({"kind": "resume", "step": step})

    def close(self) -> None:
        self._file.close()


def read_ledger(run_dir: str | Path) -> list[LedgerStep]:
    """The steps in effect, in order (resume lines applied); a torn last line (a crash mid-write) is ignored."""
    path = Path(run_dir) / LEDGER_FILE
    if not path.exists():
        return []
    steps: list[LedgerStep] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for lineno, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            if lineno == len(lines):
                break
            raise ValueError(f"{path}:{lineno}: not JSON") from None
        if record["kind"] == "resume":
            steps = [s for s in steps if s.step <= record["step"]]
        else:
            prompts = [(int(p), str(i)) for p, i in record["prompts"]]
            skipped = [(int(p), str(i)) for p, i in record.get("skipped", [])]
            steps.append(LedgerStep(int(record["step"]), prompts, skipped))
    return steps


def consumed_positions(steps: list[LedgerStep]) -> tuple[set[int], int]:
    """(every consumed stream position, how many of them were skipped)."""
    positions = {p for s in steps for p, _ in s.prompts}
    skipped = {p for s in steps for p, _ in s.skipped}
    return positions | skipped, len(skipped - positions)
