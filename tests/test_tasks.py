"""Episodes → tasks: prompt format and trimming, gold answers that re-apply, the split, Parquet, SFT,
pairs, and the `golddiff tasks` / `golddiff score` commands end to end."""

import json
import subprocess
import sys
from collections import Counter

import pyarrow.parquet as pq
import pytest

from golddiff.diffs import apply_answer, normalize_text, parse_answer
from golddiff.episodes import write_episodes
from golddiff.tasks import (
    OMITTED,
    SYSTEM_PROMPT,
    TaskError,
    TaskSettings,
    preference_pairs,
    read_tasks_parquet,
    render_answer,
    sft_answer_record,
    sft_trajectory_record,
    split_of,
    task_from_episode,
    write_tasks_parquet,
)
from golddiff.traces.session import IngestReport, SessionBuilder

CALC = "import math\n\n\ndef area(r):\n    return 3.14 * r * r\n\n\ndef main():\n    print(area(2))\n"


def _episode(session: str = "s1", body: str = CALC, segments: int = 1):
    """A session: the agent's first edit is rejected with a reason, the second accepted, a file created.

    Later segments (after the user moves on) append a line, again after one rejected try.
    """
    b = SessionBuilder(
        "claude_code", f"/logs/{session}.jsonl", session, IngestReport(quiet=True), cwd="/repo"
    )
    for seg in range(segments):
        if seg:
            b.new_episode()
            body = b.files["calc.py"]
        wrong, good = body.replace("3.14 *", "3.1416 *"), body.replace("3.14 *", "math.pi *")
        if seg:
            wrong, good = body + f"print('wrong {seg}')\n", body + f"print(area({seg}))\n"
        b.user(f"use math.pi in area ({seg})", "task")
        b.assistant_text("I'll round it.")
        b.tool_call(
            "c1", "Edit", {"file_path": "/repo/calc.py", "old_string": "3.14", "new_string": "3.1416"}
        )
        b.propose_edit("calc.py", body, wrong, "Edit", "rejected", reason="use pi")
        b.tool_result("c1", "The user rejected this edit: use pi", is_error=True)
        b.user("no, use math.pi", "followup")
        b.tool_call(
            "c2", "Edit", {"file_path": "/repo/calc.py", "old_string": "3.14", "new_string": "math.pi"}
        )
        b.apply_edit("calc.py", body, good, "Edit", call_id="c2")
        b.tool_result("c2", "ok")
        b.tool_call("c3", "Write", {"file_path": "/repo/NOTES.md", "content": "pi\n"})
        b.apply_edit("NOTES.md", None if seg == 0 else b.files["NOTES.md"], f"pi {seg}\n", "Write", "c3")
        b.tool_result("c3", "ok")
    return b.finish()


def test_task_from_episode_has_prompt_gold_and_negatives():
    [ep] = _episode()
    task = task_from_episode(ep)
    assert task.episode_id == ep.episode_id and task.task_id.startswith(ep.episode_id)
    assert task.allowed_paths == ["NOTES.md", "calc.py"]
    assert task.base_files == {"NOTES.md": None, "calc.py": CALC}
    [system, user] = task.prompt
    assert system == {"role": "system", "content": SYSTEM_PROMPT}
    assert "<<<<<<< SEARCH" in SYSTEM_PROMPT and "Example:" in SYSTEM_PROMPT
    assert user["role"] == "user" and user["content"].startswith("use math.pi in area (0)")
    assert "no, use math.pi" in user["content"]  # the user's follow-up is part of the request
    assert "calc.py\n```\n" + CALC + "```" in user["content"]
    assert "NOTES.md\n(this file does not exist yet" in user["content"]
    assert "shown in full" in user["content"] and not task.prompt_trimmed
    [neg] = task.negatives
    assert neg.status == "rejected" and neg.reason == "use pi" and "3.1416" in neg.answer


def test_gold_answer_reapplies_to_the_base_to_give_the_gold_files():
    [ep] = _episode()
    task = task_from_episode(ep)
    gold = task.gold[0]
    got = apply_answer(task.base_files, parse_answer(gold.answer), task.allowed_paths)
    assert got == {p: normalize_text(c) for p, c in ep.final.files.items()}
    assert gold.files == ep.final.files
    assert render_answer(task.base_files, gold.files) == gold.answer


def test_long_files_are_trimmed_around_the_changes_and_the_trimming_is_stated():
    filler = "".join(f"def helper_{i}(x):\n    return x + {i}\n\n\n" for i in range(400))
    body = filler + CALC + filler
    [ep] = _episode(body=body)
    task = task_from_episode(ep, settings=TaskSettings(max_prompt_tokens=1024))
    user = task.prompt[1]["content"]
    assert task.prompt_trimmed
    assert "trimmed" in user and "about 1024 tokens" in user
    assert "lines omitted" in user and OMITTED.format(n=1600)[:2] in user
    assert len(SYSTEM_PROMPT) + len(user) <= 1024 * 4
    for block in parse_answer(task.gold[0].answer):
        for line in block.search.splitlines():
            assert line in user  # the lines the gold quotes are shown


def test_episode_that_changes_nothing_raises():
    b = SessionBuilder("claude_code", "/logs/x.jsonl", "x", IngestReport(quiet=True), cwd="/repo")
    b.user("try", "task")
    b.apply_edit("a.py", "x = 1\n", "x = 2\n", "Edit")
    b.apply_edit("a.py", "x = 2\n", "x = 1\n", "Edit")
    [ep] = b.finish()
    with pytest.raises(TaskError, match="changes nothing"):
        task_from_episode(ep)


def test_episode_with_no_accepted_state_makes_no_task_but_says_why():
    b = SessionBuilder("swe_agent", "/logs/f.traj", "f", IngestReport(quiet=True), cwd="/repo")
    b.user("fix it", "task")
    b.apply_edit("a.py", "x = 1\n", "x = 2\n", "edit")  # a change that was never accepted
    b.no_accepted_state("the run ended with 'exit_error'")
    [ep] = b.finish()
    assert ep.final.diff  # the logged state changed; the user accepted none of it
    with pytest.raises(TaskError, match=r"no accepted state \(the run ended with 'exit_error'\)"):
        task_from_episode(ep)


def test_split_is_by_session_deterministic_and_near_the_fraction():
    splits = {"heldout": 0.2}
    groups = [f"claude_code:session-{i}" for i in range(2000)]
    got = [split_of(g, splits, seed=0) for g in groups]
    assert got == [split_of(g, splits, seed=0) for g in groups]
    assert 0.15 < Counter(got)["heldout"] / len(got) < 0.25
    assert got != [split_of(g, splits, seed=1) for g in groups]
    eps = _episode("multi", segments=3)
    tasks = [task_from_episode(e, split=split_of(f"claude_code:{e.source.session_id}", splits)) for e in eps]
    assert len({t.group for t in tasks}) == 1 and len({t.split for t in tasks}) == 1


def test_parquet_round_trip_and_prompt_column_is_conversational(tmp_path):
    tasks = [task_from_episode(e) for e in _episode("a", segments=2)]
    path = tmp_path / "tasks.parquet"
    assert write_tasks_parquet(tasks, path, batch_rows=1) == 2
    assert read_tasks_parquet(path) == tasks
    schema = pq.read_schema(path)
    assert str(schema.field("prompt").type) == "list<element: struct<role: string, content: string>>"
    row = pq.read_table(path).to_pylist()[0]
    assert row["prompt"][0]["role"] == "system" and row["data_source"] == "golddiff"
    assert row["reward_model"]["ground_truth"] == tasks[0].gold[0].answer


def test_sft_records_and_preference_pairs():
    [ep] = _episode()
    task = task_from_episode(ep)
    answer = sft_answer_record(task)
    assert answer["messages"][:2] == task.prompt
    assert answer["messages"][-1] == {"role": "assistant", "content": task.gold[0].answer}
    traj = sft_trajectory_record(ep, task)
    calls = [c for m in traj["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["Edit", "Edit", "Write"]
    assert json.loads(calls[0]["function"]["arguments"])["new_string"] == "3.1416"
    assert any(m["role"] == "tool" and m["tool_call_id"] == "c1" for m in traj["messages"])
    assert traj["negative_call_ids"] == []  # propose_edit was given no call id
    [pair] = preference_pairs(task)
    assert pair["prompt"] == task.prompt
    assert pair["chosen"] == [{"role": "assistant", "content": task.gold[0].answer}]
    assert "3.1416" in pair["rejected"][0]["content"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "golddiff.cli", *args], capture_output=True, text=True, timeout=60
    )


def test_tasks_and_score_commands_end_to_end(tmp_path):
    episodes = [e for i in range(6) for e in _episode(f"s{i}", segments=2)]
    b = SessionBuilder("claude_code", "/logs/noop.jsonl", "noop", IngestReport(quiet=True), cwd="/repo")
    b.user("nothing", "task")
    b.apply_edit("a.py", "x\n", "y\n", "Edit")
    b.apply_edit("a.py", "y\n", "x\n", "Edit")
    episodes += b.finish()
    write_episodes(episodes, tmp_path / "episodes.jsonl", append=False)
    out, sft, pairs = tmp_path / "tasks.parquet", tmp_path / "sft.jsonl", tmp_path / "pairs.jsonl"
    args = ["--split", "heldout=0.5", "--seed", "3", "--sft", str(sft), "--pairs", str(pairs), "-q"]
    proc = _cli("tasks", str(tmp_path / "episodes.jsonl"), "-o", str(out), *args)
    assert proc.returncode == 0, proc.stderr
    assert "12 tasks" in proc.stderr and "1 skipped" in proc.stderr
    tasks = read_tasks_parquet(out)
    by_session = {}
    for t in tasks:
        by_session.setdefault(t.group, set()).add(t.split)
    assert all(len(s) == 1 for s in by_session.values()) and len(by_session) == 6
    sft_rows = [json.loads(line) for line in sft.read_text().splitlines()]
    assert Counter(r["variant"] for r in sft_rows) == {"answer": 12, "trajectory": 12}
    assert len(pairs.read_text().splitlines()) == 12

    answers = tmp_path / "answers.jsonl"
    rows = [{"task_id": t.task_id, "answer": t.gold[0].answer} for t in tasks[:2]]
    rows += [{"task_id": tasks[2].task_id, "answer": "calc.py\n<<<<<<< SEARCH\nbroken\n"}]
    rows += [{"task_id": tasks[3].task_id, "answer": ""}]
    answers.write_text("".join(json.dumps(r) + "\n" for r in rows))
    proc = _cli("score", str(out), str(answers))
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["n"] == 4 and summary["mean_reward"] == pytest.approx((1 + 1 - 1 + 0) / 4)
    assert summary["format_error_rate"] == 0.25 and summary["exact_match_rate"] == 0.5
    assert summary["mean_swerl"] == pytest.approx((1 + 1 - 1 + 0) / 4)
    assert "golddiff score" in proc.stdout  # the table
