"""No planted secret reaches any output: a Claude Code session carrying one realistic key of every rule
(in what the user typed, a .env Read, an applied Edit, a rejected Edit, a Write, a Bash command and its
output, and a file path) goes through the real command line: ingest, export atif/messages/pairs, tasks
(parquet, SFT, pairs). Every output is read back (the parquet through pyarrow) and searched."""

import json
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from secret_corpus import secret_samples
from test_scrub_engines import WITHOUT_HYPERSCAN

from golddiff.traces.scrub.rules import LOG_EXAMPLES

REJECT = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
    "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
    "tell you how to proceed."
)
CWD = "/home/dev/app"


class Session:
    """Claude Code 2.0-style records chained by parentUuid."""

    def __init__(self, rng: random.Random):
        self.rng, self.parent, self.lines, self.n = rng, None, [], 0
        self.sid = str(uuid.UUID(int=rng.getrandbits(128)))

    def _rec(self, kind: str, **extra) -> None:
        self.n += 1
        uid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        rec = {"parentUuid": self.parent, "isSidechain": False, "userType": "external", "cwd": CWD,
               "sessionId": self.sid, "version": "2.0.42", "gitBranch": "main", "type": kind, "uuid": uid,
               "timestamp": f"2025-11-20T10:{self.n // 60:02d}:{self.n % 60:02d}.000Z", **extra}  # fmt: skip
        self.parent = uid
        self.lines.append(json.dumps(rec))

    def user(self, text: str) -> None:
        self._rec("user", message={"role": "user", "content": text})

    def tool(self, name: str, inp: dict, output: str, result=None, is_error: bool = False) -> None:
        call_id = f"toolu_{self.rng.getrandbits(80):x}"
        block = {"type": "tool_use", "id": call_id, "name": name, "input": inp}
        msg = {"role": "assistant", "id": f"msg_{self.n}", "type": "message", "content": [block]}
        self._rec("assistant", message=msg)
        res = {"tool_use_id": call_id, "type": "tool_result", "content": output, "is_error": is_error}
        self._rec(
            "user",
            message={"role": "user", "content": [res]},
            **({"toolUseResult": result} if result else {}),
        )


def _write_session(path: Path, secrets: list[str], snippets: list[str]) -> None:
    """Provider keys (`secrets`) everywhere; the log rules' snippets (`curl -u ...`, `DB_PASSWORD=...`,
    PEM blocks: secret only in their context) as typed, run, written and edited."""
    rng = random.Random(7)
    s = Session(rng)
    s.user("Here is how I connect today:\n" + "\n".join(snippets))
    script = "#!/bin/sh\nset -e\n" + "\n".join(snippets) + "\n"
    s.tool("Write", {"file_path": f"{CWD}/connect.sh", "content": script},
           f"File created successfully at: {CWD}/connect.sh",
           {"type": "create", "filePath": f"{CWD}/connect.sh", "content": script, "structuredPatch": []})  # fmt: skip
    for snippet in snippets:
        if "\n" not in snippet:
            s.tool("Bash", {"command": snippet}, f"$ {snippet}\nok")
    half = len(secrets) // 2
    s.user("Wire the payment client. Credentials for testing: " + " ; ".join(secrets[:half]))
    env = "".join(f"KEY_{i}={v}\n" for i, v in enumerate(secrets))
    numbered = "".join(f"{i + 1:6d}\u2192{ln}\n" for i, ln in enumerate(env.splitlines()))
    s.tool("Read", {"file_path": f"{CWD}/.env"}, numbered,
           {"type": "text", "file": {"filePath": f"{CWD}/.env", "content": env, "numLines": len(secrets),
                                     "startLine": 1, "totalLines": len(secrets)}})  # fmt: skip
    base = "import os\n\nTIMEOUT = 30\n"
    s.tool("Read", {"file_path": f"{CWD}/settings.py"}, "     1\u2192import os\n",
           {"type": "text", "file": {"filePath": f"{CWD}/settings.py", "content": base, "numLines": 3,
                                     "startLine": 1, "totalLines": 3}})  # fmt: skip
    rejected = "TIMEOUT = 30\n" + "".join(f'REJECTED_{i} = "{v}"\n' for i, v in enumerate(secrets[half:]))
    s.tool("Edit", {"file_path": f"{CWD}/settings.py", "old_string": "TIMEOUT = 30\n", "new_string": rejected},
           REJECT, "User rejected tool use", is_error=True)  # fmt: skip
    new = "TIMEOUT = 30\n" + "".join(f'API_KEY_{i} = "{v}"\n' for i, v in enumerate(secrets))
    s.tool("Edit", {"file_path": f"{CWD}/settings.py", "old_string": "TIMEOUT = 30\n", "new_string": new},
           f"The file {CWD}/settings.py has been updated.",
           {"filePath": f"{CWD}/settings.py", "oldString": "TIMEOUT = 30\n", "newString": new,
            "originalFile": base, "structuredPatch": [], "userModified": False, "replaceAll": False})  # fmt: skip
    content = "deploy:\n" + "".join(f"  token_{i}: {v}\n" for i, v in enumerate(secrets))
    s.tool("Write", {"file_path": f"{CWD}/deploy.yaml", "content": content},
           f"File created successfully at: {CWD}/deploy.yaml",
           {"type": "create", "filePath": f"{CWD}/deploy.yaml", "content": content, "structuredPatch": []})  # fmt: skip
    for v in secrets:
        s.tool("Bash", {"command": f"export TOKEN={v} && curl -H 'Authorization: Bearer {v}' https://api.corp.io"},
               f"using {v}\nok")  # fmt: skip
    s.tool("Read", {"file_path": f"{CWD}/keys/{secrets[0]}/cred.json"}, "{}")
    s.user("Looks good, thanks")
    path.write_text("\n".join(s.lines) + "\n")


def _cli(*args: str, hyperscan: bool = True) -> subprocess.CompletedProcess:
    launch = ["-m", "golddiff.cli"] if hyperscan else ["-c", WITHOUT_HYPERSCAN]
    proc = subprocess.run([sys.executable, *launch, *args], capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    return proc


@pytest.mark.parametrize("hyperscan", [True, False], ids=["installed", "without_hyperscan"])
def test_no_planted_secret_reaches_any_output(tmp_path: Path, hyperscan: bool):
    samples = secret_samples(seed=5)
    planted = {s.value: s.secret for s in samples if s.kind not in LOG_EXAMPLES}
    bash = [s for s in samples if s.kind in LOG_EXAMPLES and s.context == "bash"]
    logs = tmp_path / "logs" / "-home-dev-app"
    logs.mkdir(parents=True)
    _write_session(logs / "session.jsonl", sorted(planted), [s.text for s in bash])
    keys = sorted(planted.values()) + [s.secret for s in bash]
    episodes = tmp_path / "episodes.jsonl"
    ingest = _cli("ingest", str(tmp_path / "logs"), "-o", str(episodes), "--stats", hyperscan=hyperscan)
    stats = json.loads(ingest.stdout.strip().splitlines()[-1])
    assert stats["episodes"] >= 1 and stats["edits"] >= 2 and stats["rejected_edits"] >= 1
    outputs = {"episodes": episodes}
    for kind in ("atif", "messages", "pairs"):
        outputs[kind] = tmp_path / f"{kind}.jsonl"
        _cli("export", kind, str(episodes), "-o", str(outputs[kind]))
    tasks, sft, pairs = tmp_path / "tasks.parquet", tmp_path / "sft.jsonl", tmp_path / "tasks_pairs.jsonl"
    _cli("tasks", str(episodes), "-o", str(tasks), "--sft", str(sft), "--pairs", str(pairs), "-q")
    outputs |= {"sft": sft, "tasks_pairs": pairs}
    texts = {name: p.read_text() for name, p in outputs.items()}
    texts["tasks.parquet"] = json.dumps(pq.read_table(tasks).to_pylist(), default=str)
    texts["stderr"] = ingest.stderr
    assert all(len(t) > 100 for t in texts.values() if t is not texts["stderr"]), {
        k: len(v) for k, v in texts.items()
    }
    leaks = {(name, k) for name, text in texts.items() for k in keys if k in text}
    assert not leaks, sorted(leaks)[:10]
    assert (
        "<secret:" in texts["episodes"]
        and "<secret:" in texts["sft"]
        and "<secret:" in texts["tasks.parquet"]
    )
