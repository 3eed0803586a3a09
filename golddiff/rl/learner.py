"""The learner: groups in, one optimizer step out (= one new weight version), weights published.

    learner = Learner(cfg, rank=0, world=1, init=ModelInit())
    learner.setup()
    result = learner.train_step(groups)          # StepResult: metrics, lag histogram, token accounting
    message = learner.publish_weights()          # WeightsMessage for the actors (rank 0)
    learner.save_checkpoint("run/checkpoints/.step_10.tmp")

A step: per-group advantages → rows → stale policy (count; mask/drop/keep) → micro-batches of at most
`learner.micro_batch_tokens` padded tokens → per micro-batch the fp32-head logprobs, the truncated-IS loss
and backward (gradients accumulate; the loss is already divided by the constant Z) → gradient clip →
AdamW step. Metrics are sums, gathered over ranks before they become ESS, KL, lag.

Several processes (`learner.processes`): each is a rank of a torch.distributed group (gloo on CPU, NCCL on
GPUs) and the model is sharded with FSDP2 (`fully_shard` on every decoder layer, then on the root wrapper,
so tied embeddings stay together); every rank sees every group, takes its round-robin share of the rows,
and runs the same number of micro-batches (empty ones if it has fewer rows). FSDP2 averages gradients over
ranks, so each rank backpropagates world × its loss: the loss is a sum over tokens ÷ Z, and the sharded
gradient equals the single-process one. With `model.learner_dtype: bfloat16` on GPU, FSDP2 computes in bf16 with fp32
master weights and reductions (a single process uses autocast); the LM head and log-softmax stay fp32.
Runs as a Ray actor (`trainer.py`) or in a plain process (the FSDP test spawns two with torch.multiprocessing).
"""

from __future__ import annotations

import datetime
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from time import perf_counter
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from golddiff.config import torch_dtype
from golddiff.rl.batch import (
    TokenAccounting,
    TrainBatch,
    apply_stale_policy,
    build_batch,
    plan_micro_batches,
    rows_from_groups,
)
from golddiff.rl.config import TrainConfig
from golddiff.rl.devices import quiet_libraries, resolve_device, set_threads
from golddiff.rl.loss import OffPolicyStats, PolicyModel, advantages_of, lag_stats, policy_loss
from golddiff.rl.messages import Group, ModelInit, StepResult, WeightsMessage
from golddiff.rl.transport import BroadcastGroup, ObjectStoreSender, free_address

OPTIMIZER_FILE, RNG_FILE = "optimizer.pt", "rng.pt"


def decoder_layers(model: nn.Module) -> list[nn.Module]:
    """The transformer blocks of a HF causal LM (Llama/Qwen/Mistral `model.layers`, GPT-2 `transformer.h`)."""
    backbone = getattr(model, model.base_model_prefix)
    layers = getattr(backbone, "layers", None) or getattr(backbone, "h", None)
    if layers is None:
        raise NotImplementedError(f"cannot find the decoder layers of {type(model).__name__}")
    return list(layers)


def apply_lora(model: nn.Module, cfg: TrainConfig) -> nn.Module:
    try:
        import peft
    except ImportError:
        raise RuntimeError("rl.lora.enabled needs peft: pip install 'golddiff[lora]'") from None
    lora = cfg.rl.lora
    config = peft.LoraConfig(
        r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout, target_modules=lora.target_modules,
        task_type="CAUSAL_LM",
    )  # fmt: skip
    return peft.get_peft_model(model, config).get_base_model()  # LoRA layers injected in place


def _merged_lora_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """Base weights with the LoRA deltas merged in, under the base model's own names."""
    state = {}
    with torch.no_grad():
        for name, module in model.named_modules():
            if hasattr(module, "base_layer") and hasattr(module, "get_delta_weight"):
                delta = sum(module.get_delta_weight(a) for a in module.active_adapters)
                state[f"{name}.weight"] = module.base_layer.weight + delta
        for name, tensor in model.state_dict().items():
            clean = name.replace(".base_layer", "")
            if "lora_" not in name and clean not in state:
                state[clean] = tensor
    return state


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Learner:
    def __init__(
        self,
        cfg: TrainConfig,
        rank: int = 0,
        world: int = 1,
        init: ModelInit | None = None,
        preflight: Callable[[Any, Any, TrainConfig], Any] | None = None,
    ) -> None:
        """`preflight(model, tokenizer, cfg)` runs on rank 0's model before it is sharded (it raises to
        stop the run; `golddiff.checks.preflight` names each failure and what to do)."""
        self.cfg, self.rank, self.world, self.init = cfg, rank, world, init or ModelInit()
        self.preflight = preflight
        set_threads(cfg.learner.threads, cfg.learner.num_cpus)
        quiet_libraries()
        self.version = self.init.version
        self.sender: Any = None

    # ---- setup ----------------------------------------------------------------------------------------
    def rendezvous(self) -> tuple[str, int]:
        """An address for the learner's process group (called on rank 0 before `setup`)."""
        return free_address()

    def setup(self, address: tuple[str, int] | None = None) -> int:
        """Join the process group (several ranks), load and shard the model, build or restore the
        optimizer; returns the weight version."""
        from golddiff.models import load_model

        cfg = self.cfg
        self.device = resolve_device(cfg.model.device, cfg.learner.num_gpus)
        if self.world > 1:
            backend = cfg.learner.backend
            backend = ("nccl" if self.device.type == "cuda" else "gloo") if backend == "auto" else backend
            host, port = address or ("127.0.0.1", 29500)
            dist.init_process_group(
                backend, init_method=f"tcp://{host}:{port}", rank=self.rank, world_size=self.world,
                timeout=datetime.timedelta(minutes=10),
            )  # fmt: skip
        model, self.tokenizer = load_model(
            self.init.path or cfg.model.name, torch.float32, self.device, cfg.model.seed
        )
        model.train()
        if self.rank == 0 and self.preflight is not None:
            self.preflight(model, self.tokenizer, cfg)
        if cfg.learner.activation_checkpointing:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        if cfg.rl.lora.enabled:
            model = apply_lora(model, cfg)
        self.policy = PolicyModel(model)
        self.compute_dtype = torch_dtype(cfg.model.learner_dtype)
        if self.world > 1:
            self._shard()
        params = [p for p in self.policy.parameters() if p.requires_grad]
        rl = cfg.rl
        self.optimizer = torch.optim.AdamW(
            params, lr=rl.lr, betas=rl.betas, eps=rl.eps, weight_decay=rl.weight_decay
        )
        if self.init.optimizer:
            self._load_optimizer(self.init.optimizer)
        if self.init.rng:
            set_rng_state(torch.load(self.init.rng, weights_only=False))
        self.pad_id = self.tokenizer.pad_token_id
        if self.pad_id is None:
            self.pad_id = self.tokenizer.eos_token_id or 0
        if self.rank == 0 and cfg.learner.weight_transport == "object_store":
            self.sender = ObjectStoreSender()
        return self.version

    def _shard(self) -> None:
        from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

        mp = None
        if self.compute_dtype != torch.float32:
            mp = MixedPrecisionPolicy(param_dtype=self.compute_dtype, reduce_dtype=torch.float32)
        kwargs = {"mp_policy": mp} if mp else {}
        for layer in decoder_layers(self.policy.model):
            fully_shard(layer, **kwargs)
        fully_shard(self.policy, **kwargs)

    def open_weight_group(self, host: str, port: int, world: int, backend: str) -> bool:
        """Rank 0 joins the weight-broadcast group as its rank 0 (blocks until the actors join)."""
        backend = ("nccl" if self.device.type == "cuda" else "gloo") if backend == "auto" else backend
        self.sender = BroadcastGroup(host, port, 0, world, backend, self.device)
        return True

    # ---- one step -------------------------------------------------------------------------------------
    def train_step(self, groups: list[Group]) -> StepResult:
        """One optimizer step on `groups` (all ranks get all groups); the version goes up by one."""
        t0 = perf_counter()
        if isinstance(self.sender, BroadcastGroup):
            self.sender.join()  # the previous broadcast reads tensors this step is about to change
        stats, accounting, normaliser = self.forward_backward(groups)
        grad_norm = self._clip_and_step()
        self.version += 1
        train_s = perf_counter() - t0
        metrics = stats.metrics() | {
            "optim/grad_norm": grad_norm,
            "optim/lr": self.cfg.rl.lr,
            "loss/normaliser": normaliser,
            "perf/train_tokens_per_s": (accounting.prompt_tokens + accounting.completion_tokens)
            / max(train_s, 1e-9),
            "time/train_s": train_s,
            "data/trained_tokens": float(accounting.trained_tokens),
        }
        return StepResult(self.version, self.version, metrics, stats.lag_hist, accounting.as_dict(), train_s)

    def forward_backward(self, groups: list[Group]) -> tuple[OffPolicyStats, TokenAccounting, float]:
        """Advantages, stale policy, this rank's micro-batches forward and backward (gradients accumulate);
        returns the stats and token accounting summed over ranks, and the normaliser Z."""
        cfg = self.cfg
        rewards = [[s.reward for s in g.samples] for g in groups]
        rows = rows_from_groups(groups, advantages_of(rewards, cfg.rl.advantage, cfg.rl.std_normalise))
        rows, accounting = apply_stale_policy(rows, self.version, cfg.max_lag, cfg.rl.stale)
        plan = plan_micro_batches(rows, self.world, cfg.learner.micro_batch_tokens)
        built_batches = [build_batch(micro, self.pad_id, cfg.learner_max_len) for micro in plan[self.rank]]
        # Z counts the tokens the loss will really see (after truncation), over every rank
        trained = torch.tensor([sum(float(b.loss_mask.sum()) for b, _ in built_batches)], dtype=torch.float64)
        if self.world > 1:
            dist.all_reduce(trained)
        normaliser = cfg.loss_normaliser(int(trained.item()))
        stats, built = OffPolicyStats(), TokenAccounting()
        for batch, acct in built_batches:
            built += acct
            stats += self._forward_backward(batch.to(self.device), normaliser)
        stats, built = self._gather(stats, built)
        accounting += built
        return stats, accounting, normaliser

    def _forward_backward(self, batch: TrainBatch, normaliser: float) -> OffPolicyStats:
        cfg = self.cfg
        autocast = self.world == 1 and self.compute_dtype != torch.float32
        with torch.autocast(self.device.type, dtype=self.compute_dtype, enabled=autocast):
            new_logprobs = self.policy(
                batch.input_ids, batch.attention_mask, batch.targets, batch.loss_mask, cfg.rl.temperature
            )  # (B, T)
        loss, stats = policy_loss(
            new_logprobs, batch.old_logprobs, batch.advantages, batch.loss_mask, normaliser,
            cfg.rl.is_cap, cfg.rl.ppo_clip,
        )  # fmt: skip
        # FSDP2 averages gradients over ranks; the loss is a sum over all ranks' tokens ÷ Z, so scale it back
        # (set_gradient_divide_factor(1) would say the same, but gloo has no PREMUL_SUM reduction)
        (loss * self.world).backward()
        stats += lag_stats(batch.versions, batch.loss_mask, self.version)
        return stats

    def _gather(self, stats: OffPolicyStats, acct: TokenAccounting) -> tuple[OffPolicyStats, TokenAccounting]:
        """Sum the metric sums and token accounting over ranks."""
        if self.world == 1:
            return stats, acct
        gathered: list[Any] = [None] * self.world
        dist.all_gather_object(gathered, (stats, acct))
        total, total_acct = OffPolicyStats(), TokenAccounting()
        for s, a in gathered:
            total += s
            total_acct += a
        return total, total_acct

    def _clip_and_step(self) -> float:
        params = [p for p in self.policy.parameters() if p.requires_grad]
        max_norm = self.cfg.rl.grad_clip if self.cfg.rl.grad_clip is not None else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        norm = norm.full_tensor() if hasattr(norm, "full_tensor") else norm
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return float(norm)

    def full_gradients(self) -> dict[str, torch.Tensor]:
        """Every parameter's whole gradient (collective when sharded), for checks."""
        out = {}
        for name, p in self.policy.named_parameters():
            if p.grad is not None:
                grad = p.grad.full_tensor() if hasattr(p.grad, "full_tensor") else p.grad
                out[name.removeprefix("model.")] = grad.detach().cpu().clone()
        return out

    # ---- weights and checkpoints ----------------------------------------------------------------------
    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The whole model under the Hugging Face names (rank 0; other ranks get {}); collective when sharded."""
        if self.cfg.rl.lora.enabled:
            return _merged_lora_state(self.policy.model)
        if self.world > 1:
            from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

            options = StateDictOptions(full_state_dict=True, cpu_offload=True)
            state = get_model_state_dict(self.policy, options=options)
        else:
            state = self.policy.state_dict()
        return {k.removeprefix("model."): v for k, v in state.items()}

    def publish_weights(self) -> WeightsMessage | None:
        """Hand the current weights to the transport (all ranks call it; rank 0 returns the message)."""
        t0 = perf_counter()
        state = self.full_state_dict()
        if self.rank != 0:
            return None
        dtype = torch_dtype(self.cfg.model.dtype)
        with torch.no_grad():
            state = {k: v.detach().to(dtype) if v.is_floating_point() else v for k, v in state.items()}
        message = self.sender.publish(state, self.version)
        return replace(message, export_s=perf_counter() - t0)

    def save_checkpoint(self, path: str) -> bool:
        """Model (Hugging Face format) + tokenizer, optimizer state, RNG states into `path` (all ranks call)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        state = self.full_state_dict()
        options = StateDictOptions(full_state_dict=True, cpu_offload=True)
        optimizer = get_optimizer_state_dict(self.policy, self.optimizer, options=options)
        if self.rank == 0:
            out = Path(path)
            out.mkdir(parents=True, exist_ok=True)
            self.policy.model.save_pretrained(out, state_dict=state)
            self.tokenizer.save_pretrained(out)
            torch.save(optimizer, out / OPTIMIZER_FILE)
            torch.save(rng_state(), out / RNG_FILE)
        if self.world > 1:
            dist.barrier()
        return True

    def _load_optimizer(self, path: str) -> None:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        state = torch.load(path, map_location="cpu", weights_only=False)
        set_optimizer_state_dict(
            self.policy, self.optimizer, state, options=StateDictOptions(full_state_dict=True)
        )

    def shutdown(self) -> bool:
        """Leave the process group together (no rank tears down while another still talks to it)."""
        if self.world > 1 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        return True
