"""The built-in generation engine: continuous batching over a static KV cache, with in-flight weight updates.

    engine = BuiltinEngine(model, tokenizer, max_batch=32, max_len=1024)
    engine.add_request(Request(prompt_ids, SamplingParams(temperature=1.0, max_new_tokens=256, n=4)))
    while engine.has_work():
        for completion in engine.step():      # one decode step for every active slot
            ...
        engine.update_weights(new_state_dict, version=7)   # any thread; applied before the next step

`generate(requests)` is the same loop as an iterator. Each step: (1) apply queued weight updates (copy in
place; the KV cache of sequences in flight is kept, or recomputed with `recompute_kv=True`), (2) admit
waiting samples into free slots and prefill their prompts (packed, one prefill per prompt shared by its n
samples), (3) one decode forward over the occupied slots, each attending to its own cache row, (4) free the
slots of finished samples at once. Every token carries its fp32 logprob and the weight version that made it.

Runs on CPU or GPU (wherever the model is). Thread safety: `add_request` and `update_weights` may be
called from any thread; `step`/`generate` from one. `torch.set_num_threads` is left to the caller.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from time import perf_counter
from typing import Any

import torch
from torch import nn

from golddiff.engine.attention import DecodeAttention, PrefillAttention
from golddiff.engine.kvcache import KVCache
from golddiff.engine.runner import ModelRunner
from golddiff.engine.sampling import sample
from golddiff.engine.slots import SlotInfo, SlotTable
from golddiff.engine.types import Completion, Request, SamplingParams, Timings
from golddiff.engine.weights import (
    PendingUpdate,
    StateDictOrRef,
    UpdateQueue,
    copy_weights,
    live_tensors,
    resolve_state_dict,
)


def eos_ids(tokenizer: Any, model: nn.Module | None) -> list[int]:
    """The tokenizer's EOS and the model's generation-config EOS ids (chat models often have several)."""
    ids: list[int] = []
    generation_config = getattr(model, "generation_config", None)
    for eos in (getattr(tokenizer, "eos_token_id", None), getattr(generation_config, "eos_token_id", None)):
        ids += [] if eos is None else [eos] if isinstance(eos, int) else list(eos)
    return sorted(set(ids))


@dataclass
class _Counters:
    tokens: int = 0
    steps: int = 0
    decode_steps: int = 0
    prefill_tokens: int = 0
    occupied: int = 0  # occupied slots summed over decode steps
    compactions: int = 0
    updates: int = 0
    busy_s: float = 0.0
    update_s: float = 0.0
    update_s_last: float = 0.0
    recompute_s: float = 0.0


class BuiltinEngine:
    """Continuous-batching generation for one HF causal LM (see the module docstring for the loop); a
    `golddiff.engine.protocol.StepEngine`."""

    def __init__(
        self,
        model: nn.Module,
        tokenizer: Any,
        max_batch: int = 32,
        max_len: int = 1024,
        *,
        seed: int = 0,
        weight_version: int = 0,
        recompute_kv: bool = False,
        prefill_tokens: int = 2048,
    ) -> None:
        """max_len counts prompt + generated tokens per slot; prefill_tokens caps one packed prefill."""
        self.runner = ModelRunner(model.eval())
        if max_len > self.runner.max_positions:
            raise ValueError(f"max_len {max_len} exceeds the model's {self.runner.max_positions} positions")
        self.tokenizer, self.max_batch, self.max_len = tokenizer, max_batch, max_len
        self.recompute_kv, self.prefill_tokens = recompute_kv, prefill_tokens
        self.weight_version = weight_version
        self.device = self.runner.head.weight.device
        r = self.runner
        self.cache = KVCache(r.n_layers, max_batch, r.n_kv_heads, max_len, r.head_dim, r.dtype, self.device)
        self.slots = SlotTable(max_batch, max_len, self.device)
        self.generator = torch.Generator(device=self.device).manual_seed(seed)
        self.eos_ids = eos_ids(tokenizer, model)
        self._waiting: deque[tuple[Request, int, float]] = deque()
        self._lock = threading.Lock()
        self._updates = UpdateQueue()
        self._live = live_tensors(model)
        self._counters = _Counters()
        self._versions_seen: set[int] = set()
        self._t_start: float | None = None

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
        ids, vocab = request.prompt_ids, self.runner.head.weight.shape[0]
        if not 0 < len(ids) < self.max_len:
            raise ValueError(f"prompt of {len(ids)} tokens; the engine takes 1 to {self.max_len - 1}")
        if min(ids) < 0 or max(ids) >= vocab:
            raise ValueError(f"prompt token ids must be in [0, {vocab}) for this model")
        arrival = perf_counter()
        with self._lock:
            self._waiting.extend((request, i, arrival) for i in range(request.sampling.n))
        return request.request_id

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]:
        """Queue `requests`, then step until nothing is left, yielding completions as they finish
        (including those of requests added by others while it runs)."""
        for request in requests:
            self.add_request(request)
        while self.has_work():
            yield from self.step()

    def update_weights(self, weights: StateDictOrRef, version: int, recompute_kv: bool | None = None) -> None:
        """Queue new weights (mapping, safetensors path, or callable); applied before the next decode step."""
        recompute = self.recompute_kv if recompute_kv is None else recompute_kv
        self._updates.put(PendingUpdate(weights, int(version), recompute))

    def stats(self) -> dict[str, Any]:
        """Throughput (tokens/s over the time spent in `step`, and over wall time since the first step),
        mean slot occupancy over decode steps, weight versions used, weight-update count and time."""
        c = self._counters
        wall = perf_counter() - self._t_start if self._t_start else 0.0
        return {
            "tokens_generated": c.tokens,
            "tokens_per_s": c.tokens / c.busy_s if c.busy_s else 0.0,
            "wall_tokens_per_s": c.tokens / wall if wall else 0.0,
            "steps": c.steps,
            "decode_steps": c.decode_steps,
            "prefill_tokens": c.prefill_tokens,
            "slot_occupancy": c.occupied / max(1, c.decode_steps * self.max_batch),
            "active": len(self.slots.used()),
            "waiting": len(self._waiting),
            "weight_version": self.weight_version,
            "versions_seen": sorted(self._versions_seen),
            "weight_updates": c.updates,
            "weight_update_s": c.update_s,
            "weight_update_s_last": c.update_s_last,
            "recompute_kv_s": c.recompute_s,
            "compactions": c.compactions,
            "kv_cache_bytes": self.cache.nbytes,
        }

    # ---- the loop --------------------------------------------------------------------------------------
    def has_work(self) -> bool:
        return bool(self._waiting) or bool(self.slots.used()) or len(self._updates) > 0

    def step(self) -> list[Completion]:
        """Apply queued weight updates, admit and prefill waiting samples, run one decode step for all
        occupied slots; return the samples that finished."""
        t0 = perf_counter()
        self._t_start = self._t_start or t0
        self._apply_weight_updates()
        with torch.inference_mode():
            finished = self._admit()
            self._compact()
            finished += self._decode()
        self._counters.steps += 1
        self._counters.busy_s += perf_counter() - t0
        return finished

    def _apply_weight_updates(self) -> None:
        """Copy queued weights in, in order; then re-prefill sequences in flight once if any update asked."""
        updates = self._updates.take()
        for update in updates:
            t0 = perf_counter()
            copy_weights(self._live, resolve_state_dict(update.weights))
            self.runner.refresh()
            self.weight_version = update.version
            self._counters.updates += 1
            self._counters.update_s_last = perf_counter() - t0
            self._counters.update_s += self._counters.update_s_last
        if any(update.recompute_kv for update in updates):
            t0 = perf_counter()
            with torch.inference_mode():
                self._recompute_kv()
            self._counters.recompute_s += perf_counter() - t0

    def _take_waiting(self, n: int) -> list[tuple[Request, int, float]]:
        with self._lock:
            return [self._waiting.popleft() for _ in range(min(n, len(self._waiting)))]

    def _admit(self) -> list[Completion]:
        """Put waiting samples into free slots, prefill each prompt once, sample every first token."""
        free = self.slots.free()
        taken = self._take_waiting(len(free))
        if not taken:
            return []
        now = perf_counter()
        groups: list[list[int]] = []  # slots per request, prompt prefilled into the first
        for slot, (request, index, arrival) in zip(free, taken):
            self._start(slot, request, index, arrival, now)
            if groups and self.slots.info[groups[-1][0]].request is request:
                groups[-1].append(slot)
            else:
                groups.append([slot])
        hidden = self._prefill([(g[0], self.slots.info[g[0]].request.prompt_ids) for g in groups])  # (G, C)
        for g in groups:
            for sibling in g[1:]:
                self.cache.copy_slot(g[0], sibling, self.slots.info[g[0]].prompt_len)
        logits = self.runner.logits(hidden)  # (G, V)
        which = torch.tensor([gi for gi, g in enumerate(groups) for _ in g], device=self.device)  # (R,)
        rows = torch.tensor([slot for g in groups for slot in g], device=self.device)  # (R,)
        tokens, logprobs = self._sample(rows, logits[which])
        first_token = perf_counter()
        for slot in rows.tolist():
            self.slots.info[slot].first_token = first_token
        return self._record(rows, tokens, logprobs)

    def _start(self, slot: int, request: Request, index: int, arrival: float, now: float) -> None:
        sampling = request.sampling
        stop_ids = list(sampling.stop_token_ids) + ([] if sampling.ignore_eos else self.eos_ids)
        tail = max((len(s.encode()) for s in sampling.stop_strings), default=0)
        info = SlotInfo(request, index, len(request.prompt_ids), arrival, now, stop_tail=tail)
        end_len = min(len(request.prompt_ids) + sampling.max_new_tokens, self.max_len)
        self.slots.start(slot, info, stop_ids, end_len)

    def _prefill(self, seqs: list[tuple[int, list[int]]], need_hidden: bool = True) -> torch.Tensor | None:
        """Run the prompts `seqs` [(slot, ids)] through the model, packed in chunks of `prefill_tokens`,
        writing their KV into their slots; returns the final hidden state of each prompt's last token."""
        chunks: list[list[tuple[int, list[int]]]] = [[]]
        size = 0
        for slot, ids in seqs:
            if chunks[-1] and size + len(ids) > self.prefill_tokens:
                chunks.append([])
                size = 0
            chunks[-1].append((slot, ids))
            size += len(ids)
        outs = [self._prefill_packed(chunk, need_hidden) for chunk in chunks if chunk]
        self._counters.prefill_tokens += sum(len(ids) for _, ids in seqs)
        return torch.cat(outs) if need_hidden and outs else None

    def _prefill_packed(self, chunk: list[tuple[int, list[int]]], need_hidden: bool) -> torch.Tensor | None:
        lengths = torch.tensor([len(ids) for _, ids in chunk], device=self.device)  # (S,)
        ids = torch.tensor([t for _, seq in chunk for t in seq], device=self.device)  # (T,)
        segments = torch.repeat_interleave(torch.arange(len(chunk), device=self.device), lengths)  # (T,)
        starts = torch.cumsum(lengths, 0) - lengths  # (S,)
        positions = torch.arange(ids.shape[0], device=self.device) - starts[segments]  # (T,)
        slots = torch.tensor([slot for slot, _ in chunk], device=self.device)[segments]  # (T,)
        attend = PrefillAttention(self.cache, self.runner, slots, positions, segments, len(chunk))
        hidden = self.runner.forward(ids, positions, attend)  # (T, C)
        return hidden[starts + lengths - 1] if need_hidden else None  # (S, C)

    def _decode(self) -> list[Completion]:
        """One forward over slots [0, high_water): each occupied slot feeds its last token."""
        n = self.slots.high_water()
        if n == 0:
            return []
        cur_len = self.slots.cur_len[:n]  # (n,)
        attend = DecodeAttention(self.cache, self.runner, cur_len, int(cur_len.max()))
        ids = self.slots.tokens[:n].gather(1, attend.positions[:, None]).squeeze(1)  # (n,)
        hidden = self.runner.forward(ids, attend.positions, attend)  # (n, C)
        rows = self.slots.active[:n].nonzero().squeeze(1)  # (R,) occupied slots
        logits = self.runner.logits(hidden[rows])  # (R, V)
        tokens, logprobs = self._sample(rows, logits)
        self._counters.decode_steps += 1
        self._counters.occupied += rows.numel()
        return self._record(rows, tokens, logprobs)

    def _sample(self, rows: torch.Tensor, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.slots
        if s.n_filtered:
            return sample(logits, s.temperature[rows], s.top_k[rows], s.top_p[rows], self.generator)
        return sample(logits, s.temperature[rows], generator=self.generator)

    def _record(self, rows: torch.Tensor, tokens: torch.Tensor, logprobs: torch.Tensor) -> list[Completion]:
        """Append the sampled tokens; finish (and free) the samples that hit a stop or their length."""
        stopped, done = self.slots.record(rows, tokens, logprobs, self.weight_version)
        self._counters.tokens += rows.numel()
        self._versions_seen.add(self.weight_version)
        reasons: dict[int, tuple[str, int | str | None]] = self._stop_string_hits(rows)
        if done.any():
            is_stop = stopped[done].tolist()
            for slot, stop, token in zip(rows[done].tolist(), is_stop, tokens[done].tolist()):
                reasons.setdefault(slot, ("stop", token) if stop else ("length", None))
        return [self._finish(slot, *reason) for slot, reason in sorted(reasons.items())]

    def _stop_string_hits(self, rows: torch.Tensor) -> dict[int, tuple[str, int | str | None]]:
        hits = {}
        info = self.slots.info
        if not self.slots.n_stop_strings:
            return hits
        for slot in rows.tolist():
            if not info[slot].stop_tail:
                continue
            end = int(self.slots.cur_len[slot])
            start = max(info[slot].prompt_len, end - info[slot].stop_tail)
            tail = self.tokenizer.decode(self.slots.tokens[slot, start:end].tolist())
            for stop in info[slot].request.sampling.stop_strings:
                if stop in tail:
                    hits[slot] = ("stop", stop)
                    break
        return hits

    def _finish(self, slot: int, reason: str, stop_reason: int | str | None) -> Completion:
        info = self.slots.info[slot]
        token_ids, logprobs, versions = self.slots.generated(slot)
        self.slots.release(slot)
        now = perf_counter()
        request = info.request
        timings = Timings(info.admitted - info.arrival, info.first_token - info.arrival, now - info.arrival)
        return Completion(
            request_id=request.request_id,
            sample_index=info.sample_index,
            prompt_ids=request.prompt_ids,
            token_ids=token_ids,
            logprobs=logprobs,
            weight_versions=versions,
            finish_reason=reason,
            stop_reason=stop_reason,
            text=self.tokenizer.decode(token_ids),
            timings=timings,
            metadata=request.metadata,
        )

    def _recompute_kv(self) -> None:
        """Re-prefill every sequence in flight (all its tokens but the pending last one) under the new weights."""
        s = self.slots
        seqs = [(slot, s.tokens[slot, : int(s.cur_len[slot]) - 1].tolist()) for slot in s.used()]
        self._prefill(seqs, need_hidden=False)

    def _compact(self) -> None:
        """With nobody waiting and the occupied slots spread out (high water ≥ 2× occupied), move the
        sequences in the top slots down into free ones so that decode runs over fewer rows."""
        used = self.slots.used()
        if self._waiting or not used or used[-1] + 1 < max(2 * len(used), len(used) + 4):
            return
        holes = [slot for slot in self.slots.free() if slot < len(used)]
        movers = [slot for slot in reversed(used) if slot >= len(used)]
        for src, dst in zip(movers, holes):
            self.cache.copy_slot(src, dst, int(self.slots.cur_len[src]) - 1)
            self.slots.move(src, dst)
        self._counters.compactions += 1
