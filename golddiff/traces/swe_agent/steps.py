"""The steps of a SWE-agent or mini-swe-agent run, whichever layout its trajectory has, and its task.

    steps = swe_steps(data, path, report)      # SWE-agent: `trajectory[]`, or else the `history` messages
    steps = mini_steps(data["messages"])       # mini-swe-agent: bash blocks (or tool calls) and <output>s
    task = task_text(messages)                 # the issue text of the first non-demonstration user message

Pure Python, CPU only; used by `swe_agent/reader.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from golddiff.traces.session import IngestReport


@dataclass
class RunStep:
    """One action of the run and what it observed."""

    index: int
    thought: str
    action: str
    observation: str
    state: dict = field(default_factory=dict)
    returncode: int | None = None


def _text(content: object) -> str:
    """A message's content: a string, or a list of {type: text, text} blocks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))
    return ""


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def _state(raw: object) -> dict:
    if isinstance(raw, dict):
        return raw
    if isinstance(raw, str) and raw.strip().startswith("{"):
        try:
            state = json.loads(raw)
        except ValueError:
            return {}
        return state if isinstance(state, dict) else {}
    return {}


def swe_steps(data: dict, path: Path, report: IngestReport) -> list[RunStep]:
    if isinstance(data.get("trajectory"), list) and data["trajectory"]:
        steps = []
        for i, s in enumerate(data["trajectory"]):
            if not isinstance(s, dict) or not isinstance(s.get("action"), str):
                report.skip(str(path), f"trajectory[{i}]", "step without an `action` string")
                continue
            thought = _text(s.get("thought") or s.get("response"))
            obs = _text(s.get("observation"))
            steps.append(RunStep(i, thought, s["action"], obs, _state(s.get("state"))))
        return steps
    steps, history = [], as_list(data.get("history"))
    for i, m in enumerate(history):
        if not isinstance(m, dict) or m.get("role") != "assistant" or not isinstance(m.get("action"), str):
            continue
        nxt = history[i + 1] if i + 1 < len(history) and isinstance(history[i + 1], dict) else {}
        thought = _text(m.get("thought") or m.get("content"))
        steps.append(RunStep(i, thought, m["action"], _text(nxt.get("content")), {}))
    return steps


_TASK_TAGS = ("pr_description", "issue_description", "problem_statement", "issue")


def _issue_text(content: str) -> str:
    for tag in _TASK_TAGS:
        m = re.search(rf"<{tag}>\s*(.*?)\s*</{tag}>", content, re.S)
        if m:
            return re.sub(r"\AConsider the following PR description:\s*", "", m[1]).strip()
    m = re.search(r"ISSUE:\n(.*?)\n\s*INSTRUCTIONS:", content, re.S)
    return (m[1] if m else content).strip()


def task_text(messages: list) -> str | None:
    for m in messages:
        if isinstance(m, dict) and m.get("role") == "user" and str(m.get("is_demo", "")).lower() != "true":
            text = _text(m.get("content"))
            if text.strip():
                return _issue_text(text)
    return None


# ------------------------------------------------------------------------------------ mini-swe-agent


_BASH_BLOCK = re.compile(r"```(?:bash|sh)?\s*\n(.*?)\n```", re.S)


def mini_steps(messages: list) -> list[RunStep]:
    steps: list[RunStep] = []
    by_call: dict[str, RunStep] = {}
    waiting: list[RunStep] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role, content = m.get("role"), _text(m.get("content"))
        if role == "assistant":
            calls = [c for c in as_list(m.get("tool_calls")) if isinstance(c, dict)]
            actions = [(c.get("id"), _call_command(c)) for c in calls] or [
                (None, a) for a in _BASH_BLOCK.findall(content)[:1]
            ]
            for call_id, action in actions:
                step = RunStep(i, _BASH_BLOCK.sub("", content).strip(), action, "")
                steps.append(step)
                waiting.append(step)
                if call_id:
                    by_call[call_id] = step
        elif role in ("user", "tool") and waiting:
            step = by_call.get(m.get("tool_call_id") or "") or waiting[0]
            if step in waiting:
                waiting.remove(step)
            extra = m.get("extra") if isinstance(m.get("extra"), dict) else {}
            out = re.search(r"<output>\n?(.*?)\n?</output>", content, re.S)
            step.observation = (
                extra.get("raw_output")
                if isinstance(extra.get("raw_output"), str)
                else (out[1] + "\n" if out else content)
            )
            rc = re.search(r"<returncode>(-?\d+)</returncode>", content)
            step.returncode = int(rc[1]) if rc else extra.get("returncode")
    return steps


def _call_command(call: dict) -> str:
    try:
        args = json.loads(call.get("function", {}).get("arguments") or "{}")
    except ValueError:
        return ""
    return args.get("command", "") if isinstance(args, dict) else ""
