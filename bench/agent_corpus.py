"""Corpora of Gemini CLI, GitHub Copilot (CLI, VS Code Chat) and pi logs for bench/ingest.py.

Each session edits real code from Python's standard library the way the agent logs it, through the
writers the unit tests use (tests/agent_logs): whole-file reads/views, edits with the contents or diffs
the agent logs, rejected and failed edits, shell commands, user follow-ups; both on-disk layouts where an
agent has two (Gemini `.json`/`.jsonl`, Copilot CLI events/legacy, VS Code `.json`/`.jsonl`).

    write_session("gemini_cli", rng, files, out_dir, i)   # -> bytes written
"""

from __future__ import annotations

import random
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from agent_logs import CopilotEvents, CopilotLegacy, GeminiChat, PiSession, VscodeChat  # noqa: E402

FORMATS = ("gemini_cli", "copilot_cli", "copilot_vscode", "pi")
ASK = "Please harden the error handling in {} and the helpers it uses."


def stdlib_files(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """`n` files of Python's standard library (2-60 KB), as (name, text): real code to edit."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in root.glob("*.py") if 2_000 < p.stat().st_size < 60_000)
    return [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in rng.sample(paths, n)]


def pick_edit(rng: random.Random, content: str) -> tuple[str, str] | None:
    """A unique block of 1-5 lines of `content` and a plausible rewrite of it, or None."""
    lines = content.splitlines(keepends=True)
    k = rng.randrange(max(1, len(lines) - 6))
    old = "".join(lines[k : k + rng.randint(1, 5)])
    if not old.strip() or content.count(old) != 1:
        return None
    return old, old.replace("return", "return  # checked").replace(
        "if ", "if not "
    ) + "    pass  # golddiff\n"


def _edits(rng: random.Random, files: dict[str, str], n: int):
    """(file, old, new, fate) for `n` edits; fate: ok | rejected | failed."""
    for _ in range(n):
        rel = rng.choice(sorted(files))
        picked = pick_edit(rng, files[rel])
        if picked is None:
            continue
        r = rng.random()
        yield rel, picked[0], picked[1], "rejected" if r < 0.08 else "failed" if r < 0.12 else "ok"


def _gemini(rng: random.Random, files: dict[str, str], out: Path, i: int) -> Path:
    chat = GeminiChat(root=f"/home/dev/project{i % 40}", session=f"{i:08x}-0000-4000-8000-{i:012x}")
    chat.files = dict(files)
    chat.user(ASK.format(sorted(files)[0]))
    for rel in sorted(files):
        chat.gemini(f"Reading {rel}.", [chat.read_file(rel)], thought=f"I should read {rel} first.")
    for rel, old, new, fate in _edits(rng, chat.files, rng.randint(4, 12)):
        status = {"ok": "success", "rejected": "cancelled", "failed": "error"}[fate]
        chat.gemini("", [chat.replace(rel, old, new, status=status)])
        if fate == "rejected":
            chat.user("not like that, keep the original checks")
        if rng.random() < 0.3:
            chat.gemini("", [chat.shell("python -m pytest -q", "." * rng.randint(10, 400) + "\n12 passed")])
    chat.gemini("Done: the error handling is hardened and the tests pass.")
    name = f"session-2026-04-23T12-52-{i:08x}"
    return chat.write_jsonl(out / f"{name}.jsonl") if i % 2 else chat.write_json(out / f"{name}.json")


def _copilot_cli(rng: random.Random, files: dict[str, str], out: Path, i: int) -> Path:
    cwd = f"/home/dev/project{i % 40}"
    if i % 4 == 0:  # the legacy layout
        old_log = CopilotLegacy(cwd=cwd, session=f"{i:08x}-legacy")
        old_log.files = dict(files)
        old_log.user(ASK.format(sorted(files)[0]))
        for rel in sorted(files):
            old_log.view(rel)
        for rel, old, new, fate in _edits(rng, old_log.files, rng.randint(4, 12)):
            old_log.str_replace(rel, old, new, kind="success" if fate == "ok" else "rejected")
        old_log.bash(f"cd {cwd} && python -m pytest -q", "12 passed")
        return old_log.write(out / f"session_{i:08x}.json")
    log = CopilotEvents(cwd=cwd, session=f"{i:08x}-0000-4000-8000-events")
    log.files = dict(files)
    log.user(ASK.format(sorted(files)[0]))
    for rel in sorted(files):
        log.view(rel)
    for rel, old, new, fate in _edits(rng, log.files, rng.randint(4, 12)):
        if fate == "rejected":
            log.edit(rel, old, new, permission="denied-interactively-by-user", ok=False)
            log.user("not like that, keep the original checks")
        else:
            log.edit(rel, old, new, ok=fate == "ok", **({} if fate == "ok" else {"result": "No match found"}))
        if rng.random() < 0.3:
            log.tool("bash", {"command": "python -m pytest -q"}, "." * rng.randint(10, 400) + "\n12 passed")
    log.say("Done: the error handling is hardened and the tests pass.")
    return log.write(out / f"{i:08x}" / "events.jsonl")


def _vscode(rng: random.Random, files: dict[str, str], out: Path, i: int) -> Path:
    chat = VscodeChat(folder=f"/home/dev/project{i % 40}", session=f"{i:08x}-0000-4000-8000-vscode")
    chat.files = {}
    chat.request(ASK.format(sorted(files)[0]))
    for rel in sorted(files):  # the agent writes the files it then edits, so their content is known
        chat.create(rel, files[rel])
    for rel, old, new, fate in _edits(rng, chat.files, rng.randint(4, 12)):
        if rng.random() < 0.2:
            chat.request("keep going", events=[(rel, 1)])
        if fate == "ok":
            chat.replace(rel, old, new)
        elif fate == "rejected":
            chat.replace(rel, old, new, declined=True)
        else:
            chat.replace(rel, old + "#", new, result="ERROR: the string to replace was not found")
        chat.say("Edited.")
    sessions = out / f"ws{i % 40}" / "chatSessions"
    if i % 2:
        return chat.write_jsonl(sessions / f"{chat.session}.jsonl")
    return chat.write_json(sessions / f"{chat.session}.json")


def _pi(rng: random.Random, files: dict[str, str], out: Path, i: int) -> Path:
    s = PiSession(cwd=f"/home/dev/project{i % 40}", session=f"{i:08x}-pi")
    s.files = dict(files)
    s.user(ASK.format(sorted(files)[0]))
    for rel in sorted(files):
        s.read(rel)
    for rel, old, new, fate in _edits(rng, s.files, rng.randint(4, 12)):
        s.edit(rel, old, new, outcome={"ok": "ok", "rejected": "blocked", "failed": "failed"}[fate])
        if rng.random() < 0.3:
            cid = f"sh-{s.n}"
            s.assistant(calls=[(cid, "bash", {"command": "python -m pytest -q"})])
            s.result(cid, "bash", "." * rng.randint(10, 400) + "\n12 passed")
    s.assistant("Done: the error handling is hardened and the tests pass.", stop="stop")
    return s.dump(out / f"--home-dev-project{i % 40}--" / f"2026-07-09T21-27-45-067Z_{i:08x}.jsonl")


_WRITERS = {"gemini_cli": _gemini, "copilot_cli": _copilot_cli, "copilot_vscode": _vscode, "pi": _pi}


def write_session(fmt: str, rng: random.Random, files: list[tuple[str, str]], out: Path, i: int) -> int:
    """One session of `fmt` editing `files` (name, content), written under `out`; its size in bytes."""
    out.mkdir(parents=True, exist_ok=True)
    path = _WRITERS[fmt](rng, {f"src/{name}": text for name, text in files}, out, i)
    return path.stat().st_size
