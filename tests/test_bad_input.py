"""Bad input costs one record, never a file, a run or a secret: through the real command line.

Deep nesting, invalid UTF-8 and NUL lines, symlink loops under `**`, malformed answers, a missing
data.tasks file, a failed Edit ("String to replace not found"), and error messages that never quote
the record they complain about.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "golddiff" / "examples"
SESSION = next((EXAMPLES / "claude_code").rglob("*.jsonl"))
SECRET = "ghp_" + "Zq8Xt3LmX9vPa2KdR7sWn4YbE6cHf1JgUq8Z"


def golddiff(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "golddiff.cli", *args], capture_output=True, text=True, timeout=timeout
    )


def stats(proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def session_lines() -> list[str]:
    return SESSION.read_text().splitlines()


def write_session(folder: Path, lines: list[str], name: str = "s.jsonl") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_deep_nesting_is_that_files_problem_only(tmp_path: Path):
    deep = tmp_path / "logs" / "deep"
    deep.mkdir(parents=True)
    # deeper than Python's recursion limit, yet inside the 16 KB that format detection reads
    (deep / "nested.jsonl").write_text('{"type": "user", "a": ' + "[" * 3000 + "]" * 3000 + "}\n")
    write_session(tmp_path / "logs" / "good", session_lines())
    proc = golddiff("ingest", str(tmp_path / "logs"), "-o", str(tmp_path / "e.jsonl"), "--stats", "-q")
    s = stats(proc)
    assert s["episodes"] >= 2  # the good session, whole
    assert "Traceback" not in proc.stderr
    assert s["skipped"].get("too_deep", 0) + s["skipped"].get("bad_json", 0) >= 1


def test_invalid_utf8_and_nul_lines_are_one_skipped_record_each(tmp_path: Path):
    lines = [ln.encode() for ln in session_lines()]
    lines.insert(5, b'{"type": "user", "note": "caf\xe9 \xff\xfe broken"}')
    lines.insert(9, b'{"type": "user", "x": "\x00\x00\x00"}')
    folder = tmp_path / "logs" / "-home-dev-shop"
    folder.mkdir(parents=True)
    (folder / "s.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    s = stats(golddiff("ingest", str(tmp_path / "logs"), "-o", str(tmp_path / "e.jsonl"), "--stats", "-q"))
    assert s["files"] == 1 and s["episodes"] >= 2
    assert s["skipped"].get("bad_encoding") == 2


def test_recursive_globs_follow_no_symlink_loops(tmp_path: Path):
    root = tmp_path / "logs"
    write_session(root / "a" / "b", session_lines())
    os.symlink(root, root / "a" / "b" / "up")  # two loops back up the tree
    os.symlink(root / "a", root / "a" / "again")
    proc = golddiff(
        "ingest", f"{root}/**/*.jsonl", "-o", str(tmp_path / "e.jsonl"), "--stats", "-q", timeout=60
    )
    s = stats(proc)
    assert s["files"] == 1 and s["episodes"] >= 2


def _failed_edit_session() -> list[str]:
    lines = session_lines()
    recs = [json.loads(ln) for ln in lines]
    i = next(k for k, r in enumerate(recs) if r["uuid"].endswith("0009"))
    env = {k: recs[i][k] for k in ("isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch")}
    call = {
        "type": "tool_use",
        "id": "toolu_failed01",
        "name": "Edit",
        "input": {
            "file_path": "/home/dev/shop/shop/stock.py",
            "old_string": "def not_in_the_file():\n    pass\n",
            "new_string": "def not_in_the_file():\n    return 42\n",
        },
    }
    error = "String to replace not found in file.\nString: def not_in_the_file():"
    ask = {**env, "type": "assistant", "uuid": "fa11ed00-0000-4000-8000-000000000001",
           "parentUuid": recs[i]["uuid"], "timestamp": recs[i]["timestamp"],
           "message": {"role": "assistant", "id": "msg_failed", "type": "message", "content": [call]}}  # fmt: skip
    result = {"type": "tool_result", "tool_use_id": "toolu_failed01", "is_error": True,
              "content": f"<tool_use_error>{error}</tool_use_error>"}  # fmt: skip
    answer = {**env, "type": "user", "uuid": "fa11ed00-0000-4000-8000-000000000002", "parentUuid": ask["uuid"],
              "timestamp": recs[i]["timestamp"], "message": {"role": "user", "content": [result]},
              "toolUseResult": f"Error: {error}"}  # fmt: skip
    recs[i + 1]["parentUuid"] = answer["uuid"]
    out = [json.dumps(r) for r in recs]
    return out[: i + 1] + [json.dumps(ask), json.dumps(answer)] + out[i + 1 :]


def test_a_failed_edit_is_kept_as_a_failed_edit_and_counted(tmp_path: Path):
    path = write_session(tmp_path / "logs", _failed_edit_session())
    out = tmp_path / "e.jsonl"
    s = stats(golddiff("ingest", str(path), "-o", str(out), "--stats", "-q"))
    assert s["failed_edits"] == 1
    edits = [e for line in out.read_text().splitlines() for e in json.loads(line)["edits"]]
    failed = [e for e in edits if e["status"] == "failed"]
    assert len(failed) == 1 and failed[0]["call_id"] == "toolu_failed01"
    assert "String to replace not found" in failed[0]["reason"]
    assert "+    return 42" in failed[0]["diff"] and "-    pass" in failed[0]["diff"]


def test_error_messages_name_file_line_and_field_never_the_text(tmp_path: Path):
    lines = session_lines()
    lines.insert(3, f'{{"type": "user", "message": "token {SECRET}", oops}}')
    lines.append(f'{{"type": "assistant", "message": {{"content": "{SECRET}')  # torn last line
    path = write_session(tmp_path / "logs", lines)
    path.write_text(path.read_text().rstrip("\n"))
    proc = golddiff("ingest", str(path), "-o", str(tmp_path / "e.jsonl"))
    assert proc.returncode == 0, proc.stderr
    assert f"{path}:4: not JSON" in proc.stderr and f"{path}:{len(lines)}: truncated last line" in proc.stderr
    assert SECRET not in proc.stderr and SECRET[:12] not in proc.stderr


def _tasks(tmp_path: Path) -> tuple[Path, list[str]]:
    episodes, tasks = tmp_path / "episodes.jsonl", tmp_path / "tasks.parquet"
    assert golddiff("ingest", str(EXAMPLES), "-o", str(episodes), "-q").returncode == 0
    proc = golddiff("tasks", str(episodes), "-o", str(tasks), "-q")
    assert proc.returncode == 0, proc.stderr
    import pyarrow.parquet as pq

    return tasks, pq.read_table(tasks, columns=["task_id"]).column("task_id").to_pylist()


def test_score_reports_a_malformed_answers_line_and_scores_the_rest(tmp_path: Path):
    tasks, ids = _tasks(tmp_path)
    answers = tmp_path / "answers.jsonl"
    answers.write_text(
        json.dumps({"task_id": ids[0], "answer": ""}) + "\n"
        + f'{{"task_id": "{ids[1]}", "answer": "{SECRET}\n'  # cut mid-string
        + json.dumps({"task": ids[1], "answer": ""}) + "\n"
        + json.dumps({"task_id": ids[1], "answer": ""}) + "\n"
    )  # fmt: skip
    proc = golddiff("score", str(tasks), str(answers))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2 and summary["skipped_lines"] == 2
    assert f"{answers}:2:" in proc.stderr and f"{answers}:3:" in proc.stderr and "'task_id'" in proc.stderr
    assert SECRET not in proc.stderr + proc.stdout


def test_missing_data_tasks_is_a_config_error_naming_the_path(tmp_path: Path):
    missing = tmp_path / "nowhere" / "tasks.parquet"
    proc = golddiff(
        "train", str(ROOT / "configs" / "test-tiny.yaml"), f"--data.tasks={missing}", "--data.synthetic=null",
        f"--run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert "data.tasks" in proc.stderr and str(missing) in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "run" / "metrics.jsonl").exists()


def test_a_lone_surrogate_in_a_log_is_kept_and_the_output_stays_utf8(tmp_path: Path):
    lines = session_lines()
    rec = json.loads(lines[0])
    rec["message"]["content"] += " (pasted from a broken terminal: \ud83d)"
    lines[0] = json.dumps(rec)  # json writes the lone surrogate as the escape \ud83d
    path = write_session(tmp_path / "logs", lines)
    out = tmp_path / "e.jsonl"
    s = stats(golddiff("ingest", str(path), "-o", str(out), "--stats", "-q"))
    assert s["episodes"] >= 2
    text = out.read_bytes().decode("utf-8")  # strict: valid UTF-8
    assert "\\ud83d" in text and json.loads(text.splitlines()[0])["task"].endswith("\ud83d)")


def test_problem_messages_are_scrubbed_but_keep_the_users_paths():
    from golddiff.traces.session import IngestReport

    report = IngestReport(quiet=True)
    report.skip("/home/alice/logs/s.jsonl", 3, f"unreadable edit block: SEARCH text {SECRET!r} not found")
    assert SECRET not in report.problems[0] and "<secret:github_token:" in report.problems[0]
    assert report.problems[0].startswith("/home/alice/logs/s.jsonl:3: ")
