"""A discrete-event simulation of RL training on a cluster: sync vs one-step-off vs Pipeline RL.

    golddiff simulate configs/simulate-pipelinerl-7b-128xh100.yaml [--rl.max_off_policy_steps=2 ...]
    golddiff simulate --calibrate RUN_DIR [RUN_DIR ...]

What is modelled (config in golddiff/sim/config.py, calibration in golddiff/sim/calibrate.py):
- Engines do continuous batching: a decode step costs a + b·active + c·(context tokens in the batch), so a
  nearly empty batch pays `a` (reading all the weights) for few tokens. A finished sample frees its slot at
  once. A group of `group_size` samples of one prompt is admitted together (one prefill) into free slots.
- The learner trains on `samples_per_step` samples (whole groups, in completion order) at a tokens/s rate,
  then publishes version v+1; the broadcast costs bytes ÷ bandwidth + latency, on the learner and on each
  engine.
- Admission: a group may start while (samples admitted) ≤ (engine's weight version + k + 1)·batch, so no
  sample starts more than k optimizer steps ahead of the weights it is sampled with; with k = 0 every
  batch is generated and trained with one version (on-policy). A sample whose lag still exceeds k when it is
  trained (long samples finish late) is counted and kept or dropped (`rl.stale`); a dropped one is replaced.
- Modes, all on the same machinery:
  sync          conventional RL: a round of G·batch samples (G = sync.optimizer_steps_per_batch, default
                1) is generated with one version, then G optimizer steps are trained on it (lag 0..G-1);
                by default generation and training time-share all GPUs (`sync.colocated`), as in the
                PipelineRL paper's baseline.
  one_step_off  k = 1, batch barrier, weights swapped only between batches; separate GPUs.
  pipeline      k = rl.max_off_policy_steps, weights swapped in flight before the next decode step.
Event-driven: an engine's state only changes when a sample finishes, a group is admitted or weights
arrive, so time jumps from one such event to the next (a decode step's cost is summed in closed form),
which makes a 128-GPU run of thousands of samples take a second or two. Deterministic for a seed.
Pure Python on the CPU (no torch, no GPU); reports and plots are in golddiff/sim/report.py.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import random
from collections import Counter, deque
from dataclasses import dataclass, field

from golddiff.sim.config import (
    LengthSampler,
    Mode,
    SimConfig,
    broadcast_seconds,
    derived_engine,
    derived_learner_rate,
)


@dataclass(frozen=True)
class ModeSpec:
    mode: Mode
    max_off_policy_steps: int
    in_flight_updates: bool
    batch_barrier: bool
    colocated: bool
    round_steps: int = 1  # a barrier round holds this many optimizer steps of samples


def mode_spec(cfg: SimConfig, mode: Mode) -> ModeSpec:
    if mode == "sync":
        g = cfg.sync.optimizer_steps_per_batch
        return ModeSpec(mode, g - 1, False, True, cfg.sync.colocated, g)
    if mode == "one_step_off":
        return ModeSpec(mode, 1, False, True, False)
    return ModeSpec(mode, cfg.rl.max_off_policy_steps, True, False, False)


@dataclass
class Group:
    gid: int
    start_version: int
    lengths: list[int]
    engine: int
    start_step: int
    done: int = 0


@dataclass
class Engine:
    eid: int
    active: dict[int, list[Group]] = field(default_factory=dict)  # finish step -> groups (one per sample)
    n_active: int = 0
    ctx: float = 0.0  # context tokens of the active samples (prompt + generated so far)
    steps: int = 0  # decode steps done
    version: int = 0
    swap_steps: list[int] = field(default_factory=list)  # decode step from which swap_versions[i] applies
    swap_versions: list[int] = field(default_factory=list)
    epoch: int = 0  # bumps when a scheduled event is replaced
    running: bool = False
    chunk: tuple[float, int, int, float, float] = (0.0, 0, 0, 0.0, 0.0)  # t0, step0, n, ctx0, prefill
    pending_prefill: float = 0.0
    tokens: float = 0.0
    busy_s: float = 0.0
    slot_s: float = 0.0  # integral of active samples over time
    ctx_steps: float = 0.0  # sum over decode steps of the batch's context tokens
    sync_s: float = 0.0


@dataclass
class StepRecord:
    step: int
    end_s: float
    train_s: float
    tokens: int
    samples: int
    lengths: list[int]
    lag_tokens: Counter
    group_lags: list[int]
    stale: int
    fleet: tuple[float, float, float, float]  # tokens, decode steps, busy seconds, context-steps (cumulative)
    learner_idle_s: float
    dropped: int  # cumulative


@dataclass
class SimResult:
    mode: Mode
    spec: ModeSpec
    steps: list[StepRecord]
    wall_s: float
    engines: int
    gen_gpus: int
    train_gpus: int
    gen_util: float  # occupied slots / all slots, over the wall time
    gen_busy: float  # share of the wall time engines were decoding
    gen_weight_sync: float  # share of the wall time engines spent receiving weights
    learner_util: float
    admitted: int
    completed: int
    trained: int
    dropped: int
    stale_trained: int
    buffered_at_end: int  # samples of complete groups the learner has not taken
    partial_at_end: int  # finished samples of groups still generating
    in_flight_at_end: int  # samples still generating
    trained_ids: list[int]
    lag_tokens: Counter
    broadcast_s: float


class Simulation:
    """One mode of one config. `run()` returns a SimResult."""

    def __init__(self, cfg: SimConfig, mode: Mode):
        self.cfg, self.spec = cfg, mode_spec(cfg, mode)
        self.lengths = LengthSampler(cfg.lengths, random.Random(cfg.seed))  # same lengths in every mode
        c = cfg.cluster
        self.gen_gpus = c.gen_gpus + c.train_gpus if self.spec.colocated else c.gen_gpus
        self.train_gpus = c.gen_gpus + c.train_gpus if self.spec.colocated else c.train_gpus
        self.engines = [Engine(i) for i in range(max(1, self.gen_gpus // cfg.engine.gpus_per_engine))]
        for e in self.engines:
            e.swap_steps.append(0)
            e.swap_versions.append(0)
        coef = derived_engine(cfg)
        self.a, self.b, self.c, self.prefill = coef["a"], coef["b"], coef["c"], coef["prefill"]
        self.learner_rate = derived_learner_rate(cfg) * self.train_gpus
        self.broadcast = broadcast_seconds(cfg)
        self.batch, self.group = cfg.rl.samples_per_step, cfg.rl.group_size
        self.events: list = []
        self.seq = itertools.count()
        self.now = 0.0
        self.version = 0  # published by the learner
        self.published_at = 0.0
        self.admitted = self.completed = self.dropped = self.stale_trained = 0
        self.gids = itertools.count()
        self.buffer: deque[Group] = deque()  # complete groups waiting for the learner
        self.open_groups: dict[int, Group] = {}  # admitted, not all samples finished
        self.learner_free_at, self.learner_busy = 0.0, False
        self.learner_idle_s, self.learner_train_s = 0.0, 0.0
        self.records: list[StepRecord] = []
        self.trained_ids: list[int] = []
        self.lag_tokens: Counter = Counter()

    # ---------------------------------------------------------------- engine time arithmetic

    def _chunk_time(self, m: int, n: int, ctx0: float, prefill: float) -> float:
        """Seconds for m decode steps with n samples whose context starts at ctx0 and grows by n per step."""
        return prefill + m * (self.a + self.b * n) + self.c * (m * ctx0 + n * m * (m - 1) / 2)

    def _advance(self, e: Engine, step: int, t: float) -> None:
        """Account engine `e` up to decode step `step`, reached at time `t`, within its current chunk."""
        t0, step0, n, ctx0, _ = e.chunk
        m = step - step0
        e.tokens += n * m
        e.ctx_steps += m * ctx0 + n * m * (m - 1) / 2
        e.ctx = ctx0 + n * m
        e.busy_s += t - t0
        e.slot_s += n * (t - t0)
        e.steps = step
        e.chunk = (t, step, n, e.ctx, 0.0)

    def _schedule(self, e: Engine, t: float) -> None:
        """Start a chunk at time t: run to the next finish step (an event may interrupt it earlier)."""
        e.epoch += 1
        if e.n_active == 0:
            e.running = False
            return
        e.running = True
        target = min(e.active)
        e.chunk = (t, e.steps, e.n_active, e.ctx, e.pending_prefill)
        dt = self._chunk_time(target - e.steps, e.n_active, e.ctx, e.pending_prefill)
        e.pending_prefill = 0.0
        self._push(t + dt, "engine", (e.eid, e.epoch, target))

    def _interrupt_step(self, e: Engine, t: float) -> tuple[int, float]:
        """The first decode-step boundary of `e` at or after time t (binary search on the chunk's cost)."""
        t0, step0, n, ctx0, prefill = e.chunk
        lo, hi = 1, min(e.active) - step0
        while lo < hi:
            mid = (lo + hi) // 2
            if t0 + self._chunk_time(mid, n, ctx0, prefill) >= t:
                hi = mid
            else:
                lo = mid + 1
        return step0 + lo, t0 + self._chunk_time(lo, n, ctx0, prefill)

    # ---------------------------------------------------------------- events

    def _push(self, t: float, kind: str, payload) -> None:
        heapq.heappush(self.events, (t, next(self.seq), kind, payload))

    def run(self) -> SimResult:
        self._dispatch(self.engines)
        while self.events and len(self.records) < self.cfg.steps:
            t, _, kind, payload = heapq.heappop(self.events)
            self.now = t
            if kind == "engine":
                self._on_engine(*payload)
            elif kind == "train_done":
                self._on_train_done(payload)
            elif kind == "learner_free":
                self._on_learner_free()
        if len(self.records) < self.cfg.steps:
            raise RuntimeError(f"{self.spec.mode}: stalled after {len(self.records)} steps (no events left)")
        return self._result()

    def _on_engine(self, eid: int, epoch: int, step: int) -> None:
        e = self.engines[eid]
        if epoch != e.epoch:
            return  # replaced by an interrupt
        self._advance(e, step, self.now)
        for g in e.active.pop(step, []):
            self._finish_sample(e, g)
        self._boundary(e)

    def _finish_sample(self, e: Engine, g: Group) -> None:
        e.n_active -= 1
        e.ctx -= self.cfg.rl.prompt_tokens + g.lengths[g.done]
        g.done += 1
        self.completed += 1
        if g.done == len(g.lengths):
            del self.open_groups[g.gid]
            self.buffer.append(g)
            self._try_train()
            if self.spec.batch_barrier and self.completed % (self.batch * self.spec.round_steps) == 0:
                self._dispatch([x for x in self.engines if not x.running])

    def _boundary(self, e: Engine) -> None:
        """Between decode steps: take new weights if allowed, admit groups, start the next chunk."""
        t = self.now
        if e.version < self.version and (self.spec.in_flight_updates or e.n_active == 0):
            t += self._take_weights(e, self.broadcast)
        self._admit(e)
        self._schedule(e, t)

    def _take_weights(self, e: Engine, pause: float) -> float:
        e.version = self.version
        e.swap_steps.append(e.steps)
        e.swap_versions.append(e.version)
        e.sync_s += pause
        return pause

    def _dispatch(self, engines: list[Engine]) -> None:
        """Idle engines at this moment: take weights, then admit groups round-robin, one group per engine
        per round (a router spreading prompts), then start."""
        idle = [e for e in engines if not e.running]
        starts = {}
        for e in idle:  # an idle engine receives the broadcast as it happens
            ready = max(0.0, self.published_at + self.broadcast - self.now)
            starts[e.eid] = self.now + (self._take_weights(e, ready) if e.version < self.version else 0.0)
        while sum([self._admit(e, limit=1) for e in idle]):  # a list: every engine gets its turn
            pass
        for e in idle:
            self._schedule(e, starts[e.eid])

    def _quota_allows(self, e: Engine) -> bool:
        k = self.spec.max_off_policy_steps
        allowed = (e.version + k + 1) * self.batch + self.dropped
        if self.admitted + self.group > allowed:
            return False
        if self.spec.colocated and self._learner_has_work():
            return False  # colocated: the GPUs are training
        if self.spec.batch_barrier:
            round_samples = self.batch * self.spec.round_steps
            return self.completed >= (self.admitted // round_samples) * round_samples
        return True

    def _learner_has_work(self) -> bool:
        return self.learner_busy or self.now < self.learner_free_at

    def _admit(self, e: Engine, limit: int | None = None) -> int:
        admitted = 0
        while e.n_active + self.group <= self.cfg.engine.max_active_seqs and self._quota_allows(e):
            lengths = sorted(self.lengths.sample() for _ in range(self.group))  # the order they finish in
            g = Group(next(self.gids), e.version, lengths, e.eid, e.steps)
            self.open_groups[g.gid] = g
            for length in lengths:
                e.active.setdefault(e.steps + length, []).append(g)
            e.n_active += self.group
            e.ctx += self.group * self.cfg.rl.prompt_tokens
            e.pending_prefill += self.cfg.rl.prompt_tokens * self.prefill
            self.admitted += self.group
            admitted += 1
            if limit is not None and admitted >= limit:
                break
        return admitted

    # ---------------------------------------------------------------- learner

    def _try_train(self) -> None:
        if self.learner_busy or self.now < self.learner_free_at:
            return
        if self.spec.colocated and any(e.n_active for e in self.engines):
            return  # colocated: the GPUs are generating
        self._drop_stale()
        need = self.batch // self.group
        if len(self.buffer) < need:
            return
        groups = [self.buffer.popleft() for _ in range(need)]
        tokens = sum(self.cfg.rl.prompt_tokens + n for g in groups for n in g.lengths)
        train_s = tokens / self.learner_rate + self.cfg.learner.step_overhead_s
        self.learner_idle_s += self.now - self.learner_free_at
        self.learner_train_s += train_s
        self.learner_busy = True
        self._push(self.now + train_s, "train_done", (groups, tokens, train_s))

    def _drop_stale(self) -> None:
        if self.cfg.rl.stale != "drop":
            return
        k, kept = self.spec.max_off_policy_steps, deque()
        for g in self.buffer:
            if self.version - g.start_version > k:
                self.dropped += len(g.lengths)
            else:
                kept.append(g)
        if len(kept) != len(self.buffer):
            self.buffer = kept
            self._dispatch([e for e in self.engines if not e.running])

    def _on_train_done(self, payload) -> None:
        groups, tokens, train_s = payload
        lag_tokens, group_lags, stale = Counter(), [], 0
        for g in groups:
            lag = self.version - g.start_version
            group_lags.append(lag)
            stale += lag > self.spec.max_off_policy_steps
            for length in g.lengths:
                for version, n in self._token_versions(g, length):
                    lag_tokens[self.version - version] += n
            self.trained_ids.append(g.gid)
        self.stale_trained += stale * self.group
        self.lag_tokens.update(lag_tokens)
        self.version += 1
        self.published_at = self.now
        self.learner_busy = False
        self.learner_free_at = self.now + self.broadcast
        lengths = [n for g in groups for n in g.lengths]
        fleet = self._fleet_totals()
        idle = self.learner_idle_s
        self.records.append(
            StepRecord(len(self.records) + 1, self.learner_free_at, train_s, tokens, len(lengths), lengths,
                       lag_tokens, group_lags, stale * self.group, fleet, idle, self.dropped)
        )  # fmt: skip
        self._push(self.learner_free_at, "learner_free", None)
        self._publish()

    def _on_learner_free(self) -> None:
        self._try_train()
        if self.spec.colocated and not self.learner_busy:
            self._dispatch(self.engines)

    def _publish(self) -> None:
        """New weights: in-flight engines stop at their next decode-step boundary; idle ones start now."""
        for e in self.engines:
            if e.running and self.spec.in_flight_updates:
                step, t = self._interrupt_step(e, self.now)
                e.epoch += 1
                self._push(t, "engine", (e.eid, e.epoch, step))
        self._dispatch([e for e in self.engines if not e.running])

    def _token_versions(self, g: Group, length: int) -> list[tuple[int, int]]:
        """(weight version, tokens) of one sample: its decode steps [start, start + length) cut at the
        engine's weight swaps."""
        e = self.engines[g.engine]
        start, end = g.start_step, g.start_step + length
        i = bisect.bisect_right(e.swap_steps, start) - 1
        out = []
        while True:
            nxt = e.swap_steps[i + 1] if i + 1 < len(e.swap_steps) else end
            lo, hi = max(start, e.swap_steps[i]), min(end, nxt)
            if hi > lo:
                out.append((e.swap_versions[i], hi - lo))
            if nxt >= end:
                return out
            i += 1

    # ---------------------------------------------------------------- results

    def _fleet_totals(self) -> tuple[float, float, float, float]:
        return (
            sum(e.tokens for e in self.engines),
            sum(e.steps for e in self.engines),
            sum(e.busy_s for e in self.engines),
            sum(e.ctx_steps for e in self.engines),
        )

    def _result(self) -> SimResult:
        wall = self.records[-1].end_s
        n = len(self.engines)
        slots = n * self.cfg.engine.max_active_seqs * wall
        in_flight = sum(len(g.lengths) - g.done for g in self.open_groups.values())
        return SimResult(
            mode=self.spec.mode, spec=self.spec, steps=self.records, wall_s=wall, engines=n,
            gen_gpus=self.gen_gpus, train_gpus=self.train_gpus,
            gen_util=sum(e.slot_s for e in self.engines) / slots,
            gen_busy=sum(e.busy_s for e in self.engines) / (n * wall),
            gen_weight_sync=sum(e.sync_s for e in self.engines) / (n * wall),
            learner_util=self.learner_train_s / wall,
            admitted=self.admitted, completed=self.completed,
            trained=sum(r.samples for r in self.records), dropped=self.dropped,
            stale_trained=self.stale_trained, buffered_at_end=sum(len(g.lengths) for g in self.buffer),
            partial_at_end=sum(g.done for g in self.open_groups.values()), in_flight_at_end=in_flight, trained_ids=self.trained_ids, lag_tokens=self.lag_tokens,
            broadcast_s=self.broadcast,
        )  # fmt: skip


def simulate(cfg: SimConfig, modes: list[Mode] | None = None) -> dict[str, SimResult]:
    """Run every mode of `cfg` (or `modes`) and return their results by mode."""
    return {mode: Simulation(cfg, mode).run() for mode in (modes or cfg.modes)}
