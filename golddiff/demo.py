"""`golddiff demo`: the whole pipeline on a laptop, from session logs to a report, in minutes on 2 CPU cores.

    from golddiff.demo import DemoSettings, run_demo
    result = run_demo(DemoSettings(out=Path("runs/demo")))      # or: golddiff demo --out runs/demo

Stages (each timed, each with progress):
1. ingest  — the example session logs shipped in `golddiff/examples` (Claude Code, Codex, Aider) and
             single-function bug fixes mined from this machine's Python standard library
             (`golddiff.traces.stdlib_bugs`), through the normal ingest and scrub path → episodes.jsonl
2. tasks   — one task per episode, split by session with a held-out share (`golddiff.tasks`); prompts are
             made compact for the byte-level model (a one-line system prompt; no "Files" preamble) and
             tasks that do not fit `max_len` tokens are left out → tasks.parquet
3. sft     — a short warm start of the built-in tiny model on the training tasks' gold answers → sft/
4. rl      — Pipeline RL from the SFT checkpoint on the training split (`golddiff train` with the config
             written to rl.yaml) → rl/ (metrics.jsonl, checkpoints/step_N)
5. eval    — both checkpoints on the held-out tasks, K sampled answers each (`golddiff.evaluate`)
6. report  — report.html: the RL run's curves, held-out results, examples beside the gold
It ends with a table and one JSON line (`heldout_reward_sft`, `heldout_reward_rl`, their 95% CIs, the
paired RL − SFT difference with its CI, `heldout_n`, `minutes`, per-stage seconds). CPU only by design.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import Field

from golddiff.config import Strict
from golddiff.tasks import Task

EXAMPLES = Path(__file__).parent / "examples"
DEMO_SYSTEM_PROMPT = (
    "Fix the code as asked. Answer with SEARCH/REPLACE blocks: the file's path, then <<<<<<< SEARCH, "
    "the exact lines to replace, =======, the new lines, >>>>>>> REPLACE."
)


class DemoSettings(Strict):
    out: Path = Path("runs/demo")
    seed: int = 0
    bugs: int = 500  # stdlib bug-fix episodes to mine
    fn_lines: int = 8  # longest function to mine (lines)
    fn_chars: int = 260  # longest function to mine (characters)
    heldout: float = 0.2  # share of sessions (functions) held out
    max_len: int = 1024  # tokens of prompt + answer, everywhere
    # torch threads of the SFT stage (RL: one per process; eval: one). Two are ~1.9x faster on idle cores
    # and far slower on cores other work is using: pass 1 on a busy machine.
    threads: int = Field(default_factory=lambda: min(2, os.cpu_count() or 1))
    sft_steps: int = 160
    sft_lr: float = 3e-3
    sft_batch: int = 8
    sft_autocast: str = "auto"  # bf16 autocast where the CPU has native bf16 (~1.8x faster), else fp32
    rl_steps: int = 16
    rl_lr: float = 3e-4
    rl_group: int = 8
    rl_prompts: int = 4
    rl_max_new_tokens: int = 192
    rl_temperature: float = 1.0
    eval_samples: int = 4
    eval_tasks: int = 60  # held-out tasks evaluated (the first N, in task order)
    eval_max_new_tokens: int = 192
    rl: bool = True
    quiet: bool = False


@dataclass
class DemoResult:
    stage_seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------- stages


def ingest_stage(s: DemoSettings, say: Callable[[str], None]) -> dict[str, int]:
    """Example logs + mined stdlib bugs → episodes.jsonl (rewritten)."""
    from golddiff.traces.ingest import ingest
    from golddiff.traces.session import IngestReport
    from golddiff.traces.stdlib_bugs import Settings, mine

    out = s.out / "episodes.jsonl"
    out.unlink(missing_ok=True)
    small = Settings(max_lines=s.fn_lines, max_chars=s.fn_chars, per_file=4, per_function=2)
    bugs = mine(s.bugs, seed=s.seed, settings=small)
    say(f"mined {len(bugs)} bug fixes from the standard library; reading the example session logs")
    report = ingest([str(EXAMPLES)], out, report=IngestReport(quiet=True), extra_episodes=bugs)
    c = report.counts
    counts = {k.split("/", 1)[1]: v for k, v in c.items() if k.startswith("episodes/")}
    say(f"{c['episodes']} episodes: " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())))
    return {"episodes": c["episodes"], **{f"episodes_{k}": v for k, v in counts.items()}}


def compact_prompt(task: Task) -> Task:
    """The task with a one-line system prompt and without the "Files (...)" preamble line."""
    user = next(m["content"] for m in task.prompt if m["role"] == "user")
    request, sep, rest = user.partition("\n\nFiles (")
    files = rest.split("\n\n", 1)[1] if sep and "\n\n" in rest else rest
    content = f"{request}\n\n{files}" if sep else user
    prompt = [{"role": "system", "content": DEMO_SYSTEM_PROMPT}, {"role": "user", "content": content}]
    return task.model_copy(update={"prompt": prompt})


def fits(task: Task, tokenizer: Any, max_len: int) -> bool:
    from golddiff.models import answer_ids, prompt_ids

    return (
        len(prompt_ids(tokenizer, task.prompt)) + len(answer_ids(tokenizer, task.gold[0].answer)) <= max_len
    )


def tasks_stage(s: DemoSettings, say: Callable[[str], None]) -> dict[str, int]:
    """episodes.jsonl → tasks.parquet: held-out split by session, compact prompts, only what fits."""
    from golddiff.episodes import read_episodes
    from golddiff.models import ByteTokenizer
    from golddiff.tasks import TaskError, group_key, split_of, task_from_episode, write_tasks_parquet

    tokenizer, kept, counts = ByteTokenizer(), [], Counter()
    for ep in read_episodes(s.out / "episodes.jsonl"):
        group = group_key(ep)
        try:
            task = compact_prompt(
                task_from_episode(ep, split_of(group, {"heldout": s.heldout}, s.seed), group)
            )
        except TaskError:
            counts["no_task"] += 1
            continue
        if not fits(task, tokenizer, s.max_len):
            counts["too_long"] += 1
            continue
        counts[task.split] += 1
        kept.append(task)
    write_tasks_parquet(kept, s.out / "tasks.parquet")
    say(
        f"{len(kept)} tasks: {counts['train']} train, {counts['heldout']} held out; left out: "
        f"{counts['too_long']} longer than {s.max_len} tokens, {counts['no_task']} without a task"
    )
    return {
        "tasks": len(kept),
        "train": counts["train"],
        "heldout": counts["heldout"],
        "too_long": counts["too_long"],
    }


def sft_stage(s: DemoSettings, train: list[Task]) -> dict[str, float]:
    from golddiff.progress import train_sft_with_progress
    from golddiff.sft import SFTConfig

    config = SFTConfig(
        model="tiny",
        steps=s.sft_steps,
        lr=s.sft_lr,
        batch_size=s.sft_batch,
        max_len=s.max_len,
        seed=s.seed,
        threads=s.threads,
        autocast=s.sft_autocast,
    )
    result = train_sft_with_progress(train, config, s.out / "sft", s.sft_steps, s.quiet)
    return {
        "sft_first_loss": result.first_loss,
        "sft_last_loss": result.last_loss,
        "sft_examples": result.examples,
    }


def rl_config(s: DemoSettings) -> dict[str, Any]:
    """The `golddiff train` recipe of the demo: Pipeline RL from the SFT checkpoint on the train split."""
    return {
        "mode": "pipeline",
        "model": {"name": str(s.out / "sft"), "device": "cpu", "seed": s.seed},
        "data": {"tasks": str(s.out / "tasks.parquet"), "split": "train", "shuffle": True},
        "rl": {
            "group_size": s.rl_group,
            "prompts_per_step": s.rl_prompts,
            "max_new_tokens": s.rl_max_new_tokens,
            "temperature": s.rl_temperature,
            "max_off_policy_steps": 1,
            "lr": s.rl_lr,
        },
        "actors": {"count": 1, "max_batch": 64, "max_len": s.max_len, "num_cpus": 1},
        "learner": {"processes": 1, "num_cpus": 1, "micro_batch_tokens": 8192},
        "run": {"dir": str(s.out / "rl"), "steps": s.rl_steps, "seed": s.seed, "checkpoint_every": 0},
    }


def rl_stage(s: DemoSettings) -> Path:
    """Write rl.yaml, run `golddiff train` on it in this process, return the final checkpoint."""
    import shutil

    import yaml

    from golddiff.checks import train_hooks
    from golddiff.rl.config import load_train_config
    from golddiff.rl.trainer import train

    path = s.out / "rl.yaml"
    path.write_text(
        "# written by golddiff demo; rerun with: golddiff train rl.yaml\n"
        + yaml.safe_dump(rl_config(s), sort_keys=False)
    )
    shutil.rmtree(s.out / "rl", ignore_errors=True)
    summary = train(load_train_config(path), hooks=train_hooks())
    if summary.last_checkpoint is None:
        raise RuntimeError(f"the RL run in {summary.run_dir} wrote no checkpoint")
    return Path(summary.last_checkpoint)


def eval_stage(s: DemoSettings, model: Path, heldout: list[Task], name: str):
    from golddiff.evaluate import EvalSettings, write_eval
    from golddiff.progress import evaluate_with_progress

    settings = EvalSettings(
        samples=s.eval_samples,
        temperature=s.rl_temperature,
        max_new_tokens=s.eval_max_new_tokens,
        max_len=s.max_len,
        seed=s.seed,
    )
    result = evaluate_with_progress(model, heldout, settings, s.quiet, label=f"eval {name}")
    write_eval(result, s.out / f"eval_{name}.jsonl")
    return result


# ------------------------------------------------------------------------------------------ driver


class _Stages:
    """Times each stage and announces it: `[3/6] sft ...` then its duration."""

    def __init__(self, total: int, quiet: bool) -> None:
        from rich.console import Console

        self.total, self.n, self.seconds = total, 0, {}
        self.console = Console(stderr=True, quiet=quiet)

    def say(self, text: str) -> None:
        self.console.print(f"      {text}")

    def run(self, name: str, what: str, fn: Callable[[], Any]) -> Any:
        self.n += 1
        self.console.print(f"[bold][{self.n}/{self.total}] {name}[/bold]: {what}")
        t0 = time.perf_counter()
        out = fn()
        self.seconds[name] = round(time.perf_counter() - t0, 1)
        self.console.print(f"      done in {self.seconds[name]:.0f}s")
        return out


def run_demo(s: DemoSettings) -> DemoResult:
    from golddiff.tasks import read_tasks_parquet

    t0 = time.perf_counter()
    s.out.mkdir(parents=True, exist_ok=True)
    st, result = _Stages(6, s.quiet), DemoResult()
    result.counts |= st.run(
        "ingest", "example logs + standard-library bug fixes", lambda: ingest_stage(s, st.say)
    )
    result.counts |= st.run("tasks", "tasks with a held-out split", lambda: tasks_stage(s, st.say))
    tasks = read_tasks_parquet(s.out / "tasks.parquet")
    train = [t for t in tasks if t.split == "train"]
    heldout = [t for t in tasks if t.split == "heldout"][: s.eval_tasks]
    sft = st.run("sft", f"{s.sft_steps} steps on {len(train)} gold answers", lambda: sft_stage(s, train))
    rl_ckpt = None
    if s.rl:
        rl_ckpt = st.run(
            "rl", f"Pipeline RL, {s.rl_steps} steps from the SFT checkpoint", lambda: rl_stage(s)
        )
    evals = st.run(
        "eval",
        f"{len(heldout)} held-out tasks x {s.eval_samples} answers",
        lambda: _evals(s, heldout, rl_ckpt),
    )
    seconds = st.seconds
    result.summary = demo_summary(evals, sft, seconds, time.perf_counter() - t0)
    st.run("report", "report.html", lambda: _report(s, evals, result.summary))
    result.stage_seconds = st.seconds
    result.summary |= {"stage_seconds": st.seconds, "minutes": round((time.perf_counter() - t0) / 60, 2)}
    (s.out / "demo_summary.json").write_text(
        json.dumps(result.summary | {"settings": _settings_json(s)}, indent=2) + "\n"
    )
    return result


def _evals(s: DemoSettings, heldout: list[Task], rl_ckpt: Path | None) -> dict[str, Any]:
    evals = {"sft": eval_stage(s, s.out / "sft", heldout, "sft")}
    if rl_ckpt is not None:
        evals["rl"] = eval_stage(s, rl_ckpt, heldout, "rl")
    return evals


def _report(s: DemoSettings, evals: dict[str, Any], summary: dict[str, Any]) -> Path:
    from golddiff.report import build_report

    runs = [s.out / "rl"] if (s.out / "rl" / "metrics.jsonl").exists() else []
    files = [s.out / f"eval_{name}.jsonl" for name in evals]
    extra = {"verdict": summary["verdict"]}
    for name in evals:
        lo, hi = summary[f"heldout_reward_{name}_ci95"]
        value = summary[f"heldout_reward_{name}"]
        extra[f"held-out reward after {name.upper()}"] = f"{value:.3f} (95% CI {lo:.3f} to {hi:.3f})"
    if "rl_minus_sft" in summary:
        lo, hi = summary["rl_minus_sft_ci95"]
        extra["RL − SFT, paired by task"] = f"{summary['rl_minus_sft']:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})"
    extra["held-out tasks"] = str(summary["heldout_n"])
    extra |= {f"{k} stage": f"{v:.0f} s" for k, v in summary["stage_seconds"].items()}
    names = [f"after {n.upper()}" for n in evals]
    return build_report(
        runs, files, s.out / "report.html", title="golddiff demo", extra=extra, eval_names=names
    )


def verdict(summary: dict[str, Any]) -> str:
    """One sentence on what the RL stage did to the held-out results, read off the numbers."""
    if "heldout_reward_rl" not in summary:
        return "SFT only (the RL stage was skipped)."
    lo, hi = summary["rl_minus_sft_ci95"]
    diff = f"RL − SFT = {summary['rl_minus_sft']:+.3f} (95% CI {lo:+.3f} to {hi:+.3f})"
    if lo <= 0:
        return f"RL did not beat SFT beyond the 95% CI: {diff}."
    applied = summary["heldout_applied_sft"], summary["heldout_applied_rl"]
    errors = summary["heldout_format_error_sft"], summary["heldout_format_error_rl"]
    if applied[1] <= applied[0]:
        return (
            f"RL beats SFT ({diff}), but only on format: answers that apply {applied[0]:.0%} -> "
            f"{applied[1]:.0%}, format errors {errors[0]:.0%} -> {errors[1]:.0%}. An answer without a "
            "SEARCH/REPLACE block scores 0 and a broken one -1, so the policy learned to stop writing "
            "blocks it cannot make apply; it did not learn to fix more bugs."
        )
    return (
        f"RL beats SFT ({diff}): answers that apply {applied[0]:.0%} -> {applied[1]:.0%}, exact "
        f"{summary['heldout_exact_sft']:.0%} -> {summary['heldout_exact_rl']:.0%}."
    )


def demo_summary(
    evals: dict[str, Any], sft: dict[str, float], seconds: dict[str, float], total_s: float
) -> dict[str, Any]:
    """The demo's JSON line (stage seconds and minutes are updated once the report is written)."""
    from golddiff.evaluate import paired_diff_ci

    out: dict[str, Any] = {"heldout_n": evals["sft"].summary["n_tasks"]}
    for name, ev in evals.items():
        s = ev.summary
        out[f"heldout_reward_{name}"] = round(s["reward"]["mean"], 4)
        out[f"heldout_reward_{name}_ci95"] = [round(s["reward"]["lo"], 4), round(s["reward"]["hi"], 4)]
        for metric in ("exact", "applied", "format_error", "swerl"):
            out[f"heldout_{metric}_{name}"] = round(s[metric]["mean"], 4)
    if "rl" in evals:
        d = paired_diff_ci(evals["rl"], evals["sft"])
        out["rl_minus_sft"] = round(d["mean"], 4)
        out["rl_minus_sft_ci95"] = [round(d["lo"], 4), round(d["hi"], 4)]
        out["rl_beats_sft"] = bool(d["lo"] > 0)
    out["verdict"] = verdict(out)
    out["sft_loss"] = [round(sft["sft_first_loss"], 3), round(sft["sft_last_loss"], 3)]
    out["stage_seconds"] = dict(seconds)
    out["minutes"] = round(total_s / 60, 2)
    return out


def _settings_json(s: DemoSettings) -> dict[str, Any]:
    return s.model_dump(mode="json")
