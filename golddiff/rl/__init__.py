"""Pipeline RL (and the conventional sync baseline) on Ray: actors, learner, loss, weights, lag, checkpoints.

    golddiff train configs/demo.yaml                  # CPU, the built-in tiny model, a synthetic task
    golddiff train configs/qwen-1.5b.yaml             # GPUs: actors and learner placed by Ray
    golddiff train --resume runs/demo                 # continue from the last complete checkpoint

Modules, in the order data flows:
- `config`: the `TrainConfig` schema (pydantic, YAML, `--a.b=value` overrides); no torch.
- `dataset`, `synthetic`, `data`: prompt datasets (tasks.parquet or a built-in synthetic task), their
  rewards, which one a run uses and the order prompts are drawn in; prompts are tokenized by
  `golddiff.models.prompt_ids`, as SFT and eval do;
  `source`: the prompt source that hands prompts to actors under the lag budget (a Ray actor, no torch).
- `messages`: the typed messages that travel between processes (each has a `kind`).
- `actor`: a generation actor: a `golddiff.engine.StepEngine`, admission control, rewards, groups out,
  weights in.
- `batch`, `loss`: rollouts → padded training tensors; advantages, truncated-IS policy gradient, metrics.
- `learner`: one optimizer step per call = one new weight version (FSDP2 when several processes).
- `transport`: weights from learner to actors (Ray object store on CPU; a broadcast group between GPUs).
- `ledger`, `checkpoint`, `metrics`, `rundir`: the run dir (consumed prompts, atomic checkpoints,
  metrics.jsonl, resume state).
- `cluster`: the Ray processes (placement, restarts, weight group); `devices`: device and threads.
- `trainer`: the driver: starts everything on Ray and runs the loop; guards (the preflight checks, the drift
  monitor) plug in as `Hooks`, so rl imports nothing from `golddiff.checks`; `golddiff.commands.train` is
  its CLI.
- `bench/pipeline.py` compares pipeline and sync side by side on 2 CPU cores.
"""
