"""Causality: the logits at position t must not depend on any token after t, on another row of the batch,
or on another document packed into the same row.

    from golddiff.checks.causality import check_causality
    result = check_causality(model, dtype=torch.bfloat16)    # wherever the model is: CPU or GPU

How: run a forward pass, change every token after a random position t of one row, run it again; the logits
at positions ≤ t of that row, and everywhere in the other rows (documents), must not move. A causal model
computes them bit for bit the same (same shapes, masked keys weigh exactly 0), so the tolerance is tight:
2 ulps of the largest logit in the compute dtype, or 4× the run-to-run noise of the same forward pass,
whichever is larger. Four paths, each a probe:
- padded: the learner's forward (Hugging Face, right-padded rows, attention mask, autocast to `dtype`);
- hf_packed: several documents in one row, position ids restarting at 0 (HF's block-causal mask); a model
  whose forward ignores packing only warns (golddiff's learner pads, it does not pack);
- engine_prefill, engine_packed: the engine's prefill of one prompt (causal SDPA) and of several prompts
  packed together (its block-causal mask), as the actors run them, in `engine_dtype`; with vLLM as the
  engine, vllm_prefill and vllm_batched instead (`golddiff.checks.causality_vllm`).
A leak (a wrong mask, expert-choice routing, any layer mixing along the sequence) lets the learner see
tokens it will not have when it samples: training loss falls while the model learns nothing usable.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from golddiff.checks.common import compute_in, device_of, dtype_name, evaluating, in_dtype, param_dtype
from golddiff.checks.probe import SEVERITY, Probe, ProbeSetup
from golddiff.checks.result import CheckResult, fmt, worst

Forward = Callable[[torch.Tensor], torch.Tensor]  # ids (T,) → fp32 logits (T, V), documents fixed


def _probe_padded(model: nn.Module, s: ProbeSetup, batch: int, length: int) -> Probe:
    """Right-padded rows through the HF forward with an attention mask (the learner's path)."""
    lengths = torch.randint(length // 2, length + 1, (batch,), generator=s.gen)  # (B,)
    lengths[0] = length
    ids = s.randint(0, s.vocab, (batch, length))  # (B, T)
    mask = (torch.arange(length)[None, :] < lengths[:, None]).long().to(s.device)  # (B, T)
    real = mask.bool()[..., None]  # (B, T, 1)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with compute_in(model, s.dtype):
            return model(input_ids=x, attention_mask=mask, use_cache=False).logits.float()  # (B, T, V)

    base = forward(ids)
    probe = Probe("padded", scale=float(base.abs().amax()))
    probe.floor = float(((forward(ids) - base).abs() * real).amax())
    for trial in range(s.trials):
        row = trial % batch
        t = int(torch.randint(0, int(lengths[row]) - 1, (1,), generator=s.gen))
        changed = ids.clone()
        changed[row] = s.change_after(ids[row], t + 1)
        delta = (forward(changed) - base).abs() * real  # (B, T, V), 0 on padding
        others = torch.arange(batch, device=s.device) != row  # (B,)
        probe.future_leak = max(probe.future_leak, float(delta[row, : t + 1].amax()))
        probe.signal = max(probe.signal, float(delta[row, t + 1 :].amax()))
        if others.any():
            probe.cross_leak = max(probe.cross_leak, float(delta[others].amax()))
    return s.finish(probe)


def _hf_packed_forward(model: nn.Module, dtype: torch.dtype, lengths: list[int]) -> Forward:
    """Documents packed in one row, position ids restarting at 0 per document, no attention mask."""
    positions = torch.cat([torch.arange(n) for n in lengths])[None].to(device_of(model))  # (1, T)

    def forward(ids: torch.Tensor) -> torch.Tensor:
        with compute_in(model, dtype):
            out = model(input_ids=ids[None], position_ids=positions, use_cache=False)
        return out.logits[0].float()  # (T, V)

    return forward


def _engine_forward(model: nn.Module, lengths: list[int]) -> Forward:
    """The engine's packed prefill: its runner, KV cache and block-causal `PrefillAttention`."""
    from golddiff.engine.attention import PrefillAttention
    from golddiff.engine.kvcache import KVCache
    from golddiff.engine.runner import ModelRunner

    runner, device = ModelRunner(model), device_of(model)
    sizes = torch.tensor(lengths, device=device)  # (S,)
    segments = torch.repeat_interleave(torch.arange(len(lengths), device=device), sizes)  # (T,)
    starts = torch.cumsum(sizes, 0) - sizes  # (S,)
    positions = torch.arange(int(sizes.sum()), device=device) - starts[segments]  # (T,)

    def forward(ids: torch.Tensor) -> torch.Tensor:
        r = runner
        cache = KVCache(r.n_layers, len(lengths), r.n_kv_heads, max(lengths), r.head_dim, r.dtype, device)
        attend = PrefillAttention(cache, r, segments, positions, segments, len(lengths))
        return r.logits(r.forward(ids, positions, attend))  # (T, V) fp32

    return forward


def _probe_packed(name: str, make_forward: Callable[[], Forward], lengths: list[int], s: ProbeSetup) -> Probe:
    """Change the tokens after t (future leak), and the first document (leak into the others). A path the
    model does not support (an architecture the engine cannot run, a forward without position ids) is
    reported as not probed rather than crashing."""
    try:
        forward = make_forward()
        ids = s.randint(0, s.vocab, (sum(lengths),))  # (T,)
        base = forward(ids)  # (T, V)
        floor = float((forward(ids) - base).abs().amax())
    except (NotImplementedError, TypeError, ValueError) as e:
        return Probe(name, error=f"{type(e).__name__}: {e}")
    probe = Probe(name, scale=float(base.abs().amax()), floor=floor)
    for _ in range(s.trials):
        t = int(torch.randint(0, len(ids) - 1, (1,), generator=s.gen))
        delta = (forward(s.change_after(ids, t + 1)) - base).abs()  # (T, V)
        probe.future_leak = max(probe.future_leak, float(delta[: t + 1].amax()))
        probe.signal = max(probe.signal, float(delta[t + 1 :].amax()))
    if len(lengths) > 1:
        first = lengths[0]
        changed = torch.cat([s.change_after(ids[:first], 0), ids[first:]])  # (T,)
        probe.cross_leak = float((forward(changed) - base)[first:].abs().amax())
    return s.finish(probe)


def _document_lengths(length: int, documents: int, gen: torch.Generator) -> list[int]:
    """`documents` lengths, multiples of 4, summing to `length`."""
    cuts = torch.randperm(length // 4 - 1, generator=gen)[: documents - 1].add(1).mul(4).sort().values
    edges = [0, *cuts.tolist(), length]
    return [b - a for a, b in zip(edges, edges[1:])]


def check_causality(
    model: nn.Module,
    dtype: torch.dtype | None = None,
    engine_dtype: torch.dtype | None = None,
    *,
    trials: int = 4,
    batch: int = 3,
    length: int = 48,
    documents: int = 3,
    engine: bool = True,
    seed: int = 0,
    scorer: Callable[..., list[list[float]]] | None = None,
) -> CheckResult:
    """Probe every path (module docstring) `trials` times; `dtype` is the learner's compute dtype (autocast
    over the model's weights), `engine_dtype` the actors' (the model is copied in it if need be). `scorer`
    (e.g. `VLLMEngine.score`, holding the model's weights in `engine_dtype`) replaces the built-in engine's
    probes by `golddiff.checks.causality_vllm`'s."""
    dtype = dtype or param_dtype(model)
    engine_dtype = engine_dtype or dtype
    vocab = model.get_output_embeddings().weight.shape[0]
    s = ProbeSetup(dtype, vocab, trials, torch.Generator().manual_seed(seed), device_of(model))
    lengths = _document_lengths(length, documents, s.gen)
    with evaluating(model):
        probes = [
            _probe_padded(model, s, batch, length),
            _probe_packed("hf_packed", lambda: _hf_packed_forward(model, dtype, lengths), lengths, s),
        ]
    if engine and scorer is not None:
        from golddiff.checks.causality_vllm import vllm_probes

        probes += vllm_probes(scorer, lengths, ProbeSetup(engine_dtype, vocab, trials, s.gen, s.device))
    elif engine:
        probes += _engine_probes(in_dtype(model, engine_dtype), lengths, s, engine_dtype)
    return _verdict(probes, dtype, engine_dtype if engine else None)


def _engine_probes(model: nn.Module, lengths: list[int], s: ProbeSetup, dtype: torch.dtype) -> list[Probe]:
    s = ProbeSetup(dtype, s.vocab, s.trials, s.gen, s.device)
    whole = [sum(lengths)]
    with evaluating(model):
        return [
            _probe_packed("engine_prefill", lambda: _engine_forward(model, whole), whole, s),
            _probe_packed("engine_packed", lambda: _engine_forward(model, lengths), lengths, s),
        ]


_MEANING = {
    "future": "position t sees a token after t ({paths}): the learner trains on the future it will not have "
    "when it samples",
    "cross": "one row or packed document moves another ({paths}): samples leak into each other",
    "packing": "the Hugging Face forward ignores packed position ids ({paths}); golddiff's learner pads "
    "rather than packs, so runs are unaffected",
    "vacuous": "changing the tokens after t moved nothing ({paths}): the probe proves nothing",
    "error": "some paths could not be probed: {paths}",
}
_ADVICE = {
    "future": "fix the attention mask / remove sequence-mixing layers (expert-choice routing) before training",
    "cross": "look for batch-level mixing (batch norm, routing over the batch, a shared mask)",
    "packing": "do not pack documents for this model",
    "vacuous": "check that the model reads its input ids",
    "error": "",
}


def _verdict(probes: list[Probe], dtype: torch.dtype, engine_dtype: torch.dtype | None) -> CheckResult:
    names = {
        k: [p.name + (f" ({p.error})" if p.error else "") for p in probes if k in p.problems()]
        for k in SEVERITY
    }
    found = [k for k in SEVERITY if names[k]]
    probed = [p for p in probes if not p.error]
    leak = max((p.leak for p in probed), default=0.0)
    tol = min((p.tol for p in probed), default=0.0)
    figures: dict = {"max_leak": leak, "dtype": dtype_name(dtype)}
    if engine_dtype is not None:
        figures["engine_dtype"] = dtype_name(engine_dtype)
    for p in probes:
        fields = ("error",) if p.error else ("future_leak", "cross_leak", "signal", "floor", "tol")
        figures[p.name] = {k: getattr(p, k) for k in fields}
    message = "; ".join(_MEANING[k].format(paths=", ".join(names[k])) for k in found)
    clean = f"logits at ≤ t never moved when tokens after t changed ({', '.join(p.name for p in probed)})"
    return CheckResult(
        name="causality",
        status=worst([SEVERITY[k] for k in found]),
        headline=f"max leak {fmt(leak)} (tol {fmt(tol)}), {len(probed)} paths",
        message=message or clean,
        advice=" ".join(_ADVICE[k] for k in found if _ADVICE[k]),
        figures=figures,
        thresholds={p.name: p.tol for p in probed},
    )
