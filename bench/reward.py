"""Benchmark: the gold-diff reward (`golddiff.reward.score`) vs SWE-RL's reward (`swerl_reward`), by size.

Workload: real Python files from the standard library (`sysconfig.get_paths()["stdlib"]`), cut at a line
boundary to 1k, 5k, 20k and 50k characters. Each gets a gold edit of one hunk per ~2,500 characters
(renames, changed constants, inserted and deleted lines, in the file's own style), one rejected attempt,
and an answer that keeps ~60% of the gold hunks, rewrites ~25%, drops the rest and adds a stray hunk.

- `score`: the whole call on the answer text: parse, apply, line diff, units of the answer *and* of the gold
  and negatives (no prepared target), F1s, penalty.
- `prepared`: the same with a `prepare(task)` target made beforehand (how a trainer scores a group of
  samples of one task).
- `swerl`: `swerl_reward(base, gold, pred)` on the already-applied files (only its diffs and difflib ratio).

Run (CPU only; about a minute):
    .venv/bin/python bench/reward.py            # --quick: fewer pairs, for a smoke test
Prints the figures per size bucket and, last, one JSON line with `speedup_vs_swerl` (median swerl time
over median score time on the 50k bucket), `max_score_ms` (the slowest single score, all buckets, wall
clock) and `max_score_cpu_ms` (the same in this process's CPU time: on a machine shared with other jobs
the wall clock also counts time the core spent elsewhere).
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import statistics
import sys
import sysconfig
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golddiff.diffs import apply_answer, parse_answer, split_lines  # noqa: E402
from golddiff.reward import prepare, score, swerl_reward  # noqa: E402
from golddiff.tasks import TaskSettings, make_task, render_answer  # noqa: E402

SIZES = {"1k": 1_000, "5k": 5_000, "20k": 20_000, "50k": 50_000}
PAIRS = {"1k": 100, "5k": 60, "20k": 40, "50k": 30}  # swerl is quadratic: ~1 s per 50k pair


def stdlib_sources(min_chars: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = []
    for p in sorted(root.glob("*.py")):
        try:
            text = p.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        if len(text) >= min_chars:
            texts.append(text)
    return texts


def cut(text: str, size: int, rng: random.Random) -> str:
    """About `size` characters of `text`, from a random line, ending at a line boundary."""
    lines = split_lines(text)
    start = rng.randrange(max(1, len(lines) // 3))
    out, n = [], 0
    for ln in lines[start:]:
        if n >= size:
            break
        out.append(ln)
        n += len(ln)
    return "".join(out)


def edit_hunk(lines: list[str], at: int, rng: random.Random) -> None:
    """One realistic edit at line `at`, in place: rename, constant, insert or delete."""
    kind = rng.choice(["rename", "constant", "insert", "delete", "rename"])
    line = lines[at]
    indent = line[: len(line) - len(line.lstrip())]
    if kind == "rename":
        words = [
            w for w in line.replace("(", " ").replace(")", " ").replace(".", " ").split() if w.isidentifier()
        ]
        old = rng.choice(words) if words else None
        lines[at] = line.replace(old, old + "_new") if old else f"{indent}pass  # placeholder\n"
    elif kind == "constant":
        lines[at] = f"{indent}limit = {rng.randint(2, 999)}  # tuned\n" + line
    elif kind == "insert":
        n = rng.randint(1, 5)
        new = [f"{indent}value_{rng.randint(0, 99)} = compute(value, {k})\n" for k in range(n)]
        lines[at:at] = new + [
            f"{indent}if value_{n} is None:\n",
            f"{indent}    raise ValueError('missing')\n",
        ]
    else:
        del lines[at : at + rng.randint(1, 3)]


def edited(text: str, hunks: int, rng: random.Random) -> tuple[str, list[int]]:
    lines = split_lines(text)
    spots = sorted(rng.sample(range(1, max(2, len(lines) - 4)), min(hunks, max(1, len(lines) - 5))))
    for at in reversed(spots):
        edit_hunk(lines, at, rng)
    return "".join(lines), spots


def answer_for(base: str, gold_spots: list[int], rng: random.Random) -> str:
    """An imperfect answer: the gold's hunks kept (60%), rewritten (25%) or dropped, plus a stray hunk."""
    lines = split_lines(base)
    spots = [s for s in gold_spots if rng.random() < 0.85] + [rng.randrange(1, max(2, len(lines) - 4))]
    for at in sorted(set(spots), reverse=True):
        edit_hunk(lines, at, rng)
    return "".join(lines)


def make_pair(text: str, size: int, rng: random.Random):
    base = cut(text, size, rng)
    hunks = max(1, size // 2500)
    seed = rng.randrange(1 << 30)
    gold, spots = edited(base, hunks, random.Random(seed))
    rejected, _ = edited(base, max(1, hunks // 2), rng)
    # the answer shares the gold's random choices for the hunks it keeps
    pred = (
        gold
        if rng.random() < 0.2
        else answer_for(base, spots, random.Random(seed if rng.random() < 0.6 else seed + 1))
    )
    task = make_task(
        {"m.py": base},
        {"m.py": gold},
        [{"m.py": rejected}],
        settings=TaskSettings(max_gold_answer_chars=10**7),
    )
    return task, render_answer({"m.py": base}, {"m.py": pred})


def timed(fn, *args) -> tuple[float, object]:
    ms, _, out = timed_cpu(fn, *args)
    return ms, out


def timed_cpu(fn, *args) -> tuple[float, float, object]:
    """(wall ms, CPU ms of this process, result): on a shared machine the wall clock also counts the
    time other processes held the core; the CPU time is what the call itself cost."""
    gc.collect()  # a collection the previous call left behind is not charged to this one
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn(*args)
    return (time.perf_counter() - t0) * 1000, (time.process_time() - c0) * 1000, out


def run_bucket(name: str, texts: list[str], n_pairs: int, rng: random.Random) -> dict:
    score_ms, score_cpu, warm_ms, swerl_ms, values = [], [], [], [], []
    for _ in range(n_pairs):
        task, answer = make_pair(rng.choice(texts), SIZES[name], rng)
        ms, cpu, r = timed_cpu(score, answer, task)
        score_ms.append(ms)
        score_cpu.append(cpu)
        target = prepare(task)
        warm_ms.append(timed(score, answer, target)[0])
        pred = apply_answer(task.base_files, parse_answer(answer))
        ms, sw = timed(swerl_reward, task.base_files, task.gold[0].files, pred)
        swerl_ms.append(ms)
        values.append((r.value, sw))
    med_score, med_swerl = statistics.median(score_ms), statistics.median(swerl_ms)
    return {
        "pairs": n_pairs,
        "score_ms_median": round(med_score, 3),
        "score_ms_max": round(max(score_ms), 3),
        "score_cpu_ms_max": round(max(score_cpu), 3),
        "prepared_ms_median": round(statistics.median(warm_ms), 3),
        "swerl_ms_median": round(med_swerl, 3),
        "speedup": round(med_swerl / med_score, 1),
        "mean_reward": round(statistics.mean(v for v, _ in values), 3),
        "mean_swerl": round(statistics.mean(s for _, s in values), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a quarter of the pairs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    texts = stdlib_sources(60_000)
    print(f"{len(texts)} stdlib sources of 60k+ characters; score = the whole call, swerl = diffs + ratio")
    print(
        f"{'size':>5} {'pairs':>5} {'score ms':>9} {'max ms':>8} {'max cpu':>8} {'prepared':>9} {'swerl ms':>9} "
        f"{'speedup':>8}  reward swerl"
    )
    results = {}
    for name in SIZES:
        n = max(2, PAIRS[name] // 4) if args.quick else PAIRS[name]
        r = results[name] = run_bucket(name, texts, n, rng)
        print(
            f"{name:>5} {r['pairs']:>5} {r['score_ms_median']:>9.2f} {r['score_ms_max']:>8.2f} "
            f"{r['score_cpu_ms_max']:>8.2f} "
            f"{r['prepared_ms_median']:>9.2f} "
            f"{r['swerl_ms_median']:>9.1f} {r['speedup']:>7.1f}x  {r['mean_reward']:>6.3f} {r['mean_swerl']:>5.3f}",
            flush=True,
        )
    summary = {
        "speedup_vs_swerl": results["50k"]["speedup"],
        "max_score_ms": max(r["score_ms_max"] for r in results.values()),
        "max_score_cpu_ms": max(r["score_cpu_ms_max"] for r in results.values()),
        "buckets": results,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
