"""What golddiff asks of a generation engine: the `Engine` protocol, and `StepEngine` for Pipeline RL actors.

Every consumer types against these, never against the built-in class: `golddiff.evaluate` and the drift
check (`golddiff.checks.drift`) use an `Engine`; a Pipeline RL actor (`golddiff.rl.actor`) and
`EngineThread` drive a `StepEngine` one step at a time, so they can admit new prompts between decode steps
(lag-bounded admission) while weights arrive from another thread.

    engine: Engine = BuiltinEngine(model, tokenizer, max_batch=32, max_len=1024)
    for completion in engine.generate([Request(prompt_ids, SamplingParams(n=4))]):
        ...                                          # Completion: token ids, logprobs, weight versions
    engine.update_weights(state_dict, version=7)     # any thread; applied before the next decode step
    engine.stats()                                   # throughput, occupancy, versions seen, update times

A new engine (vLLM's, for example) plugs in by implementing these methods with the same types
(`golddiff.engine.types`: `Request`, `SamplingParams`, `Completion`) and the same promises:
- `generate(requests)` queues the requests and yields one `Completion` per sample as it finishes, until
  nothing is left (including samples of requests others added meanwhile); every token carries its fp32
  logprob under the distribution it was sampled from and the weight version that produced it.
- `update_weights(weights, version, recompute_kv=None)` may be called from any thread; the new weights
  apply before the next decode step, sequences in flight keep their KV cache unless `recompute_kv`.
  `weights` is a mapping name → tensor (full or partial), a safetensors file or folder, or a callable
  returning a mapping (`golddiff.engine.weights.StateDictOrRef`).
- `stats()` returns a flat dict with at least `tokens_generated`, `decode_steps`, `slot_occupancy`,
  `weight_version`, `weight_updates` and `weight_update_s` (what an actor reports).
A `StepEngine` adds the primitives `generate` is built on: `add_request(request)` (any thread),
`has_work()` and `step()` (one decode step for every active sequence; returns the samples that finished).
vLLM's `LLMEngine` has the same shape (`add_request`, `has_unfinished_requests`, `step`).
No torch at import.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from golddiff.engine.types import Completion, Request

if TYPE_CHECKING:
    from golddiff.engine.weights import StateDictOrRef


@runtime_checkable
class Engine(Protocol):
    """The three calls every golddiff engine has."""

    def generate(self, requests: Iterable[Request]) -> Iterator[Completion]: ...

    def update_weights(
        self, weights: StateDictOrRef, version: int, recompute_kv: bool | None = None
    ) -> None: ...

    def stats(self) -> dict[str, Any]: ...


@runtime_checkable
class StepEngine(Engine, Protocol):
    """An `Engine` that can also be driven one decode step at a time (what a Pipeline RL actor needs)."""

    def add_request(self, request: Request) -> Any: ...

    def has_work(self) -> bool: ...

    def step(self) -> list[Completion]: ...
