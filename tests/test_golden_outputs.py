"""`ingest`, `tasks`, `score` and `export` through the real command line, compared with saved outputs.

The saved outputs in tests/data/golden/ were made before golddiff's modules moved into stage packages
(issue 13); this test holds every later change to the same bytes. Inputs: the example sessions shipped in
golddiff/examples (Claude Code, Codex CLI, Aider) plus the SWE-agent and OpenHands test fixtures, so all
five readers run; the answers scored are tests/data/golden/answers.jsonl (every gold answer, then an
abstention, answers that do not apply, do not parse or climb out of the repo, rejected attempts, edited
golds and an unknown task id).

The inputs are copied into a temporary folder and read by relative path, as when the goldens were made.
Two normalisations, neither of which can hide a change in what golddiff computes:
- the temporary folder's absolute path is replaced by `<tmp>` in every output (Aider episodes record the
  folder of the chat history as the working directory);
- tasks.parquet is compared as its schema and rows (`pyarrow.parquet.read_table(...).to_pylist()`), not as
  bytes: the file embeds the writing library's version (`created_by: parquet-cpp-arrow version ...`), so its
  bytes change with a pyarrow upgrade while its contents do not.
Everything else (episodes, SFT records, pairs, the three exports, per-answer scores, and what each command
prints on stdout and stderr) is compared byte for byte. The commands print no timings.

To regenerate, only when a change of output is intended and said so in the commit:
`.venv/bin/python tests/test_golden_outputs.py`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden"
INPUTS = {
    "examples": ROOT / "golddiff" / "examples",
    "fixtures/swe_agent": ROOT / "tests" / "fixtures" / "swe_agent",
    "fixtures/openhands": ROOT / "tests" / "fixtures" / "openhands",
}
ANSWERS = "answers.jsonl"  # an input, kept beside the goldens

# (step name, command line, files the step writes)
STEPS: list[tuple[str, list[str], list[str]]] = [
    (
        "ingest",
        ["ingest", *INPUTS, "-o", "episodes.jsonl", "-j", "1", "--stats"],
        ["episodes.jsonl"],
    ),
    (
        "tasks",
        ["tasks", "episodes.jsonl", "-o", "tasks.parquet", "--split", "heldout=0.3", "--seed", "0"]
        + ["--sft", "sft.jsonl", "--pairs", "pairs.jsonl"],
        ["tasks.parquet", "sft.jsonl", "pairs.jsonl"],
    ),
    ("score", ["score", "tasks.parquet", ANSWERS, "--out", "scores.jsonl"], ["scores.jsonl"]),
    ("export_atif", ["export", "atif", "episodes.jsonl", "-o", "atif.jsonl"], ["atif.jsonl"]),
    ("export_messages", ["export", "messages", "episodes.jsonl", "-o", "messages.jsonl"], ["messages.jsonl"]),
    (
        "export_pairs",
        ["export", "pairs", "episodes.jsonl", "-o", "export_pairs.jsonl"],
        ["export_pairs.jsonl"],
    ),
]
OUTPUTS = [name for step, _, files in STEPS for name in (f"{step}.stdout", f"{step}.stderr", *files)]


def run_commands(work: Path) -> dict[str, bytes]:
    """Run every step in `work` through the real CLI; return each output, normalised, by its golden name."""
    for rel, src in INPUTS.items():
        shutil.copytree(src, work / rel)
    shutil.copy(GOLDEN / ANSWERS, work / ANSWERS)
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "NO_COLOR", "TTY_COMPATIBLE")}
    env["COLUMNS"] = "100"  # rich's width when stdout is not a terminal (the score table)
    outputs: dict[str, bytes] = {}
    for step, argv, files in STEPS:
        done = subprocess.run(
            [sys.executable, "-m", "golddiff.cli", *argv], cwd=work, env=env, capture_output=True, timeout=300
        )
        assert done.returncode == 0, f"golddiff {' '.join(argv)} failed:\n{done.stderr.decode()}"
        outputs[f"{step}.stdout"] = done.stdout
        outputs[f"{step}.stderr"] = done.stderr
        for name in files:
            outputs[name] = (work / name).read_bytes()
    here = str(work).encode()
    return {
        name: data if name.endswith(".parquet") else data.replace(here, b"<tmp>")
        for name, data in outputs.items()
    }


@pytest.fixture(scope="module")
def produced(tmp_path_factory) -> dict[str, bytes]:
    return run_commands(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", OUTPUTS)
def test_output_matches_golden(produced: dict[str, bytes], name: str, tmp_path: Path):
    golden = GOLDEN / name
    if name.endswith(".parquet"):
        made = tmp_path / name
        made.write_bytes(produced[name])
        want, got = pq.read_table(golden), pq.read_table(made)
        assert got.schema == want.schema
        assert got.to_pylist() == want.to_pylist()
    else:
        assert produced[name] == golden.read_bytes(), f"{name} differs from {golden}"


def test_goldens_cover_every_step():
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted([*OUTPUTS, ANSWERS])
    assert all((GOLDEN / name).stat().st_size > 0 or name.endswith(".stdout") for name in OUTPUTS)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for name, data in run_commands(Path(tmp)).items():
            (GOLDEN / name).write_bytes(data)
            print(f"wrote {GOLDEN / name} ({len(data)} bytes)")
