"""Episodes in the standard exchange formats other tools read.

- ATIF v1.4 (the Agent Trajectory Interchange Format, as used by Harbor and the Agent Data Protocol):
  one trajectory per episode; user, agent and system steps, tool calls with their observations; the
  gold diff, edit fates and feedback under `extra.golddiff`.
- OpenAI-style chat `messages` with `tool_calls` (what TRL's SFTTrainer and most SFT stacks read).
- Preference pairs `{prompt, chosen, rejected}` (what DPO/KTO trainers read): the gold answer of a task
  against each rejected attempt's (`preference_pairs`, `pairs_from_episode`).
- SFT records: chat messages ending in the gold answer (`sft_answer_record`), or the episode's whole
  tool-use trajectory (`sft_trajectory_record`).

    golddiff export atif episodes.jsonl -o trajectories.jsonl
    golddiff tasks episodes.jsonl --sft sft.jsonl --pairs pairs.jsonl
"""

from __future__ import annotations

import json

from golddiff.episodes import Episode, Turn
from golddiff.tasks.build import task_from_episode
from golddiff.tasks.model import Task, TaskError, TaskSettings

ATIF_VERSION = "ATIF-v1.4"


def _arguments(value) -> dict:
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
            return parsed if isinstance(parsed, dict) else {"input": value}
        except ValueError:
            return {"input": value}
    return {"input": value}


def _agent_steps(turn: Turn) -> list[dict]:
    """The agent's part of a turn: text and reasoning gathered up to each tool call."""
    steps: list[dict] = []
    text: list[str] = []
    thinking: list[str] = []

    def emit(call=None) -> None:
        step: dict = {"source": "agent", "message": "\n\n".join(text)}
        if thinking:
            step["reasoning_content"] = "\n\n".join(thinking)
        if call is not None:
            step["tool_calls"] = [
                {
                    "tool_call_id": call.call_id,
                    "function_name": call.name,
                    "arguments": _arguments(call.input),
                }
            ]
            result = {"source_call_id": call.call_id, "content": call.output or ""}
            step["observation"] = {"results": [result]}
            if call.is_error:
                step["extra"] = {"is_error": True}
        steps.append(step)
        text.clear()
        thinking.clear()

    for s in turn.steps:
        if s.kind == "note":
            continue  # a user-side record (queued message, command): see _notes
        if s.kind == "tool_call" and s.call is not None:
            emit(s.call)
        elif s.kind == "thinking":
            thinking.append(s.text or "")
        else:
            text.append(s.text or "")
    if text or thinking:
        emit()
    return steps


def to_atif(ep: Episode) -> dict:
    steps: list[dict] = []
    for turn in ep.turns:
        if turn.user:
            user = {"source": "user", "message": turn.user, "extra": {"user_kind": turn.user_kind}}
            if turn.timestamp:
                user["timestamp"] = turn.timestamp
            steps.append(user)
        steps.extend(_agent_steps(turn))
        steps.extend({"source": "system", "message": s.text or ""} for s in turn.steps if s.kind == "note")
        for f in turn.feedback:
            steps.append(
                {
                    "source": "system",
                    "message": f"user feedback: {f.kind}" + (f": {f.text}" if f.text else ""),
                    "extra": {"feedback": f.model_dump()},
                }
            )
    for i, step in enumerate(steps, 1):
        step["step_id"] = i
    return {
        "schema_version": ATIF_VERSION,
        "session_id": ep.source.session_id or ep.episode_id,
        "agent": {"name": ep.source.tool, "version": ep.source.version or "unknown"},
        "steps": [{"step_id": s.pop("step_id"), **s} for s in steps],
        "notes": f"golddiff episode {ep.episode_id}: {ep.task[:200]}",
        "final_metrics": {"total_steps": len(steps)},
        "extra": {
            "golddiff": {
                "episode_id": ep.episode_id,
                "segment": ep.source.segment,
                "gold_diff": ep.final.diff,
                "final_source": ep.final.source,
                "commit": ep.final.commit,
                "edits": [
                    {"edit_id": e.edit_id, "path": e.path, "status": e.status, "reason": e.reason}
                    for e in ep.edits
                ],
            }
        },
    }


def to_messages(ep: Episode) -> dict:
    """The episode's visible tool use as OpenAI-style chat messages (tool call arguments as JSON strings)."""
    messages: list[dict] = []
    for turn in ep.turns:
        if turn.user and turn.user_kind in ("task", "followup", "feedback", "queued"):
            messages.append({"role": "user", "content": turn.user})
        for step in _agent_steps(turn):
            msg: dict = {"role": "assistant", "content": step["message"] or None}
            if "reasoning_content" in step:
                msg["reasoning_content"] = step["reasoning_content"]
            calls = step.get("tool_calls", [])
            if calls:
                msg["tool_calls"] = [
                    {
                        "id": c["tool_call_id"],
                        "type": "function",
                        "function": {"name": c["function_name"], "arguments": json.dumps(c["arguments"])},
                    }
                    for c in calls
                ]
            messages.append(msg)
            for r in step.get("observation", {}).get("results", []):
                messages.append(
                    {"role": "tool", "tool_call_id": r["source_call_id"], "content": r["content"]}
                )
    return {"episode_id": ep.episode_id, "messages": messages, "gold_diff": ep.final.diff}


# ------------------------------------------------------------------------------------- SFT and pairs


def _ids(task: Task) -> dict:
    return {"task_id": task.task_id, "episode_id": task.episode_id, "split": task.split}


def sft_answer_record(task: Task) -> dict:
    """Chat messages ending in the gold answer (the first gold)."""
    messages = [*task.prompt, {"role": "assistant", "content": task.gold[0].answer}]
    return {**_ids(task), "variant": "answer", "messages": messages}


def sft_trajectory_record(ep: Episode, task: Task) -> dict:
    """The episode's whole tool-use trajectory (OpenAI-style messages with tool_calls, from
    `to_messages`). `negative_call_ids` names the tool calls that made rejected attempts, for trainers that
    mask them."""
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
