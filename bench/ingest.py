"""Ingest throughput and memory on a generated corpus of realistic Claude Code logs.

Generates (once, cached under bench/out/) a corpus of Claude Code 2.0-style session logs: real code from
Python's standard library as file contents, Read results with the whole file, Edit/Write calls with
`toolUseResult` (`originalFile`, `structuredPatch`), Bash output, rejections, interrupts, queued messages.
Then, each in its own process, side by side on the same bytes:
  baseline  read every line and `json.loads` it (the floor for any JSONL reader);
  golddiff  `golddiff ingest CORPUS -o episodes.jsonl` (detect, read, rebuild, label, scrub, write).
Reports MB/s for both, their ratio (aim: >= 0.25) and golddiff's peak RSS (aim: < 500 MB).

    .venv/bin/python bench/ingest.py            # >= 200 MB corpus
    .venv/bin/python bench/ingest.py --mb 20    # a quick run
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import time
import uuid
from pathlib import Path

from golddiff.traces.claude_code.patch import structured_patch

HERE = Path(__file__).resolve().parent
REJECT = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
    "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
    "tell you how to proceed."
)


def stdlib_files(rng: random.Random, n: int) -> list[tuple[str, str]]:
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(p for p in root.glob("*.py") if 2_000 < p.stat().st_size < 60_000)
    return [(p.name, p.read_text(encoding="utf-8", errors="replace")) for p in rng.sample(paths, n)]


class SessionWriter:
    """Writes one session as Claude Code JSONL records chained by parentUuid."""

    def __init__(self, rng: random.Random, cwd: str):
        self.rng, self.cwd = rng, cwd
        self.session = str(uuid.UUID(int=rng.getrandbits(128)))
        self.parent: str | None = None
        self.t = 1_700_000_000.0 + rng.random() * 1e7
        self.lines: list[str] = []

    def _env(self, kind: str, **extra) -> dict:
        self.t += self.rng.random() * 20
        uid = str(uuid.UUID(int=self.rng.getrandbits(128)))
        rec = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": self.cwd,
            "sessionId": self.session,
            "version": "2.0.42",
            "gitBranch": "main",
            "type": kind,
            "uuid": uid,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(self.t)),
            **extra,
        }
        self.parent = uid
        self.lines.append(json.dumps(rec))
        return rec

    def user(self, text: str) -> None:
        self._env("user", message={"role": "user", "content": text})

    def assistant(self, blocks: list[dict]) -> None:
        msg = {
            "model": "claude-sonnet-4-5",
            "id": f"msg_{self.rng.getrandbits(64):x}",
            "type": "message",
            "role": "assistant",
            "content": blocks,
            "stop_reason": "tool_use",
            "usage": {"output_tokens": 100},
        }
        self._env("assistant", message=msg, requestId=f"req_{self.rng.getrandbits(64):x}")

    def tool(self, name: str, inp: dict, output: str, result=None, is_error: bool = False) -> None:
        call_id = f"toolu_{self.rng.getrandbits(80):x}"
        self.assistant([{"type": "tool_use", "id": call_id, "name": name, "input": inp}])
        block = {"tool_use_id": call_id, "type": "tool_result", "content": output}
        if is_error:
            block["is_error"] = True
        extra = {"toolUseResult": result} if result is not None else {}
        self._env("user", message={"role": "user", "content": [block]}, **extra)


def _edit(ses: SessionWriter, path: str, content: str, rng: random.Random) -> str:
    lines = content.splitlines(keepends=True)
    k = rng.randrange(max(1, len(lines) - 6))
    old = "".join(lines[k : k + rng.randint(1, 5)])
    if not old.strip() or content.count(old) != 1:
        return content
    new = old.replace("return", "return  # checked").replace("if ", "if not ") + "    pass  # golddiff\n"
    after = content.replace(old, new, 1)
    inp = {"file_path": path, "old_string": old, "new_string": new}
    if rng.random() < 0.08:
        ses.tool("Edit", inp, REJECT, "User rejected tool use", is_error=True)
        return content
    result = {
        "filePath": path,
        "oldString": old,
        "newString": new,
        "originalFile": content,
        "structuredPatch": structured_patch(content, after),
        "userModified": False,
        "replaceAll": False,
    }
    ses.tool("Edit", inp, f"The file {path} has been updated.", result)
    return after


def write_session(rng: random.Random, files: list[tuple[str, str]], out: Path) -> int:
    cwd = f"/home/dev/project{rng.randrange(100)}"
    ses = SessionWriter(rng, cwd)
    ses.user(f"Please harden the error handling in {files[0][0]} and the helpers it uses.")
    state = {}
    for name, content in files:
        path = f"{cwd}/src/{name}"
        numbered = "".join(f"{i + 1:6d}\u2192{ln}\n" for i, ln in enumerate(content.splitlines()))
        ses.assistant(
            [{"type": "thinking", "thinking": f"I should read {name} first.", "signature": "x" * 40}]
        )
        ses.tool(
            "Read",
            {"file_path": path},
            numbered,
            {"type": "text", "file": {"filePath": path, "content": content}},
        )
        state[path] = content
    for _ in range(rng.randint(4, 12)):
        path = rng.choice(list(state))
        state[path] = _edit(ses, path, state[path], rng)
        if rng.random() < 0.3:
            ses.tool(
                "Bash", {"command": "python -m pytest -q"}, "." * rng.randint(10, 400) + "\n12 passed in 0.8s"
            )
        if rng.random() < 0.05:
            ses.user("[Request interrupted by user]")
            ses.user("keep going, but do not touch the tests")
        if rng.random() < 0.05:
            ses._env("queue-operation", operation="enqueue", content="also update the changelog")
    ses.assistant([{"type": "text", "text": "Done: the error handling is hardened and the tests pass."}])
    out.write_text("\n".join(ses.lines) + "\n")
    return out.stat().st_size


def make_corpus(root: Path, mb: int, seed: int = 0) -> Path:
    corpus = root / f"corpus_{mb}mb_s{seed}"
    marker = corpus / ".complete"
    if marker.exists():
        return corpus
    corpus.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    total, i = 0, 0
    t0 = time.time()
    while total < mb * 1_000_000:
        proj = corpus / f"-home-dev-project{i % 40}"
        proj.mkdir(exist_ok=True)
        total += write_session(rng, stdlib_files(rng, rng.randint(2, 5)), proj / f"session-{i:05d}.jsonl")
        i += 1
        if i % 50 == 0:
            print(
                f"  generating: {total / 1e6:.0f}/{mb} MB, {i} sessions ({time.time() - t0:.0f} s)",
                file=sys.stderr,
            )
    marker.write_text(str(total))
    return corpus


BASELINE = """
import json, os, sys
n = 0
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        if name.endswith(".jsonl"):
            with open(os.path.join(root, name), encoding="utf-8") as f:
                for line in f:
                    json.loads(line)
                    n += 1
print(n)
"""


def timed(cmd: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(proc.pid, 0)
    dt = time.perf_counter() - t0
    out, err = proc.stdout.read(), proc.stderr.read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{cmd[:3]} failed:\n{err[-2000:]}")
    return dt, usage.ru_maxrss / 1024, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mb", type=int, default=200, help="corpus size in MB (default 200)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = HERE / "out"
    corpus = make_corpus(out, args.mb, args.seed)
    size_mb = sum(p.stat().st_size for p in corpus.rglob("*.jsonl")) / 1e6
    episodes = out / "episodes.jsonl"
    episodes.unlink(missing_ok=True)
    t_parse, rss_parse, records = timed([sys.executable, "-c", BASELINE, str(corpus)])
    t_ingest, rss_ingest, stats = timed(
        [sys.executable, "-m", "golddiff.cli", "ingest", str(corpus), "-o", str(episodes), "-q", "--stats"]
    )
    summary = json.loads(stats.strip().splitlines()[-1])
    result = {
        "corpus_mb": round(size_mb, 1),
        "records": int(records),
        "parse_mb_s": round(size_mb / t_parse, 1),
        "ingest_mb_s": round(size_mb / t_ingest, 1),
        "ratio_vs_parse": round(t_parse / t_ingest, 3),
        "peak_rss_mb": round(rss_ingest, 1),
        "parse_peak_rss_mb": round(rss_parse, 1),
        "episodes": summary["episodes"],
        "edits": summary["edits"],
        "skipped_records": summary["skipped_records"],
    }
    print(f"corpus          {size_mb:8.1f} MB, {int(records)} records, {summary['episodes']} episodes")
    print(f"json parse only {result['parse_mb_s']:8.1f} MB/s   peak {rss_parse:6.0f} MB")
    print(f"golddiff ingest {result['ingest_mb_s']:8.1f} MB/s   peak {rss_ingest:6.0f} MB")
    print(f"ratio           {result['ratio_vs_parse']:8.3f}  (aim >= 0.25; peak memory aim < 500 MB)")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
