"""The demo's stages, each a function of the settings: ingest, tasks, SFT, RL, evaluation.

Every stage reads what the one before wrote under `settings.out` and writes its own files there, so each
can be rerun by hand with the matching command (`golddiff ingest`, `tasks`, `sft`, `train rl.yaml`, `eval`).
"""

from __future__ import annotations

import shutil
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from golddiff.demo.settings import DEMO_SYSTEM_PROMPT, DemoSettings, layers
from golddiff.tasks import Task

EXAMPLES = Path(__file__).parent.parent / "examples"


def ingest_stage(s: DemoSettings, say: Callable[[str], None]) -> dict[str, int]:
    """Example logs + stated edits and bug fixes mined from the standard library → episodes.jsonl."""
    from golddiff.traces import stdlib_bugs, stdlib_edits
    from golddiff.traces.ingest import ingest
    from golddiff.traces.session import IngestReport

    out = s.out / "episodes.jsonl"
    out.unlink(missing_ok=True)
    small = stdlib_bugs.Settings(max_lines=s.fn_lines, max_chars=s.fn_chars, per_file=4, per_function=2)
    edits = stdlib_edits.mine(s.edits, seed=s.seed, settings=small) if s.edits else []
    bugs = stdlib_bugs.mine(s.bugs, seed=s.seed, settings=small) if s.bugs else []
    say(
        f"mined {len(edits)} stated edits and {len(bugs)} bug fixes from the standard library; "
        "reading the example session logs"
    )
    report = ingest([str(EXAMPLES)], out, report=IngestReport(quiet=True), extra_episodes=edits + bugs)
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


def fits(task: Task, tokenizer: Any, max_len: int, answer_tokens: int | None = None) -> bool:
    """Prompt + gold answer within `max_len` tokens, and the gold answer within `answer_tokens`."""
    from golddiff.models import answer_ids, prompt_ids

    answer = len(answer_ids(tokenizer, task.gold[0].answer))
    if answer_tokens is not None and answer > answer_tokens:
        return False
    return len(prompt_ids(tokenizer, task.prompt)) + answer <= max_len


def tasks_stage(s: DemoSettings, say: Callable[[str], None]) -> dict[str, int]:
    """episodes.jsonl → tasks.parquet: held-out split by session, compact prompts, only what fits the
    model's tokens, in task-id order (a hash: families and sources interleave)."""
    from golddiff.episodes import read_episodes
    from golddiff.models import load_tokenizer
    from golddiff.tasks import TaskError, group_key, split_of, task_from_episode, write_tasks_parquet

    tokenizer, kept, counts = load_tokenizer(s.model), [], Counter()
    for ep in read_episodes(s.out / "episodes.jsonl"):
        group = group_key(ep)
        try:
            task = compact_prompt(
                task_from_episode(ep, split_of(group, {"heldout": s.heldout}, s.seed), group)
            )
        except TaskError:
            counts["no_task"] += 1
            continue
        if not fits(task, tokenizer, s.max_len, s.answer_tokens):
            counts["too_long"] += 1
            continue
        counts[task.split] += 1
        kept.append(task)
    kept.sort(key=lambda t: t.task_id)
    write_tasks_parquet(kept, s.out / "tasks.parquet")
    say(
        f"{len(kept)} tasks: {counts['train']} train, {counts['heldout']} held out; left out: "
        f"{counts['too_long']} over {s.max_len} tokens (or an answer over {s.answer_tokens}), "
        f"{counts['no_task']} without a task"
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
        model=s.model,
        steps=s.sft_steps,
        lr=s.sft_lr,
        batch_size=s.sft_batch,
        max_len=s.max_len,
        seed=s.seed,
        threads=s.threads,
        autocast=s.sft_autocast,
        train_layers=layers(s.sft_train_layers),
        warmup_steps=min(10, max(1, s.sft_steps // 8)),
    )
    result = train_sft_with_progress(train, config, s.out / "sft", s.sft_steps, s.quiet)
    return {
        "sft_first_loss": result.first_loss,
        "sft_last_loss": result.last_loss,
        "sft_examples": result.examples,
        "sft_tokens_per_s": result.tokens / max(result.seconds, 1e-9),
    }


def rl_config(s: DemoSettings) -> dict[str, Any]:
    """The `golddiff train` recipe of the demo: Pipeline RL from the SFT checkpoint on the train split."""
    return {
        "mode": "pipeline",
        "model": {
            "name": str(s.out / "sft"),
            "device": "cpu",
            "seed": s.seed,
            "dtype": "auto",  # bf16 where the CPU computes it natively, else fp32
            "learner_dtype": "auto",
        },
        "data": {"tasks": str(s.out / "tasks.parquet"), "split": "train", "shuffle": True},
        "rl": {
            "group_size": s.rl_group,
            "prompts_per_step": s.rl_prompts,
            "max_new_tokens": s.rl_max_new_tokens,
            "temperature": s.rl_temperature,
            # an answer cut off at the token limit scores -1: scored like a finished one, SmolLM2's RL
            # (32 steps) drifted into never ending its answers (231 of 240 held-out answers ran to the cap)
            "unfinished_reward": s.rl_unfinished,
            "max_off_policy_steps": 1,
            "lr": s.rl_lr,
        },
        "actors": {"count": 1, "max_batch": 64, "max_len": s.max_len, "num_cpus": 1},
        "learner": {
            "processes": 1,
            "num_cpus": 1,
            "micro_batch_tokens": 8192,
            "train_layers": layers(s.rl_train_layers),
        },
        "run": {"dir": str(s.out / "rl"), "steps": s.rl_steps, "seed": s.seed, "checkpoint_every": 0},
        # -1 (the real model): no edit fails like a broken answer (golddiff.reward, `no_edit`); at 0, RL
        # from SmolLM2's SFT learned to copy the code unchanged (no-edit 9% -> 24%, applies 28% -> 21%)
        "reward": {"no_edit": s.rl_no_edit, "power": s.rl_reward_power},
    }


def rl_stage(s: DemoSettings) -> Path:
    """Write rl.yaml, run `golddiff train` on it in this process, return the final checkpoint."""
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


def eval_stage(s: DemoSettings, model: str | Path, heldout: list[Task], name: str):
    """`model` on the held-out tasks (K sampled answers each) → eval_<name>.jsonl."""
    from golddiff.evaluate import EvalSettings, write_eval
    from golddiff.progress import evaluate_with_progress

    settings = EvalSettings(
        samples=s.eval_samples,
        temperature=s.eval_temperature,
        max_new_tokens=s.eval_max_new_tokens,
        max_len=s.max_len,
        max_batch=min(256, max(1, len(heldout) * s.eval_samples)),  # every answer in one decode batch
        seed=s.seed,
        threads=s.threads,
    )
    result = evaluate_with_progress(model, heldout, settings, s.quiet, label=f"eval {name}")
    write_eval(result, s.out / f"eval_{name}.jsonl")
    return result
