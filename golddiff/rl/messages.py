"""The typed messages that travel between the processes of a run, each a plain dataclass with a `kind`.

    driver ──publish(WeightsMessage)──▶ prompt source ◀──take()→Grant(PromptTicket…)── actor
    actor ──Group(Sample…)──▶ bounded queue ──▶ driver ──list[Group]──▶ learner ──StepResult──▶ driver
    learner ──WeightsMessage──▶ driver ──▶ every actor (receive_weights)      actor ──ActorStats──▶ driver

Ray pickles them; no torch in here (token ids, logprobs and versions are Python lists), so the prompt source
and the driver's bookkeeping never import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class PromptTicket:
    """One prompt handed to one actor. `position` is its place in the run's prompt stream (the ledger key);
    `index` the dataset row; `attempt` counts re-issues (after an actor died or a run resumed)."""

    position: int
    index: int
    prompt_id: str
    attempt: int = 0
    kind: Literal["prompt"] = "prompt"


@dataclass(frozen=True)
class Grant:
    """The prompt source's answer to an actor asking for prompts: zero or more tickets, and the learner's
    latest published weight version (the actor may start a ticket only with weights at most K behind it)."""

    tickets: tuple[PromptTicket, ...]
    learner_version: int
    kind: Literal["grant"] = "grant"


@dataclass
class Sample:
    """One completion: its tokens, each token's sampling logprob (fp32, after temperature) and the weight
    version that produced it, and its reward."""

    token_ids: list[int]
    logprobs: list[float]
    weight_versions: list[int]
    reward: float
    format_error: bool = False
    finish_reason: str = "length"
    kind: Literal["sample"] = "sample"


@dataclass
class Group:
    """The G samples of one prompt, as an actor pushes them to the queue. `skipped` (no samples) says why a
    prompt could not be generated (e.g. longer than the engine takes); it is consumed but never trained."""

    position: int
    prompt_id: str
    prompt_ids: list[int]
    samples: list[Sample]
    actor: int = 0
    incarnation: str = ""
    attempt: int = 0
    started_version: int = 0  # the actor's weight version when the prompt was admitted
    text: list[str] = field(default_factory=list)  # decoded answers (kept for rollouts.jsonl)
    skipped: str | None = None
    kind: Literal["group"] = "group"


@dataclass(frozen=True)
class WeightsMessage:
    """New weights are available. `transport` says how to get them: "object_store" (`payload` is a Ray
    ObjectRef of a name → tensor dict) or "broadcast" (`payload` lists (name, shape, dtype) in send order;
    the tensors come over the weight group). `version` is the learner's version after the step."""

    version: int
    transport: str
    payload: Any
    nbytes: int = 0
    export_s: float = 0.0
    kind: Literal["weights"] = "weights"


@dataclass
class ActorStats:
    """Cumulative counters of one actor incarnation, polled by the driver once per step."""

    actor: int
    incarnation: str
    tokens: int  # generated
    busy_s: float  # seconds inside engine.step
    decode_steps: int
    occupied: int  # occupied slots summed over decode steps (÷ decode_steps = mean active sequences)
    weight_version: int
    weight_updates: int
    weight_update_s: float
    in_flight: int  # prompts admitted and not yet pushed
    kind: Literal["actor_stats"] = "actor_stats"


@dataclass
class StepResult:
    """What one learner step reports: metrics (names in docs/architecture.md, "Metrics"), the lag histogram (count of trained
    tokens per lag 0, 1, ...) and the token accounting of the batch."""

    step: int
    version: int
    metrics: dict[str, float]
    lag_hist: list[int]
    accounting: dict[str, int]
    train_s: float
    kind: Literal["step_result"] = "step_result"


@dataclass(frozen=True)
class ModelInit:
    """Where a process loads its weights from: `path` (a checkpoint dir in Hugging Face format; None: the
    config's model) at weight `version`; the learner also restores `optimizer` and `rng` files if given."""

    path: str | None = None
    version: int = 0
    optimizer: str | None = None
    rng: str | None = None
    kind: Literal["model_init"] = "model_init"
