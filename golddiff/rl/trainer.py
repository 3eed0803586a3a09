"""The driver of `golddiff train`: run dir, Ray processes, and the loop that turns groups into versions.

    from golddiff.rl.trainer import train
    summary = train(cfg)                  # a new run in cfg.run.dir (CPU: the tiny model; GPU: set num_gpus)
    summary = train(cfg, resume=True)     # continue it from its last complete checkpoint
    summary = train(cfg, hooks=golddiff.checks.train_hooks())   # with the preflight checks and drift guard

Guards plug in through `Hooks` (rl imports nothing from `golddiff.checks`): `preflight(model, tokenizer,
cfg)` runs on learner rank 0 before step 1 when `run.preflight` (it raises to stop the run), and each of
`monitors` watches every step's metrics row (its warnings printed, its own metrics added to the row).
`golddiff train` and the demo pass the checks' hooks.

The loop (`TrainLoop.run`) repeats three named phases until `run.steps`:
  collect — take finished groups off the bounded queue into a FIFO buffer (a position already consumed is a
            duplicate from a re-issued prompt: counted, not trained) and watch the actors (a dead one is
            restarted by Ray; its loop is started again; the prompt source re-issues what it held)
  submit  — when the learner is free and P groups are buffered, start a step on the oldest P
  finish  — when the step is done: weights to every actor, the ledger line (fsynced), the next step
            submitted (after the checkpoint when one is due), and once every actor holds the new weights,
            the new version to the prompt source (the lag budget grows); then metrics and rollouts
Pipeline mode never drains generation: actors keep going under the lag budget while the learner trains.
Sync mode is the same loop with K = 0: the budget admits exactly P prompts per version, so generation waits
for the new weights and the learner waits for the last sequence (the conventional baseline).
A learner failure stops the run (`LearnerFailed`, the last checkpoint intact); Ctrl-C finishes the step in
flight, checkpoints (`run.checkpoint_on_interrupt`) and stops; a second Ctrl-C stops at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any, Protocol

from golddiff.rl.checkpoint import write_checkpoint
from golddiff.rl.cluster import Cluster, ray_session, send_weights, start_cluster
from golddiff.rl.config import TrainConfig
from golddiff.rl.data import PromptOrder, task_ids
from golddiff.rl.ledger import Ledger
from golddiff.rl.messages import ActorStats, Group
from golddiff.rl.metrics import MetricsWriter, Progress, length_stats
from golddiff.rl.rundir import RunState, check_extras, prepare_run_dir

DRAIN_S = 0.1  # the longest the driver sleeps before it looks at the queue, actors and stall clock


class LearnerFailed(RuntimeError):
    """The learner raised or died; the run stopped. The message names the step and the last checkpoint."""


class StepMonitor(Protocol):
    """Watches each step's metrics row (`golddiff.checks.DriftMonitor` is one)."""

    label: str  # names its warnings in the progress output: "[drift] step 7: ..."

    def update(self, step: int, metrics: dict[str, Any]) -> list[str]: ...  # warnings for this step

    def metrics(self) -> dict[str, float]: ...  # added to the step's row


# (model, tokenizer, cfg) on learner rank 0 before step 1; raises to stop the run (`golddiff.checks.preflight`)
Preflight = Callable[[Any, Any, TrainConfig], Any]


@dataclass
class Hooks:
    """What a caller plugs into a run: `on_step(loop, row)` after each step's metrics row is written (tests
    and tools), `preflight` (run when `run.preflight`), `monitors` (see the module docstring)."""

    on_step: Callable[[TrainLoop, dict], None] | None = None
    preflight: Preflight | None = None
    monitors: list[StepMonitor] = field(default_factory=list)


@dataclass
class RunSummary:
    run_dir: Path
    step: int
    last_checkpoint: Path | None
    rows: list[dict]
    interrupted: bool = False


@dataclass
class _Pending:
    groups: list[Group]
    result_ref: Any
    weights_ref: Any


def train(cfg: TrainConfig, resume: bool = False, hooks: Hooks | None = None) -> RunSummary:
    """Run (or resume) training as configured; returns where it ended. See the module docstring."""
    hooks = hooks or Hooks()
    check_extras(cfg)
    from golddiff.models import model_source

    model_source(cfg.model.name)  # a built-in or .gguf model is converted once here, before Ray's processes
    order = PromptOrder(
        task_ids(cfg), cfg.data, cfg.run.seed
    )  # the data is readable before anything is written
    state = prepare_run_dir(cfg, resume)
    run_dir = Path(cfg.run.dir)
    ledger = Ledger(run_dir)
    if resume:
        ledger.record_resume(state.step)
    writer = MetricsWriter(run_dir, cfg.run.tensorboard, cfg.run.wandb, project=cfg.run.wandb_project)
    progress = Progress(cfg.run.steps, state.step, cfg.run.progress)
    source_args = {
        "order": order, "prompts_per_step": cfg.rl.prompts_per_step, "max_lag": cfg.max_lag,
        "version": state.init.version, "consumed": state.consumed, "skipped": state.skipped,
    }  # fmt: skip
    interrupted = False
    try:
        with ray_session(cfg):
            preflight = hooks.preflight if cfg.run.preflight else None
            cluster = start_cluster(cfg, state.init, source_args, preflight)
            loop = TrainLoop(cfg, cluster, state, writer, ledger, progress, hooks)
            try:
                loop.run()
                if loop.last_checkpoint_step != loop.step:
                    loop.checkpoint()
            except KeyboardInterrupt:
                interrupted = True
                loop.interrupt()
            finally:
                cluster.shutdown()
    finally:
        writer.close()
        ledger.close()
        progress.close()
    return RunSummary(run_dir, loop.step, loop.last_checkpoint, loop.rows, interrupted)


class TrainLoop:
    def __init__(
        self,
        cfg: TrainConfig,
        cluster: Cluster,
        state: RunState,
        writer: MetricsWriter,
        ledger: Ledger,
        progress: Progress,
        hooks: Hooks,
    ) -> None:
        self.cfg, self.cluster, self.writer, self.ledger, self.progress, self.hooks = (
            cfg, cluster, writer, ledger, progress, hooks,
        )  # fmt: skip
        self.step = self.last_checkpoint_step = state.step
        self.last_checkpoint = state.checkpoint
        self.consumed = set(state.consumed)
        self.buffer: list[Group] = []
        self.skipped: list[tuple[int, str]] = []
        self.pending: _Pending | None = None
        self.stopping = False
        self.rows: list[dict] = []
        self.last_groups: list[Group] = []  # the groups of the step just finished (for hooks)
        self.duplicates = self.restarts = 0
        self.restarts_of = [0] * len(cluster.actors)
        self.reviving = [False] * len(cluster.actors)
        self.actor_stats: dict[int, ActorStats] = {}
        self.elapsed0 = state.elapsed_s
        self.t0 = self.t_step = self.t_progress = perf_counter()
        self.run_refs = cluster.start_actor_loops()

    # ---- the loop -------------------------------------------------------------------------------------
    def run(self) -> None:
        """Sleep on whatever can happen next, never spin: while the learner trains, on its result (draining
        the queue every DRAIN_S); otherwise on the queue, which returns the moment a group arrives. Polling
        the queue actor every 20 ms instead cost a third of a core on 2 cores (driver + queue actor)."""
        import ray

        per_step = self.cfg.rl.prompts_per_step
        while self.step < self.cfg.run.steps:
            if self.pending is not None:
                ray.wait([self.pending.result_ref], timeout=DRAIN_S)
            self.collect(timeout=0.0 if self.pending is not None else DRAIN_S)
            if self.pending is None and len(self.buffer) >= per_step:
                self.submit()
            if self.pending is not None and self._ready(self.pending.result_ref):
                self.finish()
            self._check_stall()

    def collect(self, timeout: float) -> None:
        """Groups from the queue into the buffer; dead actors' loops restarted."""
        import queue

        self._watch_actors()
        consumed, skipped = [], []
        try:
            queue_ = self.cluster.queue  # timeout 0: get_nowait (asyncio's wait_for(…, 0) never returns one)
            group = queue_.get_nowait() if timeout <= 0 else queue_.get(block=True, timeout=timeout)
            while True:
                if group.position in self.consumed:
                    self.duplicates += 1  # the source still counts the re-issued copy as held: release it
                    consumed.append(group.position)
                elif group.skipped is not None:
                    self.skipped.append((group.position, group.prompt_id))
                    skipped.append(group.position)
                    self.progress.note(f"skipped prompt {group.prompt_id}: {group.skipped}")
                else:
                    self.buffer.append(group)
                    consumed.append(group.position)
                self.consumed.add(group.position)
                self.t_progress = perf_counter()
                group = self.cluster.queue.get_nowait()
        except queue.Empty:
            pass
        if consumed or skipped:
            self.cluster.source.mark_consumed.remote(consumed, skipped)

    def submit(self) -> None:
        """Start a learner step on the oldest P buffered groups."""
        import ray

        groups, self.buffer = (
            self.buffer[: self.cfg.rl.prompts_per_step],
            self.buffer[self.cfg.rl.prompts_per_step :],
        )
        result_ref = self.cluster.learner.train_step(ray.put(groups))
        self.pending = _Pending(groups, result_ref, self.cluster.learner.publish_weights())
        self.t_progress = perf_counter()

    def finish(self) -> None:
        """The step is done: publish, record (ledger first), checkpoint if due, next step, metrics."""
        import ray

        pending, self.pending = self.pending, None
        result, message = self._learner_get(pending.result_ref), self._learner_get(pending.weights_ref)
        t_sync = perf_counter()
        acks = send_weights(self.cluster, message)
        self.step = result.step
        self.ledger.record_step(self.step, [(g.position, g.prompt_id) for g in pending.groups], self.skipped)
        self.skipped = []
        every = self.cfg.run.checkpoint_every
        due = bool(every) and self.step % every == 0 and self.step < self.cfg.run.steps
        if not due:
            self._submit_if_ready()  # the learner trains on while the actors take the weights
        ray.wait(acks, num_returns=len(acks), timeout=60)
        self.cluster.source.publish.remote(message)  # the actors hold it: the lag budget grows
        sync_s = message.export_s + perf_counter() - t_sync
        if due:
            self.checkpoint()
            self._submit_if_ready()
        now = perf_counter()
        row = self._row(result, pending.groups, message, sync_s, now - self.t_step, self._poll_actor_stats())
        for monitor in self.hooks.monitors:  # e.g. sampler/learner drift: warn, keep going
            for warning in monitor.update(self.step, row):
                self.progress.note(f"[{monitor.label}] {warning}")
            row |= monitor.metrics()
        self.t_step = self.t_progress = now
        self.rows.append(row)
        self.last_groups = pending.groups
        self.writer.log(row)
        self.writer.log_rollouts(self._rollouts(pending.groups))
        self.progress.update(row)
        if self.hooks.on_step is not None:
            self.hooks.on_step(self, row)

    # ---- pieces ---------------------------------------------------------------------------------------
    def _submit_if_ready(self) -> None:
        if (
            not self.stopping
            and self.step < self.cfg.run.steps
            and len(self.buffer) >= self.cfg.rl.prompts_per_step
        ):
            self.submit()

    def _ready(self, ref: Any) -> bool:
        import ray

        return bool(ray.wait([ref], timeout=0)[0])

    def _learner_get(self, ref: Any) -> Any:
        import ray

        try:
            return ray.get(ref)
        except (ray.exceptions.RayError, RuntimeError) as e:
            last = (
                f"{self.last_checkpoint} (step {self.last_checkpoint_step})"
                if self.last_checkpoint
                else "none"
            )
            raise LearnerFailed(
                f"the learner failed during step {self.step + 1}: {e}\nlast complete checkpoint: {last}; "
                f"continue with `golddiff train --resume {self.cfg.run.dir}`"
            ) from e

    def _watch_actors(self) -> None:
        """Each actor has one watched ref: its loop (`run`), or while it is down a `ping` that resolves once
        Ray has restarted it (then its loop starts again). An error raised inside the loop, or an actor that
        stays dead past `actors.max_restarts`, fails the run."""
        import ray

        done, _ = ray.wait(self.run_refs, num_returns=len(self.run_refs), timeout=0)
        for ref in done:
            i = self.run_refs.index(ref)
            try:
                ray.get(ref)
            except ray.exceptions.RayTaskError as e:
                raise RuntimeError(f"actor {i} failed: {e}") from e
            except ray.exceptions.RayActorError as e:
                if (
                    isinstance(e, ray.exceptions.ActorDiedError)
                    and self.restarts_of[i] >= self.cfg.actors.max_restarts
                ):
                    raise RuntimeError(
                        f"actor {i} died and was already restarted {self.restarts_of[i]} times "
                        "(actors.max_restarts)"
                    ) from e
                if not self.reviving[i]:
                    self.progress.note(f"actor {i} died; Ray restarts it and its prompts are issued again")
                self.reviving[i] = True
                self.run_refs[i] = self.cluster.actors[i].ping.remote()
                continue
            if self.reviving[i]:  # the ping answered: a new incarnation is up
                self.reviving[i] = False
                self.restarts += 1
                self.restarts_of[i] += 1
            if not self.stopping:
                self.run_refs[i] = self.cluster.actors[i].run.remote()

    def _check_stall(self) -> None:
        import ray

        waited = perf_counter() - self.t_progress
        if self.pending is None and waited > self.cfg.run.stall_timeout_s:
            snapshot = ray.get(self.cluster.source.snapshot.remote())
            raise RuntimeError(
                f"no group arrived for {waited:.0f}s (run.stall_timeout_s); buffer {len(self.buffer)}, "
                f"prompt source {snapshot}"
            )

    def _poll_actor_stats(self) -> list[ActorStats]:
        import ray

        refs = [a.stats.remote() for a in self.cluster.actors]
        ready, _ = ray.wait(refs, num_returns=len(refs), timeout=2.0)
        out = []
        for ref in ready:
            try:
                out.append(ray.get(ref))
            except ray.exceptions.RayError:
                continue
        return out

    def _gen_rates(self, stats: list[ActorStats], step_s: float) -> dict[str, float]:
        tokens = busy = steps = occupied = 0.0
        for s in stats:
            prev = self.actor_stats.get(s.actor)
            if prev is None or prev.incarnation != s.incarnation:
                prev = ActorStats(s.actor, s.incarnation, 0, 0.0, 0, 0, 0, 0, 0.0, 0)
            tokens += s.tokens - prev.tokens
            busy += s.busy_s - prev.busy_s
            steps += s.decode_steps - prev.decode_steps
            occupied += s.occupied - prev.occupied
            self.actor_stats[s.actor] = s
        n = max(len(stats), 1)
        return {
            "perf/gen_tokens_per_s": tokens / (busy / n) if busy else 0.0,
            "perf/gen_tokens_per_wall_s": tokens / step_s if step_s else 0.0,
            "gen/active_seqs_mean": occupied / steps if steps else 0.0,
            "gen/decode_step_s": busy / steps if steps else 0.0,
            "gen/tokens": tokens,
        }

    def _row(
        self,
        result: Any,
        groups: list[Group],
        message: Any,
        sync_s: float,
        step_s: float,
        stats: list[ActorStats],
    ) -> dict:
        samples = [s for g in groups for s in g.samples]
        acct, m = result.accounting, result.metrics
        busy = m["time/train_s"] + message.export_s
        row = {
            "step": self.step,
            "version": result.version,
            "time/elapsed_s": self.elapsed0 + perf_counter() - self.t0,
        }
        row |= {
            "reward/mean": sum(s.reward for s in samples) / max(len(samples), 1),
            "reward/format_error_rate": sum(s.format_error for s in samples) / max(len(samples), 1),
            "gen/unfinished_rate": sum(s.finish_reason == "length" for s in samples) / max(len(samples), 1),
            "time/step_s": step_s,
            "time/weight_sync_s": sync_s,
            "time/weight_export_s": message.export_s,
            "perf/learner_idle_frac": min(1.0, max(0.0, 1 - busy / step_s)) if step_s else 0.0,
            "data/stale_dropped": acct["stale_samples"],
            "data/stale_tokens": acct["stale_tokens"],
            "data/truncated_completion_tokens": acct["truncated_completion_tokens"],
            "data/duplicate_groups": self.duplicates,
            "data/reissued_groups": sum(g.attempt > 0 for g in groups),
            "actors/restarts": self.restarts,
        }
        row |= m | self._gen_rates(stats, step_s) | length_stats([len(s.token_ids) for s in samples])
        row["off_policy/lag_hist"] = result.lag_hist
        return row

    def _rollouts(self, groups: list[Group]) -> list[dict]:
        out = []
        for g in groups:
            for i, s in enumerate(g.samples):
                if len(out) >= self.cfg.run.rollouts_per_step:
                    return out
                out.append({
                    "step": self.step, "prompt_id": g.prompt_id, "position": g.position, "sample_index": i,
                    "actor": g.actor, "reward": s.reward, "format_error": s.format_error,
                    "prompt_len": len(g.prompt_ids), "completion_len": len(s.token_ids),
                    "versions": [min(s.weight_versions, default=-1), max(s.weight_versions, default=-1)],
                    "started_version": g.started_version, "finish_reason": s.finish_reason,
                    "text": g.text[i] if i < len(g.text) else "",
                })  # fmt: skip
        return out

    def checkpoint(self) -> None:
        """Write checkpoints/step_N (atomic) with the learner's files and the driver's state."""
        import ray

        snapshot = ray.get(self.cluster.source.snapshot.remote())
        state = {
            "step": self.step, "version": self.step, "mode": self.cfg.mode, "seed": self.cfg.run.seed,
            "next_position": snapshot["next_position"], "consumed": len(self.consumed),
            "elapsed_s": self.elapsed0 + perf_counter() - self.t0,
        }  # fmt: skip
        save = lambda path: self.cluster.learner.save_checkpoint(str(path))  # noqa: E731
        self.last_checkpoint = write_checkpoint(
            self.cfg.run.dir, self.step, save, state, self.cfg.run.keep_last
        )
        self.last_checkpoint_step = self.step

    def interrupt(self) -> None:
        """Ctrl-C: finish the step in flight (so ledger and weights agree), checkpoint, stop."""
        self.stopping = True
        self.progress.note("interrupted: finishing the learner's step in flight (Ctrl-C again to stop now)")
        try:
            if self.pending is not None:
                self.finish()
            if self.cfg.run.checkpoint_on_interrupt and self.last_checkpoint_step != self.step:
                self.checkpoint()
        except KeyboardInterrupt:
            self.progress.note("stopped without a checkpoint; --resume continues from the last one")
