"""Causality probes of an engine that reports logprobs rather than logits: vLLM (`golddiff doctor --engine
vllm`). The same question as `golddiff.checks.causality` asks of the built-in engine's prefill, asked of
vLLM's batched prefill through `VLLMEngine.score` (prompt logprobs, untempered):

- vllm_prefill: one sequence; change every token after a random position t; the logprobs of the tokens at
  positions ≤ t (each computed from the positions before it) must not move, those after t must;
- vllm_batched: several sequences prefilled in the same vLLM step (one flattened token batch, per-sequence
  attention); change the first entirely; the others must not move.

Tolerance as the logit probes: 2 ulps of the largest |logprob| in the engine's dtype, or 4× the run-to-run
noise of scoring the same tokens twice, whichever is larger.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from golddiff.checks.probe import Probe, ProbeSetup

Scorer = Callable[[Sequence[Sequence[int]]], list[list[float]]]  # sequences → logprobs of tokens 1..T−1


def _scores(score: Scorer, sequences: list[torch.Tensor]) -> list[torch.Tensor]:
    return [torch.tensor(x) for x in score([s.tolist() for s in sequences])]  # each (T−1,)


def probe_prefill(score: Scorer, length: int, s: ProbeSetup) -> Probe:
    """One sequence of `length` tokens: future leak and signal over `s.trials` random positions."""
    ids = s.randint(0, s.vocab, (length,)).cpu()  # (T,)
    (base,) = _scores(score, [ids])  # (T−1,): entry i is log p(x[i+1] | x[:i+1])
    (again,) = _scores(score, [ids])
    probe = Probe("vllm_prefill", scale=float(base.abs().amax()), floor=float((again - base).abs().amax()))
    for _ in range(s.trials):
        t = int(torch.randint(1, length - 2, (1,), generator=s.gen))
        (changed,) = _scores(score, [s.change_after(ids, t + 1)])
        delta = (changed - base).abs()  # (T−1,)
        probe.future_leak = max(probe.future_leak, float(delta[:t].amax()))  # targets x[1..t]: unchanged
        probe.signal = max(probe.signal, float(delta[t + 1 :].amax()))  # inputs after t changed
    return s.finish(probe)


def probe_batched(score: Scorer, lengths: list[int], s: ProbeSetup) -> Probe:
    """Sequences of `lengths` scored together; the first replaced by other tokens must not move the rest."""
    docs = [s.randint(0, s.vocab, (n,)).cpu() for n in lengths]
    base, again = _scores(score, docs), _scores(score, docs)
    probe = Probe(
        "vllm_batched",
        scale=max(float(b.abs().amax()) for b in base),
        floor=max(float((a - b).abs().amax()) for a, b in zip(again, base)),
    )
    changed = _scores(score, [s.change_after(docs[0], 0), *docs[1:]])
    probe.cross_leak = max(float((c - b).abs().amax()) for c, b in zip(changed[1:], base[1:]))
    probe.signal = float((changed[0] - base[0]).abs().amax())
    return s.finish(probe)


def vllm_probes(score: Scorer, lengths: list[int], s: ProbeSetup) -> list[Probe]:
    """Both probes; a path that cannot run is reported as not probed (as the other engine probes are)."""
    probes = []
    for name, run in (
        ("vllm_prefill", lambda: probe_prefill(score, sum(lengths), s)),
        ("vllm_batched", lambda: probe_batched(score, lengths, s)),
    ):
        try:
            probes.append(run())
        except (RuntimeError, ValueError) as e:
            probes.append(Probe(name, error=f"{type(e).__name__}: {e}"))
    return probes
