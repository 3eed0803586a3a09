"""What a causality probe measured (`Probe`) and what every probe shares (`ProbeSetup`): used by
`golddiff.checks.causality` (the learner's forward and the built-in engine's prefill) and
`golddiff.checks.causality_vllm` (vLLM's prefill, through logprobs)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from golddiff.checks.common import eps
from golddiff.checks.result import Status


@dataclass
class Probe:
    """What one path measured: the largest logit change where none is allowed, and the change after t."""

    name: str
    future_leak: float = 0.0  # max |Δ logit| at positions ≤ t of the changed row
    cross_leak: float = 0.0  # max |Δ logit| in other rows / other documents
    signal: float = 0.0  # max |Δ logit| after t: the change must matter, or the probe proves nothing
    floor: float = 0.0  # run-to-run noise of the same forward
    scale: float = 0.0  # max |logit|
    tol: float = 0.0
    error: str = ""  # why the path could not be probed

    def problems(self) -> list[str]:
        """Which of `SEVERITY`'s problems this path showed."""
        if self.error:
            return ["error"]
        out = ["future"] if self.future_leak > self.tol else []
        if self.cross_leak > self.tol:
            out.append("packing" if self.name == "hf_packed" else "cross")
        return out + (["vacuous"] if self.signal == 0 else [])

    @property
    def leak(self) -> float:
        """The leak that fails a run (HF's packing is not used by golddiff's learner)."""
        return max(self.future_leak, 0.0 if self.name == "hf_packed" else self.cross_leak)


# future: t sees after t; cross: rows or the engine's packed prompts see each other; packing: HF's forward
# ignores packed position ids; vacuous: the change after t moved nothing; error: the path could not run
SEVERITY: dict[str, Status] = {
    "future": "fail",
    "cross": "fail",
    "packing": "warn",
    "vacuous": "warn",
    "error": "warn",
}


@dataclass
class ProbeSetup:
    """What every probe shares: compute dtype, vocabulary size, trials, RNG and device."""

    dtype: torch.dtype
    vocab: int
    trials: int
    gen: torch.Generator
    device: torch.device

    def randint(self, low: int, high: int, shape: tuple[int, ...]) -> torch.Tensor:
        return torch.randint(low, high, shape, generator=self.gen).to(self.device)

    def change_after(self, ids: torch.Tensor, start: int) -> torch.Tensor:
        """A copy of ids (.., T) whose tokens at columns ≥ start all differ from the originals."""
        out = ids.clone()
        out[..., start:] = (
            out[..., start:] + self.randint(1, self.vocab, out[..., start:].shape)
        ) % self.vocab
        return out

    def finish(self, probe: Probe) -> Probe:
        probe.tol = max(2 * eps(self.dtype) * max(probe.scale, 1.0), 4 * probe.floor)
        return probe
