"""Find the demo's recipe for SmolLM2-135M: tasks -> eval base -> SFT -> eval -> Pipeline RL -> eval.

Each stage writes into --out and is skipped when its output is there (so a change of RL settings reruns
only RL and its eval). Wall time and CPU time (this process and every child, Ray's included) are
recorded per stage: on a shared machine CPU seconds / cores in use is the better guess of idle time.

    .venv/bin/python scripts/recipe_smollm2.py --out runs/recipe --bugs 150 --edits 350 --sft-steps 120 \
        --rl-steps 20 --eval-tasks 60

Prints a table and, last, one JSON line: per checkpoint (base, sft, rl) applied / exact / abstain /
reward with 95% CIs, the paired RL - SFT differences with CIs, the stage times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


class CpuMeter:
    """CPU seconds of this process and all its descendants, sampled every second (a child that exits
    between samples loses at most its last second)."""

    def __init__(self) -> None:
        import psutil

        self.psutil, self.me = psutil, psutil.Process()
        self.seen: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        for p in [self.me, *self.me.children(recursive=True)]:
            try:
                t = p.cpu_times()
                self.seen[p.pid] = max(self.seen.get(p.pid, 0.0), t.user + t.system)
            except self.psutil.Error:
                pass

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._sample()

    def total(self) -> float:
        self._sample()
        return sum(self.seen.values())


def stage(name: str, meter: CpuMeter, times: dict, fn) -> Any:
    print(f"== {name}", flush=True)
    w0, c0 = time.perf_counter(), meter.total()
    out = fn()
    wall, cpu = time.perf_counter() - w0, meter.total() - c0
    times[name] = {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}
    print(f"   {name}: wall {wall:.0f}s, cpu {cpu:.0f}s", flush=True)
    return out


# ------------------------------------------------------------------------------------------ tasks


def make_tasks(a) -> None:
    from golddiff.demo import compact_prompt
    from golddiff.models import load_tokenizer
    from golddiff.sft import answer_ids, prompt_ids
    from golddiff.tasks import TaskError, split_of, task_from_episode, write_tasks_parquet
    from golddiff.traces.stdlib_bugs import Settings, mine_bugs, to_episode
    from golddiff.traces.stdlib_edits import function_key, mine

    small = Settings(max_lines=a.fn_lines, max_chars=a.fn_chars, per_file=4, per_function=1)
    bugs = mine_bugs(a.bugs, seed=a.seed, settings=small)
    root = None
    from golddiff.traces.stdlib_bugs import stdlib_root

    root = stdlib_root()
    episodes = [to_episode(b, root) for b in bugs]
    exclude = {function_key(b.function) for b in bugs}
    kinds = tuple(a.kinds.split(","))
    episodes += mine(a.edits, seed=a.seed, settings=small, kinds=kinds, exclude=exclude)
    tok = load_tokenizer("smollm2-135m")
    kept, counts = [], {"train": 0, "heldout": 0, "too_long": 0, "no_task": 0}
    for ep in episodes:
        group = ep.source.session_id  # the function: one function's tasks are on one side
        try:
            task = compact_prompt(
                task_from_episode(ep, split_of(group, {"heldout": a.heldout}, a.seed), group)
            )
            if a.system:
                task = task.model_copy(
                    update={"prompt": [{"role": "system", "content": a.system}, task.prompt[1]]}
                )
        except TaskError:
            counts["no_task"] += 1
            continue
        n = len(prompt_ids(tok, task.prompt)) + len(answer_ids(tok, task.gold[0].answer))
        if n > a.max_len - 16:
            counts["too_long"] += 1
            continue
        counts[task.split] += 1
        kept.append(task)
    write_tasks_parquet(kept, a.out / "tasks.parquet")
    print(f"   {len(kept)} tasks: {counts}")


def kind_of(task) -> str:
    """stdlib_bugs / stdlib_edits:<kind> from the episode's request wording."""
    if task.source_tool != "stdlib_edits":
        return task.source_tool
    user = next(m["content"] for m in task.prompt if m["role"] == "user")
    for key, kind in (
        ("rename the", "rename"),
        ("change the default", "default"),
        ("return None right", "guard"),
    ):
        if key in user:
            return kind
    return "stated_fix"


# ------------------------------------------------------------------------------------------- eval


def run_eval(a, model: Path | str, heldout: list, name: str) -> dict:
    from golddiff.evaluate import EvalSettings, evaluate, write_eval

    settings = EvalSettings(
        samples=a.eval_samples,
        temperature=a.eval_temperature,
        max_new_tokens=a.max_new_tokens,
        max_len=a.max_len,
        seed=a.seed,
        threads=a.eval_threads,
        dtype="auto",
    )
    result = evaluate(str(model), heldout, settings)
    write_eval(result, a.out / f"eval_{name}.jsonl")
    return result


def summarise(evals: dict, heldout: list) -> dict:
    from golddiff.evaluate import mean_ci, paired_diff_ci

    out: dict[str, Any] = {"heldout_n": len(heldout)}
    kinds = {t.task_id: kind_of(t) for t in heldout}
    for name, ev in evals.items():
        for metric in ("applied", "exact", "reward", "format_error"):
            ci = mean_ci([t.mean(metric) for t in ev.tasks])
            out[f"{metric}_{name}"] = [round(ci["mean"], 3), round(ci["lo"], 3), round(ci["hi"], 3)]
        abstain = [
            sum(not a.applied and not a.format_error for a in t.answers) / len(t.answers) for t in ev.tasks
        ]
        ci = mean_ci(abstain)
        out[f"abstain_{name}"] = [round(ci["mean"], 3), round(ci["lo"], 3), round(ci["hi"], 3)]
        by_kind: dict[str, list[float]] = {}
        for t in ev.tasks:
            by_kind.setdefault(kinds[t.task_id], []).append(t.mean("applied"))
        out[f"applied_by_kind_{name}"] = {k: round(sum(v) / len(v), 2) for k, v in sorted(by_kind.items())}
    for a_, b_ in (("rl", "sft"), ("sft", "base")):
        if a_ in evals and b_ in evals:
            for metric in ("applied", "exact", "reward"):
                d = paired_diff_ci(evals[a_], evals[b_], metric)
                out[f"{a_}_minus_{b_}_{metric}"] = [round(d["mean"], 3), round(d["lo"], 3), round(d["hi"], 3)]
    return out


# -------------------------------------------------------------------------------------------- sft


def run_sft(a, train: list) -> None:
    from golddiff.sft import SFTConfig, train_sft

    config = SFTConfig(
        model="smollm2-135m",
        steps=a.sft_steps,
        lr=a.sft_lr,
        batch_size=a.sft_batch,
        max_len=a.max_len,
        seed=a.seed,
        threads=a.sft_threads,
        autocast="auto",
        warmup_steps=max(1, a.sft_steps // 10),
        train_layers=a.sft_train_layers,
    )
    t0 = time.perf_counter()
    result = train_sft(
        train,
        config,
        a.out / "sft",
        on_step=lambda r: (
            print(
                f"   sft step {r['step']}: loss {r['loss']:.3f} ({r['tokens'] / (time.perf_counter() - t0):.0f} tok/s)",
                flush=True,
            )
            if r["step"] % 10 == 0
            else None
        ),
    )
    print(
        f"   sft: {result.examples} examples, loss {result.first_loss:.3f} -> {result.last_loss:.3f}, "
        f"{result.tokens} tokens in {result.seconds:.0f}s"
    )


# --------------------------------------------------------------------------------------------- rl


def rl_config(a) -> dict:
    return {
        "mode": a.rl_mode,
        "model": {"name": str(a.out / "sft"), "device": "cpu", "dtype": "auto", "learner_dtype": "auto"},
        "data": {"tasks": str(a.out / "tasks.parquet"), "split": "train", "shuffle": True},
        "rl": {
            "group_size": a.rl_group,
            "prompts_per_step": a.rl_prompts,
            "max_new_tokens": a.max_new_tokens,
            "temperature": a.rl_temperature,
            "max_off_policy_steps": 1,
            "lr": a.rl_lr,
            "advantage": "leave_one_out",
            "std_normalise": a.rl_std,
            "loss_norm": a.rl_loss_norm,
        },
        "actors": {"count": 1, "max_batch": 64, "max_len": a.max_len, "num_cpus": 1, "threads": 1},
        "learner": {
            "processes": 1,
            "num_cpus": 1,
            "threads": 1,
            "micro_batch_tokens": a.rl_micro_tokens,
            "train_layers": a.rl_train_layers,
        },
        "run": {
            "dir": str(a.out / "rl"),
            "steps": a.rl_steps,
            "seed": a.seed,
            "checkpoint_every": 0,
            "preflight": False,
            "progress": "plain",
            "num_cpus": 2,
        },
    }


def run_rl(a) -> Path:
    import yaml

    from golddiff.rl.config import load_train_config
    from golddiff.rl.trainer import train

    path = a.out / "rl.yaml"
    path.write_text(yaml.safe_dump(rl_config(a), sort_keys=False))
    shutil.rmtree(a.out / "rl", ignore_errors=True)
    summary = train(load_train_config(path))
    return Path(summary.last_checkpoint)


def rl_rewards(a) -> list[float]:
    rows = [json.loads(x) for x in (a.out / "rl" / "metrics.jsonl").read_text().splitlines() if x.strip()]
    return [round(r.get("reward/mean", float("nan")), 3) for r in rows]


# ------------------------------------------------------------------------------------------- main


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, default=Path("runs/recipe"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--bugs", type=int, default=150)
    p.add_argument("--edits", type=int, default=350)
    p.add_argument("--kinds", default="stated_fix,rename,change_default,none_guard")
    p.add_argument("--fn-lines", type=int, default=8)
    p.add_argument("--fn-chars", type=int, default=260)
    p.add_argument("--heldout", type=float, default=0.2)
    p.add_argument("--system", default="", help="system prompt (default: the demo's)")
    p.add_argument("--sft-train-layers", type=int, default=None)
    p.add_argument("--rl-train-layers", type=int, default=None)
    p.add_argument("--max-len", type=int, default=384)
    p.add_argument("--max-new-tokens", type=int, default=96)
    p.add_argument("--sft-steps", type=int, default=120)
    p.add_argument("--sft-lr", type=float, default=5e-5)
    p.add_argument("--sft-batch", type=int, default=8)
    p.add_argument("--sft-threads", type=int, default=2)
    p.add_argument("--rl-steps", type=int, default=20)
    p.add_argument("--rl-lr", type=float, default=1e-5)
    p.add_argument("--rl-group", type=int, default=8)
    p.add_argument("--rl-prompts", type=int, default=4)
    p.add_argument("--rl-temperature", type=float, default=1.0)
    p.add_argument("--rl-std", action="store_true")
    p.add_argument("--rl-loss-norm", default="budget")
    p.add_argument("--rl-micro-tokens", type=int, default=4096)
    p.add_argument("--rl-mode", default="pipeline")
    p.add_argument("--eval-tasks", type=int, default=60)
    p.add_argument("--eval-samples", type=int, default=4)
    p.add_argument("--eval-temperature", type=float, default=1.0)
    p.add_argument("--eval-threads", type=int, default=2)
    p.add_argument("--stages", default="tasks,base,sft,eval_sft,rl,eval_rl")
    p.add_argument("--redo", default="", help="stages to rerun even if their output exists")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from golddiff.tasks import read_tasks_parquet

    meter, times, evals = CpuMeter(), {}, {}
    stages, redo = a.stages.split(","), set(a.redo.split(","))
    t_all = time.perf_counter()

    def want(name: str, output: Path) -> bool:
        return name in stages and (name in redo or not output.exists())

    if want("tasks", a.out / "tasks.parquet"):
        stage("tasks", meter, times, lambda: make_tasks(a))
    tasks = read_tasks_parquet(a.out / "tasks.parquet")
    train = [t for t in tasks if t.split == "train"]
    heldout = [t for t in tasks if t.split == "heldout"][: a.eval_tasks]
    print(f"   train {len(train)}, held out {len(heldout)}")
    from golddiff.evaluate import EvalResult  # noqa: F401

    def load_or_eval(name: str, model) -> None:
        path = a.out / f"eval_{name}.jsonl"
        if want(f"eval_{name}" if name != "base" else "base", path):
            evals[name] = stage(f"eval {name}", meter, times, lambda: run_eval(a, model, heldout, name))
        elif path.exists():
            evals[name] = _read_eval(path, heldout)

    load_or_eval("base", "smollm2-135m")
    if want("sft", a.out / "sft" / "model.safetensors"):
        stage("sft", meter, times, lambda: run_sft(a, train))
    load_or_eval("sft", a.out / "sft")
    if want("rl", a.out / "rl" / "metrics.jsonl"):
        stage("rl", meter, times, lambda: run_rl(a))
    if (a.out / "rl").exists():
        ckpts = sorted((a.out / "rl" / "checkpoints").glob("step_*"), key=lambda q: int(q.name.split("_")[1]))
        if ckpts:
            load_or_eval("rl", ckpts[-1])
            print("   rl reward per step:", rl_rewards(a))
    summary = summarise(evals, heldout) | {"times": times, "wall_s": round(time.perf_counter() - t_all, 1)}
    (a.out / f"summary_{int(time.time())}.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary))


def _read_eval(path: Path, heldout: list):
    """An EvalResult-like object from a written eval (per-task answers) for the summary."""
    from golddiff.evaluate import Answer, EvalResult, EvalSettings, TaskResult, read_eval

    ids = {t.task_id for t in heldout}
    tasks = []
    for row in read_eval(path):
        if row["task_id"] not in ids:
            continue
        answers = [Answer(**x) for x in row["answers"]]
        keep = {k: row[k] for k in ("task_id", "split", "source_tool", "request", "gold_answer", "gold_diff")}
        tasks.append(TaskResult(**keep, answers=answers))
    return EvalResult(str(path), EvalSettings(), tasks, [], 0.0)


if __name__ == "__main__":
    main()
