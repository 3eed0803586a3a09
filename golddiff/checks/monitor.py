"""Drift during a run: each step's mismatch KL and ESS (the learner's `off_policy/*` metrics) against fixed
limits and against their own recent history, so that a slow drift or a sudden jump is said out loud.

    monitor = DriftMonitor()                       # or DriftMonitor(DriftThresholds(max_mismatch_kl=1e-3))
    for step, row in enumerate(metric_rows, 1):
        for warning in monitor.update(step, row):  # also logged on the "golddiff.checks" logger
            print(warning)

No torch: the driver can use it wherever the metrics land.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from statistics import median

from pydantic import ConfigDict

from golddiff.config import Strict

logger = logging.getLogger("golddiff.checks")

KL_KEY, ESS_KEY, LAG_KEY = "off_policy/mismatch_kl", "off_policy/ess", "off_policy/lag_max"


class DriftThresholds(Strict):
    """When a step's off-policy figures deserve a warning."""

    model_config = ConfigDict(frozen=True)

    max_mismatch_kl: float = 5e-2  # k3 KL(sampler ‖ learner) per token, lag included
    max_on_policy_kl: float = 1e-3  # … when every token is fresh (lag_max 0): only numerics can explain it
    min_ess: float = 0.5  # (Σw)² / (nΣw²) before truncation
    jump_factor: float = 10.0  # KL, or 1 − ESS, above this × its running median is a jump
    min_jump_kl: float = 1e-4  # … and only when the KL is at least this (noise around 0 is no jump)
    min_jump_ess_gap: float = 1e-2  # … or 1 − ESS at least this
    window: int = 20  # steps in the running median
    warmup: int = 3  # steps of history before jumps are judged


class DriftMonitor:
    """`update(step, metrics)` returns the warnings for that step (and keeps them in `warnings`); a
    `golddiff.rl.trainer.StepMonitor`."""

    label = "drift"

    def __init__(self, thresholds: DriftThresholds | None = None) -> None:
        self.thresholds = thresholds or DriftThresholds()
        self.kl_history: deque[float] = deque(maxlen=self.thresholds.window)
        self.ess_gap_history: deque[float] = deque(maxlen=self.thresholds.window)
        self.warnings: list[str] = []

    def update(self, step: int, metrics: dict[str, float]) -> list[str]:
        out = []
        if (kl := metrics.get(KL_KEY)) is not None:
            out += self._judge_kl(step, float(kl), metrics.get(LAG_KEY))
        if (ess := metrics.get(ESS_KEY)) is not None:
            out += self._judge_ess(step, float(ess))
        for warning in out:
            logger.warning(warning)
        self.warnings += out
        return out

    def metrics(self) -> dict[str, float]:
        """For the metrics row: how many drift warnings so far."""
        return {"checks/drift_warnings": float(len(self.warnings))}

    def _jumped(self, value: float, history: deque[float], floor: float) -> float | None:
        """The running median when `value` jumped above jump_factor × it, else None."""
        if len(history) < self.thresholds.warmup or value < floor:
            return None
        med = median(history)
        return med if value > self.thresholds.jump_factor * med else None

    def _judge_kl(self, step: int, kl: float, lag_max: float | None) -> list[str]:
        t, out = self.thresholds, []
        on_policy = lag_max == 0
        limit = t.max_on_policy_kl if on_policy else t.max_mismatch_kl
        if not math.isfinite(kl):
            out.append(f"step {step}: mismatch KL is {kl}: the sampler and learner logprobs are broken")
        elif kl > limit and on_policy:
            out.append(
                f"step {step}: mismatch KL {kl:.3g} > {limit:g} with every token fresh (lag 0): sampler and "
                "learner disagree on the same weights (temperature, dtype, masks); run `golddiff doctor`"
            )
        elif kl > limit:
            out.append(
                f"step {step}: mismatch KL {kl:.3g} > {limit:g} (max lag {lag_max}): importance weights are far "
                "from 1; lower the lr or rl.max_off_policy_steps, or run `golddiff doctor` if lag does not explain it"
            )
        elif (med := self._jumped(kl, self.kl_history, t.min_jump_kl)) is not None:
            out.append(
                f"step {step}: mismatch KL jumped to {kl:.3g}, {kl / max(med, 1e-30):.0f}× its median {med:.3g}"
            )
        if math.isfinite(kl):
            self.kl_history.append(kl)
        return out

    def _judge_ess(self, step: int, ess: float) -> list[str]:
        t, out, gap = self.thresholds, [], 1.0 - ess
        if not math.isfinite(ess) or ess < t.min_ess:
            out.append(
                f"step {step}: ESS {ess:.3g} < {t.min_ess:g}: a few tokens carry most of the importance weight"
            )
        elif (med := self._jumped(gap, self.ess_gap_history, t.min_jump_ess_gap)) is not None:
            out.append(
                f"step {step}: ESS fell to {ess:.3g} (1 − ESS {gap / max(med, 1e-30):.0f}× its median)"
            )
        if math.isfinite(ess):
            self.ess_gap_history.append(gap)
        return out
