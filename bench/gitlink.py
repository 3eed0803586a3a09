"""Linking throughput (`golddiff ingest --repo`): seconds per session, new linker vs the one at a7f3e28.

Generates (once, cached under bench/out/) a git repository of >= 5,000 commits (one `git fast-import`;
Python modules grown one function per commit; a fifth of the sessions' commits made on a branch that was
merged with --no-ff and deleted) and >= 200 Claude Code sessions, each the session that led to one known
commit spread evenly through the history (so most are far beyond the 200 newest), some with a debug line
the human did not commit. Then, in one run, on the same episodes:
  baseline  the GitLinker of commit a7f3e28 (`git show a7f3e28:golddiff/traces/gitlink.py`, loaded into a
            temporary module): the newest 200 commits, a `git show` per candidate;
  golddiff  today's GitLinker: one pass over the whole history, then lookups.
The baseline runs twice: as it was (`max_commits=200`), and told to search every commit (what finding these
sessions would take with today's algorithm). Each is timed shared (one linker for every session, as one
`golddiff ingest DIR --repo` run uses it: index and caches included), per session and per session linked,
and cold (a fresh linker per session, as `golddiff ingest ONE.jsonl --repo`). A session counts as linked
when it is linked to the commit it led to.

    .venv/bin/python bench/gitlink.py                      # 5,000 commits, 200 sessions
    .venv/bin/python bench/gitlink.py --commits 1000 --sessions 50 --cold 3    # a quick run
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

from ingest import SessionWriter  # bench/ingest.py: Claude Code records chained by parentUuid

from golddiff.traces import claude_code
from golddiff.traces.claude_code.patch import structured_patch
from golddiff.traces.git.link import GitLinker
from golddiff.traces.session import IngestReport, ReadOptions

HERE = Path(__file__).resolve().parent
BASELINE_REV = "a7f3e28"
T0 = 1_700_000_000
CWD = "/home/dev/service"


def _module(rng: random.Random, k: int) -> str:
    lines = [f'"""Module {k}: helpers for the service."""\n', "\n", "import math\n", "\n"]
    for j in range(rng.randint(4, 10)):
        lines += [
            f"\n\ndef helper_{k}_{j}(value):\n",
            f"    return math.floor(value * {rng.randint(2, 999)})\n",
        ]
    return "".join(lines)


def _function(rng: random.Random, k: int) -> str:
    name = f"compute_{k}_{rng.getrandbits(24):06x}"
    body = [
        f"\n\ndef {name}(items, limit={rng.randint(2, 99)}):\n",
        f'    """Sum the first items of batch {k}."""\n',
    ]
    body += [f"    total = sum(x * {rng.randint(2, 97)} for x in items[:limit])\n"]
    body += [f"    if total > {rng.randint(1000, 99999)}:\n", f"        total -= {rng.randint(1, 999)}\n"]
    return "".join(body) + "    return total\n"


def make_repo(root: Path, n_commits: int, n_sessions: int, seed: int) -> tuple[Path, list[dict]]:
    """The repository and, per session, the commit it leads to (cached with a marker file)."""
    repo, marker = root / "repo", root / "sessions.json"
    if marker.exists():
        return repo, json.loads(marker.read_text())
    rng = random.Random(seed)
    repo.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    files = {f"src/svc/mod_{k}.py": _module(rng, k) for k in range(120)}
    picks = set(range(n_commits // n_sessions // 2, n_commits, max(1, n_commits // n_sessions)))
    stream, plan, mark, main_tip = [], [], 0, 0

    def commit(ref: str, t: int, msg: str, path: str, parents: list[int]) -> int:
        nonlocal mark
        mark += 1
        data = files[path]
        head = [f"commit {ref}", f"mark :{mark}", f"committer Dev <dev@example.com> {t} +0000"]
        head += [f"data {len(msg.encode())}", msg.rstrip("\n")]
        head += [f"from :{parents[0]}"] if parents else []
        head += [f"merge :{m}" for m in parents[1:]]
        head += [f"M 100644 inline {path}", f"data {len(data.encode())}"]
        stream.append("\n".join(head) + "\n" + data + "\n")
        return mark

    for i in range(n_commits):
        t = T0 + 1800 * i
        path = rng.choice(sorted(files))
        before = files[path]
        anchor = rng.choice([ln for ln in before.splitlines(keepends=True) if ln.startswith("def ")])
        added = _function(rng, i)
        files[path] = before.replace(anchor, added.lstrip("\n") + "\n\n" + anchor, 1)
        side = i in picks and len(plan) % 5 == 4  # every fifth session's commit is on a branch
        branch = f"feature/task-{i}" if side else "main"
        parents = [main_tip] if main_tip else []
        at = commit(f"refs/heads/{branch}", t, f"feat: batch {i}\n", path, parents)
        if side:  # merged into main with --no-ff (the branch is deleted below)
            main_tip = commit("refs/heads/main", t + 60, f"Merge branch '{branch}'\n", path, parents + [at])
        else:
            main_tip = at
        if i in picks:
            plan.append({"mark": at, "path": path, "before": before, "after": files[path], "anchor": anchor,
                         "added": added, "time": t, "branch": branch})  # fmt: skip
    marks = root / "marks"
    subprocess.run(["git", "-C", str(repo), "fast-import", "--quiet", f"--export-marks={marks}"],
                   input="".join(stream).encode(), check=True)  # fmt: skip
    sha_of = dict(line.split() for line in marks.read_text().splitlines())
    deletes = [f"delete refs/heads/{p['branch']}\n" for p in plan if p["branch"] != "main"]
    subprocess.run(
        ["git", "-C", str(repo), "update-ref", "--stdin"], input="".join(deletes).encode(), check=True
    )
    subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard", "main"], check=True)
    sessions = []
    for k, p in enumerate(plan):
        p["sha"] = sha_of[f":{p['mark']}"]
        p["log"] = str(write_session(root / "sessions", k, p, rng))
        sessions.append({key: p[key] for key in ("sha", "log", "branch", "time")})
    marker.write_text(json.dumps(sessions))
    return repo, sessions


def write_session(folder: Path, k: int, p: dict, rng: random.Random) -> Path:
    """The Claude Code session that led to the commit: read the file, add the function (and, sometimes,
    a debug line the human dropped before committing)."""
    ses = SessionWriter(rng, CWD)
    ses.t = p["time"] - 1200
    ses.user(f"Add a function that sums the first items of batch {k} to {p['path']}.")
    fp = f"{CWD}/{p['path']}"
    n = len(p["before"].splitlines())
    read = {"filePath": fp, "content": p["before"], "numLines": n, "startLine": 1, "totalLines": n}
    ses.tool("Read", {"file_path": fp}, "(file)", {"type": "text", "file": read})
    new = p["added"].lstrip("\n") + "\n\n" + p["anchor"]
    if rng.random() < 0.3:
        new = new.replace("    return total\n", f"    print('debug batch {k}', total)\n    return total\n")
    after = p["before"].replace(p["anchor"], new, 1)
    inp = {"file_path": fp, "old_string": p["anchor"], "new_string": new}
    result = {"filePath": fp, "oldString": p["anchor"], "newString": new, "originalFile": p["before"],
              "structuredPatch": structured_patch(p["before"], after), "userModified": False, "replaceAll": False}  # fmt: skip
    ses.tool("Edit", inp, f"The file {fp} has been updated.", result)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"session-{k:04d}.jsonl"
    out.write_text(
        "\n".join(ses.lines).replace('"gitBranch": "main"', f'"gitBranch": "{p["branch"]}"') + "\n"
    )
    return out


def baseline_linker() -> type:
    """The GitLinker class as it was at a7f3e28, loaded from git history into a temporary module."""
    src = subprocess.run(
        ["git", "-C", str(HERE.parent), "show", f"{BASELINE_REV}:golddiff/traces/gitlink.py"],
        capture_output=True, text=True,
    )  # fmt: skip
    if src.returncode != 0:
        raise SystemExit(f"bench/gitlink.py needs this checkout's git history for the baseline: {src.stderr}")
    # the modules it imports moved into stage packages since (issue 13); their contents did not change
    for was, now in (("golddiff.traces.builder ", "golddiff.traces.session "),
                     ("golddiff.traces.gitrepo ", "golddiff.traces.git.repo ")):  # fmt: skip
        src.stdout = src.stdout.replace(f"from {was}import", f"from {now}import")
    mod = types.ModuleType(f"gitlink_{BASELINE_REV}")
    sys.modules[mod.__name__] = mod  # its dataclasses look their module up
    exec(compile(src.stdout, f"{BASELINE_REV}:golddiff/traces/gitlink.py", "exec"), mod.__dict__)
    return mod.GitLinker


def run(make, episodes: list, truth: list[str], cold: int) -> dict:
    """Link every episode with one shared linker, then `cold` of them with a fresh linker each."""
    t0 = time.perf_counter()
    linker = make()
    right = 0
    for ep, sha in zip(episodes, truth):
        got = linker.link(copy.deepcopy(ep))
        got = got if isinstance(got, list) else [got]
        right += any(x.final.source == "commit" and x.final.commit == sha for x in got)
    total = time.perf_counter() - t0
    colds = []
    for ep in episodes[:: max(1, len(episodes) // cold)][:cold]:
        t1 = time.perf_counter()
        make().link(copy.deepcopy(ep))
        colds.append(time.perf_counter() - t1)
    return {
        "s_per_session": total / len(episodes),
        "s_per_linked_session": total / right if right else None,
        "cold_s_per_session": statistics.median(colds),
        "linked": right,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--commits", type=int, default=5000)
    ap.add_argument("--sessions", type=int, default=200)
    ap.add_argument("--cold", type=int, default=5, help="sessions timed with a fresh linker each")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    root = HERE / "out" / f"gitlink_{args.commits}c_{args.sessions}s_s{args.seed}"
    t = time.perf_counter()
    repo, sessions = make_repo(root, args.commits, args.sessions, args.seed)
    print(f"repository: {root / 'repo'} ({time.perf_counter() - t:.0f} s to make or load)", file=sys.stderr)
    commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True,
                                 text=True, check=True).stdout)  # fmt: skip
    episodes, truth = [], []
    for s in sessions:
        [ep] = claude_code.read(Path(s["log"]), IngestReport(quiet=True), ReadOptions())
        episodes.append(ep)
        truth.append(s["sha"])
    old_cls = baseline_linker()
    rows = {
        f"baseline {BASELINE_REV} (newest 200)": run(
            lambda: old_cls(str(repo), IngestReport(quiet=True)), episodes, truth, args.cold
        ),
        f"baseline {BASELINE_REV} (all commits)": run(
            lambda: old_cls(str(repo), IngestReport(quiet=True), max_commits=commits), episodes, truth, 1
        ),
        "golddiff now": run(
            lambda: GitLinker(str(repo), IngestReport(quiet=True)), episodes, truth, args.cold
        ),
    }
    n = len(episodes)
    old, whole, new = rows.values()
    print(f"repository: {commits} commits, {n} sessions (each led to one known commit)")
    print(f"{'':34} {'s/session':>10} {'s/linked':>10} {'cold s/session':>15} {'linked right':>13}")
    for name, r in rows.items():
        per_linked = f"{r['s_per_linked_session']:10.4f}" if r["s_per_linked_session"] else f"{'-':>10}"
        print(
            f"{name:34} {r['s_per_session']:10.4f} {per_linked} {r['cold_s_per_session']:15.3f} {r['linked']:9d}/{n}"
        )
    result = {
        "commits": commits,
        "sessions": n,
        "baseline_s_per_session": round(old["s_per_session"], 4),
        "baseline_s_per_linked_session": round(old["s_per_linked_session"] or 0, 4),
        "baseline_all_commits_s_per_session": round(whole["s_per_session"], 4),
        "golddiff_s_per_session": round(new["s_per_session"], 4),
        "golddiff_s_per_linked_session": round(new["s_per_linked_session"] or 0, 4),
        "speedup_per_linked_session": round(
            (old["s_per_linked_session"] or 0) / new["s_per_linked_session"], 1
        ),
        "speedup_vs_all_commits": round(whole["s_per_session"] / new["s_per_session"], 1),
        "baseline_cold_s_per_session": round(old["cold_s_per_session"], 3),
        "baseline_all_commits_cold_s_per_session": round(whole["cold_s_per_session"], 3),
        "golddiff_cold_s_per_session": round(new["cold_s_per_session"], 3),
        "baseline_link_rate": round(old["linked"] / n, 3),
        "baseline_all_commits_link_rate": round(whole["linked"] / n, 3),
        "golddiff_link_rate": round(new["linked"] / n, 3),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
