"""A generation actor: one `Engine`, fed prompts under the lag budget, new weights swapped in mid-sequence.

The loop (`run`, one thread) repeats four named phases until stopped:
  admit — ask the prompt source for as many prompts as free slots allow (G samples each); start a ticket
          only while this actor's weights are at most K versions behind the learner's latest
  step  — one engine step: apply queued weights, admit and prefill, one decode step for every slot
  score — decode each finished sample and reward it; a prompt whose G samples are done becomes a Group
  push  — put finished groups on the bounded queue (blocks while it is full: backpressure)
`receive_weights` runs on another thread (Ray concurrency group "control"): it fetches the new weights and
queues them to the engine, which copies them in before its next decode step; sequences in flight keep their
KV cache (or recompute it with `actors.recompute_kv`) and their next tokens carry the new version.

CPU: one torch thread per actor by default (`actors.threads`); GPU: `actors.num_gpus: 1` gives each actor a
device (Ray sets CUDA_VISIBLE_DEVICES) and the engine runs there. The actor drives its engine only through
`golddiff.engine.protocol.StepEngine` (add_request / has_work / step, update_weights, stats):
`actors.engine` picks the built-in engine or vLLM (`golddiff.engine.vllm`: pause with keep, weight
transfer, resume), CPU or GPU alike.
"""

from __future__ import annotations

import queue as pyqueue
import threading
import uuid
from collections import deque
from dataclasses import dataclass, field
from time import monotonic, perf_counter
from typing import Any

from golddiff.engine import Completion, Request, SamplingParams, StepEngine, make_engine
from golddiff.rl.config import TrainConfig
from golddiff.rl.data import open_dataset
from golddiff.rl.dataset import PromptSpec
from golddiff.rl.devices import quiet_libraries, resolve_device, set_threads
from golddiff.rl.messages import ActorStats, Group, ModelInit, PromptTicket, Sample, WeightsMessage
from golddiff.rl.transport import BroadcastGroup, receive

ASK_EVERY_S = 0.01  # after an empty grant, ask the prompt source again this soon, then back off:
ASK_MAX_S = 0.2  # doubling up to this, until a grant or new weights (asking every 10 ms while the lag
# budget is spent kept the prompt source at ~20% of a core on 2 cores, for a learner step of ~30 s)
TEXT_CHARS = 400  # decoded answer kept per sample for rollouts.jsonl


@dataclass
class _InFlight:
    ticket: PromptTicket
    spec: PromptSpec
    started_version: int
    done: dict[int, Completion] = field(default_factory=dict)


class GenerationActor:
    def __init__(self, cfg: TrainConfig, index: int, source: Any, queue: Any, init: ModelInit) -> None:
        import ray

        from golddiff.models import load_model

        self.cfg, self.index, self.source, self.queue = cfg, index, source, queue
        self.incarnation = uuid.uuid4().hex[:8]
        set_threads(cfg.actors.threads, cfg.actors.num_cpus)
        quiet_libraries()
        device = resolve_device(cfg.model.device, cfg.actors.num_gpus)
        model, self.tokenizer = load_model(
            init.path or cfg.model.name, cfg.model.dtype, device, cfg.model.seed
        )
        self.dataset = open_dataset(cfg, self.tokenizer)
        seed = cfg.run.seed * 100_003 + index * 1_009 + init.version
        self.device = next(model.parameters()).device  # where the engine runs (weights arrive there)
        self.engine: StepEngine = make_engine(
            cfg.actors.engine, model, self.tokenizer, cfg.actors.max_batch, cfg.actors.max_len,
            seed=seed, weight_version=init.version, recompute_kv=cfg.actors.recompute_kv,
            engine_args=cfg.actors.vllm_args or None,
        )  # fmt: skip
        del model  # the vllm engine holds its own copy of the weights
        self.latest_version = self.received_version = init.version
        self.in_flight: dict[str, _InFlight] = {}
        self.pending: deque[PromptTicket] = deque()  # granted; waiting for fresh enough weights
        self.ready: deque[Group] = deque()
        self.group: BroadcastGroup | None = None
        self.busy_s, self._next_ask, self._backoff = 0.0, 0.0, ASK_EVERY_S
        self._wake, self._stop = threading.Event(), threading.Event()
        self._weights_lock = threading.Lock()
        latest = ray.get(source.actor_started.remote(index, self.incarnation))
        if latest is not None and latest.version > init.version:
            if latest.transport != "object_store":
                raise RuntimeError("an actor restarted under the broadcast transport; resume the run instead")
            self.receive_weights(latest)

    # ---- the loop -------------------------------------------------------------------------------------
    def run(self) -> str:
        """Generate until `stop()`; returns "stopped"."""
        self._stop.clear()
        while not self._stop.is_set():
            admitted = self._admit()
            if self.engine.has_work():
                t0 = perf_counter()
                finished = self.engine.step()
                self.busy_s += perf_counter() - t0
                self._score(finished)
            elif not admitted:
                self._wake.wait(self._backoff)
                self._wake.clear()
            self._push()
        return "stopped"

    def _samples_in_engine(self) -> int:
        g = self.cfg.rl.group_size
        return sum(g - len(f.done) for f in self.in_flight.values())

    def _weights_fresh(self) -> bool:
        return self.latest_version - self.received_version <= self.cfg.max_lag

    def _admit(self) -> bool:
        """Ask for prompts for the free slots; start the granted ones the weights rule allows."""
        free = (self.cfg.actors.max_batch - self._samples_in_engine()) // self.cfg.rl.group_size
        want = free - len(self.pending)
        if want > 0 and monotonic() >= self._next_ask:
            import ray

            grant = ray.get(self.source.take.remote(self.index, self.incarnation, want))
            self.latest_version = max(self.latest_version, grant.learner_version)
            self.pending.extend(grant.tickets)
            self._next_ask = 0.0 if grant.tickets else monotonic() + self._backoff
            self._backoff = ASK_EVERY_S if grant.tickets else min(2 * self._backoff, ASK_MAX_S)
        started = 0
        while self.pending and started < free and self._weights_fresh():
            self._start(self.pending.popleft())
            started += 1
        return started > 0

    def _start(self, ticket: PromptTicket) -> None:
        spec = self.dataset.prompt(ticket.index)
        room = self.cfg.actors.max_len - len(spec.prompt_ids)
        if room < 1:
            why = f"prompt of {len(spec.prompt_ids)} tokens; actors.max_len is {self.cfg.actors.max_len}"
            self.ready.append(self._group(ticket, spec, self.received_version, [], skipped=why))
            return
        request_id = f"{ticket.position}:{ticket.attempt}"
        self.in_flight[request_id] = _InFlight(ticket, spec, self.received_version)
        temperature, g = self.cfg.rl.temperature, self.cfg.rl.group_size
        if spec.sample_max_new is None:  # one request, G samples sharing the prompt's prefill
            n_new = min(spec.max_new_tokens, room)
            sampling = SamplingParams(temperature, max_new_tokens=n_new, n=g, ignore_eos=spec.ignore_eos)
            self.engine.add_request(Request(spec.prompt_ids, sampling, request_id))
            return
        for i, n in enumerate(spec.sample_max_new):  # a length per sample: one request each
            sampling = SamplingParams(temperature, max_new_tokens=min(n, room), ignore_eos=spec.ignore_eos)
            self.engine.add_request(Request(spec.prompt_ids, sampling, f"{request_id}/{i}"))

    def _score(self, finished: list[Completion]) -> None:
        for completion in finished:
            request_id, _, sample = completion.request_id.partition("/")
            flight = self.in_flight[request_id]
            flight.done[int(sample) if sample else completion.sample_index] = completion
            if len(flight.done) < self.cfg.rl.group_size:
                continue
            del self.in_flight[request_id]
            completions = [flight.done[i] for i in range(self.cfg.rl.group_size)]
            self.ready.append(self._group(flight.ticket, flight.spec, flight.started_version, completions))

    def _group(
        self, ticket: PromptTicket, spec: PromptSpec, started: int, done: list[Completion], skipped=None
    ) -> Group:
        samples, texts = [], []
        for c in done:
            text = self.tokenizer.decode(c.token_ids, skip_special_tokens=True)
            value, format_error = self._value(ticket.index, text, c)
            samples.append(
                Sample(c.token_ids, c.logprobs, c.weight_versions, value, format_error, c.finish_reason)
            )
            texts.append(text[:TEXT_CHARS])
        return Group(
            ticket.position, ticket.prompt_id, spec.prompt_ids, samples, self.index, self.incarnation,
            ticket.attempt, started, texts, skipped,
        )  # fmt: skip

    def _value(self, index: int, text: str, c: Completion) -> tuple[float, bool]:
        """(reward, format error) of one completion: `rl.unfinished_reward` when it was cut off by the
        token limit and that is set (the answer never ended: a policy whose truncated answers score like
        finished ones can drift into never emitting end-of-sequence), else the dataset's score."""
        unfinished = self.cfg.rl.unfinished_reward
        if unfinished is not None and c.finish_reason == "length":
            return unfinished, True
        score = self.dataset.score(index, text, c.token_ids)
        return score.value, score.format_error

    def _push(self) -> None:
        """Put finished groups on the queue; block (checking for stop) while it is full."""
        while self.ready and not self._stop.is_set():
            try:
                self.queue.put(self.ready[0], block=True, timeout=0.5)
                self.ready.popleft()
            except pyqueue.Full:
                continue

    # ---- control (another thread) ---------------------------------------------------------------------
    def receive_weights(self, message: WeightsMessage) -> float:
        """Fetch new weights and queue them to the engine; returns the seconds it took."""
        t0 = perf_counter()
        with self._weights_lock:
            if message.version <= self.received_version and message.transport == "object_store":
                return 0.0
            state = receive(message, self.group)
            self.engine.update_weights(state, message.version)
            self.received_version = max(self.received_version, message.version)
            self.latest_version = max(self.latest_version, message.version)
        self._next_ask, self._backoff = 0.0, ASK_EVERY_S  # the budget grows once every actor has them
        self._wake.set()
        return perf_counter() - t0

    def open_weight_group(self, host: str, port: int, rank: int, world: int, backend: str) -> bool:
        self.group = BroadcastGroup(host, port, rank, world, backend, self.device)
        return True

    def stats(self) -> ActorStats:
        s = self.engine.stats()
        occupied = round(s["slot_occupancy"] * s["decode_steps"] * self.cfg.actors.max_batch)
        return ActorStats(
            self.index, self.incarnation, s["tokens_generated"], self.busy_s, s["decode_steps"], occupied,
            s["weight_version"], s["weight_updates"], s["weight_update_s"], len(self.in_flight),
        )  # fmt: skip

    def stop(self) -> bool:
        self._stop.set()
        self._wake.set()
        return True

    def ping(self) -> str:
        return self.incarnation
