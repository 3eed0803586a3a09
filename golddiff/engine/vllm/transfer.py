"""Weights into a running vLLM through its weight-transfer API (`vllm.distributed.weight_transfer`).

vLLM 0.32 splits a weight update into a trainer-side engine that drives the round trip through a client
(`start_weight_update` → `update_weights` × chunks → `finish_weight_update`) and a worker-side engine that
receives each chunk and loads it into the model. Its built-in backends move tensors between GPUs (NCCL,
CUDA IPC); golddiff's engine runs vLLM in the actor's own process, where the learner's weights already
are (they came over the Ray object store or a gloo/NCCL group, `golddiff.rl.transport`), so this module
registers one more backend, "golddiff_inline": the chunk carries the tensors themselves. Loading goes
through vLLM's layer-wise reload (`initialize_layerwise_reload` / `finalize_layerwise_reload`), as its
IPC backend does, because on CPU vLLM repacks every linear layer's weight for oneDNN after loading:
copying into the parameters alone would leave the kernels computing with the old weights.

    register()                                          # once per process, before the LLMEngine is built
    sender = InlineSender(LLMEngineClient(llm_engine))  # trainer side, in the same process
    sender.send_weights(state_dict)                     # start → one chunk per layer → finish

A chunk must hold every tensor of each layer it touches (vLLM fuses q/k/v and gate/up into one kernel);
`check_complete` refuses an update that misses some of the model's tensors, naming them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch

BACKEND = "golddiff_inline"


def register() -> None:
    """Register the worker-side and trainer-side "golddiff_inline" engines with vLLM's factories
    (idempotent)."""
    from vllm.distributed.weight_transfer.factory import (
        WeightTransferEngineFactory,
        WeightTransferTrainerFactory,
    )

    worker, trainer = _classes()
    # a layer with no weights to load (rotary embeddings: a computed cache) is "Failed to load" on every update
    logging.getLogger("vllm.model_executor.model_loader.reload.layerwise").addFilter(_quiet_rotary)
    if BACKEND not in WeightTransferEngineFactory._registry:
        WeightTransferEngineFactory.register_engine(BACKEND, worker)
    if BACKEND not in WeightTransferTrainerFactory._registry:
        WeightTransferTrainerFactory.register_engine(BACKEND, trainer)


def _quiet_rotary(record: logging.LogRecord) -> bool:
    return "RotaryEmbedding: Failed to load weights" not in record.getMessage()


_CLASSES: tuple[type, type] | None = None


def _classes() -> tuple[type, type]:
    """The two engine classes, defined on first use so that importing this module does not import vLLM."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _define()
    return _CLASSES


def _define() -> tuple[type, type]:
    from vllm.distributed.weight_transfer.base import (
        TrainerInitInfo,
        TrainerWeightTransferEngine,
        WeightTransferEngine,
        WeightTransferInitInfo,
        WeightTransferUpdateInfo,
    )
    from vllm.model_executor.model_loader.reload import (
        finalize_layerwise_reload,
        initialize_layerwise_reload,
    )

    @dataclass
    class InlineInitInfo(WeightTransferInitInfo):
        """Nothing to rendezvous: sender and receiver share the process."""

    @dataclass
    class InlineUpdateInfo(WeightTransferUpdateInfo):
        names: list[str] = field(default_factory=list)
        tensors: list[torch.Tensor] = field(default_factory=list)

    class InlineWeightTransferEngine(WeightTransferEngine[InlineInitInfo, InlineUpdateInfo]):
        """Worker side: load the chunk's tensors with the model's own `load_weights` (which maps Hugging
        Face names onto vLLM's fused layers), inside a layer-wise reload so that each layer is re-processed
        (repacked) once all its tensors have arrived."""

        init_info_cls = InlineInitInfo
        update_info_cls = InlineUpdateInfo

        def init_transfer_engine(self, init_info: InlineInitInfo) -> None:
            pass

        def start_weight_update(self) -> None:
            initialize_layerwise_reload(self.model)

        def finish_weight_update(self) -> None:
            finalize_layerwise_reload(self.model, self.model_config)

        def update_weights(self, update_info: dict[str, Any]) -> None:
            # no device synchronisation needed: the copies ran in this thread
            self.receive_weights(self.parse_update_info(update_info))

        def receive_weights(self, update_info: InlineUpdateInfo) -> None:
            with torch.no_grad():
                self.model.load_weights(list(zip(update_info.names, update_info.tensors)))

        def shutdown(self) -> None:
            pass

    @dataclass
    class InlineTrainerInitInfo(TrainerInitInfo):
        backend = BACKEND

    class InlineTrainerWeightTransferEngine(TrainerWeightTransferEngine[InlineTrainerInitInfo]):
        """Trainer side: one `update_weights` chunk per layer (vLLM's `layerwise_groups`), between
        `start_weight_update` and `finish_weight_update`."""

        init_info_cls = InlineTrainerInitInfo

        @classmethod
        def trainer_init(cls, init_info, *, client, source=None):
            client.init_weight_transfer_engine({})
            return cls(client=client, source=source, is_sender=init_info.is_sender)

        def send_weights(self, weights: Mapping[str, torch.Tensor] | None = None) -> None:
            from vllm.distributed.weight_transfer.base import layerwise_groups

            weights = weights if weights is not None else dict(self.source or {})
            self.client.start_weight_update()
            for group in layerwise_groups(list(weights)):
                self.client.update_weights({"names": group, "tensors": [weights[n] for n in group]})
            self.client.finish_weight_update()

    return InlineWeightTransferEngine, InlineTrainerWeightTransferEngine


class LLMEngineClient:
    """vLLM's `VLLMWeightSyncClient` protocol over an in-process `vllm.LLMEngine` (its `collective_rpc`)."""

    def __init__(self, llm_engine: Any) -> None:
        self.llm = llm_engine

    def init_weight_transfer_engine(self, init_info: dict[str, Any]) -> None:
        self.llm.collective_rpc("init_weight_transfer_engine", kwargs={"init_info": init_info})

    def start_weight_update(self) -> None:
        self.llm.collective_rpc("start_weight_update")

    def update_weights(self, update_info: dict[str, Any]) -> None:
        self.llm.collective_rpc("update_weights", kwargs={"update_info": update_info})

    def finish_weight_update(self, weight_version: str | None = None) -> None:
        self.llm.collective_rpc("finish_weight_update")
        if weight_version is not None:
            self.llm.set_weight_version(weight_version)


def inline_sender(llm_engine: Any) -> Any:
    """The trainer-side "golddiff_inline" engine for `llm_engine`, built through vLLM's trainer factory."""
    from vllm.distributed.weight_transfer.factory import WeightTransferTrainerFactory

    register()
    init_info = _classes()[1].init_info_cls(rank=0)
    return WeightTransferTrainerFactory.trainer_init(init_info, client=LLMEngineClient(llm_engine))


@dataclass
class WeightNames:
    """The names a full update must cover: every tensor of the model's state dict, where names that alias
    one tensor (tied embeddings) count as one and any of them will do."""

    groups: list[tuple[str, ...]]

    @classmethod
    def of(cls, model: torch.nn.Module) -> WeightNames:
        by_tensor: dict[int, list[str]] = {}
        for name, tensor in model.state_dict(keep_vars=True).items():
            by_tensor.setdefault(id(tensor), []).append(name)
        return cls([tuple(names) for names in by_tensor.values()])

    def with_aliases(self, state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """`state` with every alias of a tied tensor it holds under one name: the learner sends tied
        embeddings once (`golddiff.rl.transport.dedupe_tied`), while vLLM reloads its LM head only from
        `lm_head.weight` (from `model.embed_tokens.weight` alone it keeps computing with the old head)."""
        out = dict(state)
        for group in self.groups:
            given = next((out[n] for n in group if n in out), None)
            if given is not None:
                out |= {n: given for n in group if n not in out}
        return out

    def check_complete(self, names: set[str]) -> None:
        """ValueError naming what the update misses or has that the model does not."""
        known = {n for group in self.groups for n in group}
        unknown = sorted(names - known)
        if unknown:
            raise ValueError(
                f"weight update has {len(unknown)} tensor(s) the model does not, e.g. {unknown[:3]} "
                f"(the model has e.g. {self.groups[0][0]!r})"
            )
        missing = [group[0] for group in self.groups if not names.intersection(group)]
        if missing:
            raise ValueError(
                f"the vllm engine takes full weight updates (vLLM fuses q/k/v and gate/up, so one layer "
                f"loads whole); this one misses {len(missing)} of {len(self.groups)} tensors, e.g. "
                f"{missing[:3]}"
            )
