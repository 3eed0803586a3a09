"""The processes of a run on Ray: prompt source, bounded group queue, generation actors, learner ranks.

    with ray_session(cfg):
        cluster = start_cluster(cfg, init, source_args)
        ...
        cluster.shutdown()

A local Ray instance by default (`ray.init(num_cpus=…, include_dashboard=False)`), `run.ray_address` to join
a cluster started with `ray start`. Placement: each actor asks for `actors.num_cpus`/`num_gpus`, each
learner rank for `learner.num_cpus`/`num_gpus`; the prompt source and the queue take no CPU. Actors are
restarted by Ray up to `actors.max_restarts` times (their prompts are re-issued by the source); the learner
is never restarted (a learner failure stops the run; resume from the last checkpoint).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from golddiff.rl.config import TrainConfig
from golddiff.rl.messages import ModelInit, WeightsMessage


@contextlib.contextmanager
def ray_session(cfg: TrainConfig) -> Iterator[None]:
    """Use the Ray already initialised in this process, else join `run.ray_address`, else start a local one
    sized for the run (and shut down what we started)."""
    import ray

    if ray.is_initialized():
        yield
        return
    if cfg.run.ray_address:
        ray.init(address=cfg.run.ray_address)
    else:
        need = cfg.actors.count * cfg.actors.num_cpus + cfg.learner.processes * cfg.learner.num_cpus
        num_cpus = cfg.run.num_cpus or max(os.cpu_count() or 1, int(need + 0.999))
        # Ray starts its workers at niceness 15, as if they were background work; here the actors and the
        # learner are the run, and at 15 anything else on the machine takes their cores (seen: a niced
        # profiler got 80% of a core from the learner). Workers keep this process's niceness instead.
        os.environ.setdefault("RAY_worker_niceness", str(os.nice(0)))
        ray.init(num_cpus=num_cpus, include_dashboard=False, configure_logging=False, log_to_driver=True)
    try:
        yield
    finally:
        ray.shutdown()


def check_resources(cfg: TrainConfig) -> None:
    """Fail early (instead of waiting forever) when Ray cannot place the run's processes."""
    import ray

    total = ray.cluster_resources()
    cpus = cfg.actors.count * cfg.actors.num_cpus + cfg.learner.processes * cfg.learner.num_cpus
    gpus = cfg.actors.count * cfg.actors.num_gpus + cfg.learner.processes * cfg.learner.num_gpus
    if cpus > total.get("CPU", 0) + 1e-9 or gpus > total.get("GPU", 0) + 1e-9:
        raise RuntimeError(
            f"the run needs {cpus:g} CPUs and {gpus:g} GPUs (actors.count × actors.num_cpus/num_gpus + "
            f"learner.processes × learner.num_cpus/num_gpus); the Ray cluster has {total.get('CPU', 0):g} CPUs "
            f"and {total.get('GPU', 0):g} GPUs"
        )


@dataclass
class LearnerGroup:
    """The learner's ranks, driven together: every call goes to every rank, rank 0's answer is returned."""

    ranks: list[Any]

    def train_step(self, groups_ref: Any) -> Any:
        return [rank.train_step.remote(groups_ref) for rank in self.ranks][0]

    def publish_weights(self) -> Any:
        return [rank.publish_weights.remote() for rank in self.ranks][0]

    def save_checkpoint(self, path: str) -> None:
        import ray

        ray.get([rank.save_checkpoint.remote(path) for rank in self.ranks])


@dataclass
class Cluster:
    cfg: TrainConfig
    source: Any
    queue: Any
    actors: list[Any]
    learner: LearnerGroup

    def start_actor_loops(self) -> list[Any]:
        return [actor.run.remote() for actor in self.actors]

    def shutdown(self, timeout_s: float = 10.0) -> None:
        """Stop the actors' loops, then kill every process of the run."""
        import ray

        with contextlib.suppress(Exception):
            ray.wait([a.stop.remote() for a in self.actors], num_returns=len(self.actors), timeout=timeout_s)
        for handle in [*self.actors, *self.learner.ranks, self.source]:
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)
        with contextlib.suppress(Exception):
            self.queue.shutdown(force=True)


def start_cluster(
    cfg: TrainConfig, init: ModelInit, source_args: dict, preflight: Callable | None = None
) -> Cluster:
    """Create the source, queue, learner ranks (set up and sharded; rank 0 runs `preflight` on its model
    first) and actors; join the weight group."""
    import ray
    from ray.util.queue import Queue

    from golddiff.rl.actor import GenerationActor
    from golddiff.rl.learner import Learner
    from golddiff.rl.source import PromptSource

    check_resources(cfg)
    source = ray.remote(PromptSource).options(num_cpus=0, max_restarts=0).remote(**source_args)
    queue = Queue(maxsize=cfg.queue_groups, actor_options={"num_cpus": 0})
    learner_cls = ray.remote(Learner).options(
        num_cpus=cfg.learner.num_cpus, num_gpus=cfg.learner.num_gpus, max_restarts=0
    )
    actor_cls = ray.remote(GenerationActor).options(
        num_cpus=cfg.actors.num_cpus, num_gpus=cfg.actors.num_gpus, max_restarts=cfg.actors.max_restarts,
        max_task_retries=0, max_concurrency=4,
    )  # fmt: skip
    n = cfg.learner.processes
    ranks = [learner_cls.remote(cfg, rank, n, init, preflight) for rank in range(n)]
    actors = [actor_cls.remote(cfg, i, source, queue, init) for i in range(cfg.actors.count)]
    cluster = Cluster(cfg, source, queue, actors, LearnerGroup(ranks))
    try:
        address = ray.get(ranks[0].rendezvous.remote()) if n > 1 else None
        ray.get([rank.setup.remote(address) for rank in ranks] + [a.ping.remote() for a in actors])
        if cfg.learner.weight_transport == "broadcast":
            _open_weight_group(cluster)
    except BaseException:
        cluster.shutdown(timeout_s=1.0)
        raise
    return cluster


def _open_weight_group(cluster: Cluster) -> None:
    """Learner rank 0 (group rank 0) and every actor (ranks 1..n) join one broadcast group, all at once."""
    import ray

    cfg = cluster.cfg
    on_gpus = cfg.learner.num_gpus > 0 and cfg.actors.num_gpus > 0
    backend = cfg.learner.backend if cfg.learner.backend != "auto" else ("nccl" if on_gpus else "gloo")
    host, port = ray.get(cluster.learner.ranks[0].rendezvous.remote())
    world = 1 + len(cluster.actors)
    joins = [cluster.learner.ranks[0].open_weight_group.remote(host, port, world, backend)]
    joins += [
        a.open_weight_group.remote(host, port, i + 1, world, backend) for i, a in enumerate(cluster.actors)
    ]
    ray.get(joins)


def send_weights(cluster: Cluster, message: WeightsMessage) -> list[Any]:
    """Send new weights to every actor; returns refs that resolve once each has them queued to its engine.
    Only then does the driver tell the prompt source (`source.publish`), so the lag budget grows with the
    version the actors actually hold (PipelineRL's "propagated" version), not merely the learner's."""
    return [actor.receive_weights.remote(message) for actor in cluster.actors]
