"""Nothing written is torn, doubled or lost: torn last lines repaired, a full disk said plainly, two
ingests onto one output never writing an episode twice. Real files, a real tmpfs, real subprocesses."""

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from golddiff.jsonl import JsonlAppender
from golddiff.rl.ledger import Ledger, read_ledger
from golddiff.rl.metrics import MetricsWriter

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "golddiff" / "examples"
SESSION = next((EXAMPLES / "claude_code").rglob("*.jsonl"))


def golddiff(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "golddiff.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def every_line_parses(path: Path) -> list[dict]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), "the file must end with a whole line"
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def test_ingest_repairs_a_torn_episodes_file_instead_of_gluing_onto_it(tmp_path: Path):
    out = tmp_path / "episodes.jsonl"
    first = golddiff("ingest", str(EXAMPLES / "aider"), "-o", str(out), "-q")
    assert first.returncode == 0, first.stderr
    kept = out.read_text()
    fragment = '{"schema_version": 1, "episode_id": "claude_code-cut", "task": "half of a li'
    with open(out, "a") as f:
        f.write(fragment)  # killed mid-write
    result = golddiff("ingest", str(EXAMPLES), "-o", str(out))
    assert result.returncode == 0, result.stderr
    rows = every_line_parses(out)
    assert out.read_text().startswith(kept)
    assert len(rows) == len({r["episode_id"] for r in rows}) >= 3
    torn = out.with_name("episodes.jsonl.torn")
    assert torn.read_text() == fragment + "\n"
    assert "cut short" in result.stderr and str(torn) in result.stderr


def test_ledger_and_metrics_repair_a_torn_last_line(tmp_path: Path):
    ledger = Ledger(tmp_path)
    ledger.record_step(1, [(0, "a"), (1, "b")])
    ledger.close()
    with open(tmp_path / "ledger.jsonl", "a") as f:
        f.write('{"kind": "step", "step": 2, "prompts": [[2, "c"')
    ledger = Ledger(tmp_path, on_repair=lambda msg: None)
    ledger.record_resume(1)
    ledger.record_step(2, [(2, "c")])
    ledger.close()
    assert [s.step for s in read_ledger(tmp_path)] == [1, 2]
    every_line_parses(tmp_path / "ledger.jsonl")
    assert (tmp_path / "ledger.jsonl.torn").read_text().startswith('{"kind": "step", "step": 2')

    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "reward/mean": 0.5}\n{"step": 2, "rew')
    writer = MetricsWriter(tmp_path)
    writer.log({"step": 2, "reward/mean": 0.25})
    writer.close()
    assert [r["step"] for r in every_line_parses(tmp_path / "metrics.jsonl")] == [1, 2]
    assert (tmp_path / "metrics.jsonl.torn").exists()


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 16 KiB tmpfs (we run as root here); skipped only where mounting is not allowed."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    if subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=16k", "tmpfs", str(mnt)], capture_output=True
    ).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


def test_disk_full_is_a_clear_message_and_leaves_no_torn_line(tiny_disk: Path):
    out = tiny_disk / "episodes.jsonl"
    result = golddiff("ingest", str(EXAMPLES), "-o", str(out), "-j", "1")
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "no space left on device" in result.stderr and str(out) in result.stderr
    rows = every_line_parses(out) if out.stat().st_size else []
    assert len(rows) < 6  # it did run out
    assert not out.with_name("episodes.jsonl.torn").exists()


def test_appender_cuts_back_a_partial_line_when_the_disk_fills(tiny_disk: Path):
    path = tiny_disk / "x.jsonl"
    out = JsonlAppender(path)
    written = 0
    with pytest.raises(OSError, match="no space left"):
        for i in range(10_000):
            out.append(json.dumps({"i": i, "pad": "x" * 900}).encode())
            written += 1
    out.close()
    assert len(every_line_parses(path)) == written > 0


def _sessions(folder: Path, n: int) -> None:
    """n copies of the example Claude Code session, each its own session (so its own episode ids)."""
    text = SESSION.read_text()
    sid = SESSION.stem
    for i in range(n):
        new = str(uuid.UUID(int=i + 1))
        sub = folder / f"-home-dev-shop{i}"
        sub.mkdir(parents=True)
        (sub / f"{new}.jsonl").write_text(text.replace(sid, new))


def test_two_ingests_onto_one_output_never_write_an_episode_twice(tmp_path: Path):
    logs = tmp_path / "logs"
    _sessions(logs, 60)
    out = tmp_path / "episodes.jsonl"
    cmd = [sys.executable, "-m", "golddiff.cli", "ingest", str(logs), "-o", str(out), "-q", "-j", "1"]
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for p in procs:
        assert p.wait(timeout=300) == 0, p.stderr.read()
    one = tmp_path / "one.jsonl"
    assert golddiff("ingest", str(SESSION), "-o", str(one), "-q").returncode == 0
    per_session = len(every_line_parses(one))
    ids = [r["episode_id"] for r in every_line_parses(out)]
    assert len(ids) == len(set(ids)) == 60 * per_session


def test_appender_sees_what_another_process_appended(tmp_path: Path):
    path = tmp_path / "e.jsonl"
    known: set[str] = set()
    mine = JsonlAppender(path, lock=True, on_new_line=lambda ln: known.add(json.loads(ln)["id"]))
    code = (
        "import json, sys; from golddiff.jsonl import JsonlAppender; "
        f"a = JsonlAppender({str(path)!r}, lock=True); a.append(json.dumps({{'id': 'x'}}).encode())"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert not mine.append(b'{"id": "x"}', key="x", known=known)
    assert mine.append(b'{"id": "y"}', key="y", known=known)
    mine.close()
    assert [r["id"] for r in every_line_parses(path)] == ["x", "y"]
