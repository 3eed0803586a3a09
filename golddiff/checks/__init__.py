"""Guards against the failures that silently ruin training runs, before a run and during it.

    golddiff doctor --tiny                         # every check on the built-in tiny model, CPU, fp32
    golddiff doctor --model runs/x/checkpoints/step_50 --config configs/qwen-1.5b.yaml --dtype bf16 --device cuda

    from golddiff.checks import preflight, run_checks, train_hooks, DriftMonitor
    results = preflight(model, tokenizer, cfg)     # the cheap checks; raises CheckFailed on a failure
    warnings = DriftMonitor().update(step, metrics_row)
    train(cfg, hooks=train_hooks())                # golddiff.rl.trainer.train with both guards plugged in

The checks (each a function returning a `CheckResult`: status pass/warn/fail, figures, thresholds, message,
advice), one module each:
- `causality`: logits at positions ≤ t do not move when the tokens after t change (learner forward, padded
  and packed; the engine's prefill: the built-in engine's, or vLLM's with `--engine vllm`), nor when
  another row or packed document changes;
- `tokens`: every token a step should train on is in the loss exactly once or reported as truncated, and
  the loss normaliser counts the tokens the loss holds;
- `precision`: the step's reductions (loss, gradient accumulation, all-reduce, norm) in the dtypes the run
  uses vs fp64: relative error, overflow, underflow;
- `drift`: the engine's (built-in or vLLM) sampling logprobs vs the learner's on the same tokens and
  weights (RMS, mean |Δ|,
  k3 mismatch KL, ESS, and the temperature that explains the engine's numbers);
- `monitor`: `DriftMonitor`, the same KL and ESS watched every training step.
CPU or GPU: the checks run wherever the model is. This module imports no torch until a check runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from golddiff.checks.monitor import DriftMonitor, DriftThresholds
from golddiff.checks.result import CheckFailed, CheckResult, Status, worst

__all__ = [
    "CHECKS",
    "CheckFailed",
    "CheckResult",
    "DriftMonitor",
    "DriftThresholds",
    "Status",
    "preflight",
    "run_checks",
    "train_hooks",
    "worst",
]

CHECKS = ("causality", "tokens", "precision", "drift")


@dataclass
class _Run:
    """One model and config, and a method per check with the run's settings filled in."""

    model: Any
    tokenizer: Any
    config: Any  # a TrainConfig
    engine_dtype: Any
    learner_dtype: Any
    quick: bool
    seed: int
    engine: str = "builtin"  # the actors' engine: builtin | vllm
    _vllm: Any = None

    def vllm_engine(self) -> Any:
        """One `VLLMEngine` over the model in the engine dtype, shared by the causality and drift checks."""
        if self._vllm is None:
            from golddiff.checks.common import in_dtype
            from golddiff.engine.vllm import VLLMEngine

            model = in_dtype(self.model, self.engine_dtype)
            self._vllm = VLLMEngine(model, self.tokenizer, max_batch=16, max_len=256, seed=self.seed)
        return self._vllm

    def close(self) -> None:
        if self._vllm is not None:
            self._vllm.close()
            self._vllm = None

    def causality(self) -> CheckResult:
        from golddiff.checks.causality import check_causality

        trials = 2 if self.quick else 4
        # vLLM's prefill is probed by `golddiff doctor --engine vllm`, not at every run's start (it is slow
        # to build); the preflight then probes the learner's paths only
        vllm = self.engine == "vllm"
        return check_causality(
            self.model, self.learner_dtype, self.engine_dtype, trials=trials, seed=self.seed,
            engine=not (vllm and self.quick), scorer=self.vllm_engine().score if vllm and not self.quick else None,
        )  # fmt: skip

    def tokens(self) -> CheckResult:
        from golddiff.checks.common import pad_id
        from golddiff.checks.tokens import check_token_accounting

        cfg = self.config
        return check_token_accounting(
            pad_id(self.tokenizer),
            cfg.learner_max_len,
            normaliser=lambda rows: cfg.loss_normaliser(
                sum(sum(r.train) for r in rows)
            ),  # the learner's rule
            per_token_normaliser=cfg.rl.loss_norm == "tokens",
            world=cfg.learner.processes,
            micro_batch_tokens=cfg.learner.micro_batch_tokens,
            seed=self.seed,
        )

    def precision(self) -> CheckResult:
        from golddiff.checks.precision import check_precision, reduction_plan, step_shape

        plan, shape = reduction_plan(self.model, self.config), step_shape(self.config)
        return check_precision(plan, shape, self.learner_dtype, self.seed)

    def drift(self) -> CheckResult:
        from golddiff.checks.drift import check_drift

        t = self.config.rl.temperature  # one temperature on both sides, as the run uses it
        engine = self.vllm_engine() if self.engine == "vllm" else None
        return check_drift(
            self.model, self.tokenizer, engine_dtype=self.engine_dtype, learner_dtype=self.learner_dtype,
            engine_temperature=t, learner_temperature=t, seed=self.seed, engine=engine,
        )  # fmt: skip


def run_checks(
    model: Any,
    tokenizer: Any,
    config: Any,
    *,
    engine_dtype: Any = None,
    learner_dtype: Any = None,
    only: tuple[str, ...] = CHECKS,
    quick: bool = False,
    seed: int = 0,
    engine: str | None = None,
) -> list[CheckResult]:
    """Run the checks in `only` on `model` (the learner's weights, normally fp32) for `config` (a
    TrainConfig). Dtypes default to the config's: `model.dtype` for the engine, `model.learner_dtype` for the
    learner's compute; the engine (builtin | vllm) to the config's `actors.engine`; a check's figures are
    what the run would see with them."""
    from golddiff.config import torch_dtype

    unknown = [name for name in only if name not in CHECKS]
    if unknown:
        raise ValueError(f"unknown check(s) {', '.join(unknown)}; expected some of {', '.join(CHECKS)}")
    engine_dtype = torch_dtype(engine_dtype or config.model.dtype)
    learner_dtype = torch_dtype(learner_dtype or config.model.learner_dtype)
    run = _Run(
        model, tokenizer, config, engine_dtype, learner_dtype, quick, seed, engine or config.actors.engine
    )
    try:
        return [getattr(run, name)() for name in only]
    finally:
        run.close()


def preflight(model: Any, tokenizer: Any, config: Any, raise_on_fail: bool = True) -> list[CheckResult]:
    """The cheap checks for the start of `golddiff train`, on the learner's model before it is sharded:
    causality (the engine's masks probed with the learner's own weights, so the model is not copied), token
    accounting, precision; about a second for the tiny model on CPU. Raises `CheckFailed` (its message names
    each failure and what to do) when one fails and `raise_on_fail`; otherwise returns every result."""
    from golddiff.checks.common import param_dtype

    only = ("causality", "tokens", "precision")
    results = run_checks(model, tokenizer, config, engine_dtype=param_dtype(model), only=only, quick=True)
    if raise_on_fail and any(r.failed for r in results):
        raise CheckFailed(results)
    return results


def train_hooks(on_step: Any = None) -> Any:
    """The guards `golddiff train` (and the demo) run with, as `golddiff.rl.trainer.Hooks`: `preflight`
    on the learner's model before step 1 (when `run.preflight`) and a `DriftMonitor` on every step."""
    from golddiff.rl.trainer import Hooks

    return Hooks(on_step=on_step, preflight=preflight, monitors=[DriftMonitor()])
