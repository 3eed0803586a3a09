"""The `golddiff simulate` config: pydantic models that reject unknown keys (loaded from YAML with `--a.b=value`
overrides by `golddiff.config`), and the output-length distributions (log-normal from a median and p99, or empirical from a run).

Every throughput figure left empty (`null`) is derived from the model size and the GPU's figures in
golddiff/data/hardware.yaml (see `derived_engine`, `derived_learner_rate`); give a number to override.
No torch, no numpy at import.
"""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator

from golddiff.config import Strict, load_config

Mode = Literal["sync", "one_step_off", "pipeline"]
Z99 = 2.3263478740408408  # standard normal quantile at 0.99


class ModelConfig(Strict):
    params_b: float = Field(7.0, gt=0, description="parameters, billions")
    kv_bytes_per_token: float | None = Field(
        None, description="bf16 KV cache bytes per token; null: from shape"
    )


class ClusterConfig(Strict):
    gpu: str = "h100"
    gen_gpus: int = Field(4, ge=1, description="GPUs running generation engines (one_step_off, pipeline)")
    train_gpus: int = Field(4, ge=1, description="GPUs running the learner (one_step_off, pipeline)")


class SyncConfig(Strict):
    """Conventional RL: generate a round of optimizer_steps_per_batch x samples_per_step samples with one set
    of weights, wait for the last, train that many optimizer steps, broadcast."""

    colocated: bool = Field(True, description="generation and training time-share all gen_gpus + train_gpus")
    optimizer_steps_per_batch: int = Field(1, ge=1, description="G: steps trained per generated round")


class EngineConfig(Strict):
    """Decode step time = step_base_s + step_per_seq_s·active + step_per_ctx_token_s·(context tokens)."""

    gpus_per_engine: int = Field(1, ge=1)
    max_active_seqs: int = Field(256, ge=1, description="continuous-batching slots per engine")
    step_base_s: float | None = Field(
        None, ge=0, description="a: weights read once per step + launch overhead"
    )
    step_per_seq_s: float | None = Field(None, ge=0, description="b: per active sequence (matmul FLOPs)")
    step_per_ctx_token_s: float | None = Field(None, ge=0, description="c: per token of KV cache read")
    prefill_per_token_s: float | None = Field(None, ge=0, description="prompt tokens, once per group")
    launch_overhead_s: float = Field(0.002, ge=0)
    decode_mfu: float = Field(0.5, gt=0, le=1, description="share of peak for decode/prefill matmuls")


class LearnerConfig(Strict):
    tokens_per_s_per_gpu: float | None = Field(None, gt=0, description="null: mfu·peak / (6·params)")
    mfu: float = Field(0.35, gt=0, le=1)
    step_overhead_s: float = Field(1.0, ge=0, description="optimizer step, logging, fixed per step")


class WeightsConfig(Strict):
    """Broadcast of new weights to the engines: bytes ÷ bandwidth + latency (or a measured broadcast_s)."""

    bytes: float | None = Field(None, gt=0, description="null: 2 bytes per parameter (bf16)")
    bandwidth_bytes_per_s: float = Field(25e9, gt=0)
    latency_s: float = Field(0.5, ge=0)
    broadcast_s: float | None = Field(None, ge=0, description="measured total; overrides the formula")


class RLConfig(Strict):
    samples_per_step: int = Field(256, ge=1, description="samples per optimizer step (batch)")
    group_size: int = Field(
        8, ge=1, description="samples per prompt; a group is admitted and trained together"
    )
    prompt_tokens: int = Field(256, ge=0)
    max_off_policy_steps: int = Field(
        1, ge=0, description="pipeline admission bound (lag in optimizer steps)"
    )
    stale: Literal["keep", "drop"] = Field(
        "keep", description="samples over the bound: train and count, or drop"
    )

    @model_validator(mode="after")
    def _groups_divide_batch(self) -> RLConfig:
        if self.samples_per_step % self.group_size:
            raise ValueError(
                f"samples_per_step ({self.samples_per_step}) must be a multiple of group_size ({self.group_size})"
            )
        return self


class LengthConfig(Strict):
    kind: Literal["lognormal", "empirical"] = "lognormal"
    median: float = Field(1000.0, gt=0)
    p99: float = Field(6000.0, gt=0)
    max_tokens: int = Field(8192, ge=1, description="generation cap: longer samples are cut here")
    min_tokens: int = Field(1, ge=1)
    path: str | None = Field(None, description="empirical: a run's metrics.jsonl or a rollouts JSONL file")

    @model_validator(mode="after")
    def _check(self) -> LengthConfig:
        if self.kind == "lognormal" and self.p99 < self.median:
            raise ValueError(f"p99 ({self.p99}) must be >= median ({self.median})")
        if self.kind == "empirical" and not self.path:
            raise ValueError("lengths.kind=empirical needs lengths.path")
        return self


class SimConfig(Strict):
    name: str = "simulation"
    seed: int = 0
    steps: int = Field(50, ge=1, description="optimizer steps to simulate per mode")
    modes: list[Mode] = Field(default_factory=lambda: ["sync", "one_step_off", "pipeline"])
    model: ModelConfig = Field(default_factory=ModelConfig)
    cluster: ClusterConfig = Field(default_factory=ClusterConfig)
    sync: SyncConfig = Field(default_factory=SyncConfig)
    engine: EngineConfig = Field(default_factory=EngineConfig)
    learner: LearnerConfig = Field(default_factory=LearnerConfig)
    weights: WeightsConfig = Field(default_factory=WeightsConfig)
    rl: RLConfig = Field(default_factory=RLConfig)
    lengths: LengthConfig = Field(default_factory=LengthConfig)


def load_sim_config(path: str | Path | None, overrides: list[str] | None = None) -> SimConfig:
    """A SimConfig from YAML (or defaults) plus dotted overrides; errors name the file and valid keys."""
    return load_config(SimConfig, path, overrides)


# ---------------------------------------------------------------- output lengths


def lognormal_params(median: float, p99: float) -> tuple[float, float]:
    """(mu, sigma) of a log-normal with this median and 99th percentile."""
    return math.log(median), max(math.log(p99 / median) / Z99, 1e-9)


class LengthSampler:
    """Output lengths in tokens, clipped to [min_tokens, max_tokens]. Empirical sources:
    a rollouts JSONL (one sample per line with `output_len`, `completion_len`, `n_tokens`, `length` or a list
    `completion_ids`/`output_ids`), or a run's metrics.jsonl, where each step's `gen/len_p50`/`gen/len_p99`
    defines a log-normal and a sample picks a step at random."""

    def __init__(self, cfg: LengthConfig, rng: random.Random):
        self.cfg, self.rng = cfg, rng
        self.values: list[int] = []
        self.steps: list[tuple[float, float]] = []
        if cfg.kind == "empirical":
            self.values, self.steps = read_empirical_lengths(Path(cfg.path or ""))
        else:
            self.steps = [lognormal_params(cfg.median, cfg.p99)]

    def sample(self) -> int:
        if self.values:
            n = self.rng.choice(self.values)
        else:
            mu, sigma = self.rng.choice(self.steps)
            n = int(round(self.rng.lognormvariate(mu, sigma)))
        return max(self.cfg.min_tokens, min(self.cfg.max_tokens, n))


_LEN_KEYS = ("output_len", "completion_len", "n_tokens", "length", "num_tokens")
_ID_KEYS = ("completion_ids", "output_ids", "token_ids")


def read_empirical_lengths(path: Path) -> tuple[list[int], list[tuple[float, float]]]:
    """(sample lengths, per-step log-normal params) from a rollouts or metrics JSONL file."""
    if not path.is_file():
        raise ValueError(f"lengths.path {str(path)!r}: no such file")
    values, steps = [], []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                raise ValueError(f"{path}:{lineno}: not JSON ({e})") from None
            length = _row_length(row)
            if length is not None:
                values.append(length)
            elif "gen/len_p50" in row and "gen/len_p99" in row:
                steps.append(lognormal_params(float(row["gen/len_p50"]), float(row["gen/len_p99"])))
    if not values and not steps:
        raise ValueError(
            f"{path}: no output lengths found: expected rows with one of {', '.join(_LEN_KEYS + _ID_KEYS)}, "
            "or metrics rows with gen/len_p50 and gen/len_p99"
        )
    return values, steps


def _row_length(row: dict) -> int | None:
    for key in _LEN_KEYS:
        if isinstance(row.get(key), int | float):
            return int(row[key])
    for key in _ID_KEYS:
        if isinstance(row.get(key), list):
            return len(row[key])
    return None


# ---------------------------------------------------------------- figures derived from hardware


def model_bytes(cfg: SimConfig) -> float:
    return cfg.weights.bytes or 2 * cfg.model.params_b * 1e9


def kv_bytes_per_token(cfg: SimConfig) -> float:
    if cfg.model.kv_bytes_per_token is not None:
        return cfg.model.kv_bytes_per_token
    from golddiff.sim.shapes import shape_from_size

    return shape_from_size(cfg.model.params_b).kv_bytes_per_token


def derived_engine(cfg: SimConfig) -> dict[str, float]:
    """a, b, c and prefill cost of one engine, from HBM bandwidth and peak FLOP/s where not given:
    a = weight bytes / HBM bandwidth + launch overhead (decode reads every weight once per step),
    b = 2·params / (decode_mfu·peak) (one token's matmuls), c = KV bytes per token / HBM bandwidth."""
    from golddiff.sim.hardware import load_hardware

    hw, e = load_hardware(cfg.cluster.gpu), cfg.engine
    gpus, params = e.gpus_per_engine, cfg.model.params_b * 1e9
    flops = e.decode_mfu * hw.peak_bf16_flops * gpus
    return {
        "a": e.step_base_s if e.step_base_s is not None else model_bytes(cfg) / (hw.hbm_bandwidth * gpus) + e.launch_overhead_s,
        "b": e.step_per_seq_s if e.step_per_seq_s is not None else 2 * params / flops,
        "c": e.step_per_ctx_token_s if e.step_per_ctx_token_s is not None else kv_bytes_per_token(cfg) / (hw.hbm_bandwidth * gpus),
        "prefill": e.prefill_per_token_s if e.prefill_per_token_s is not None else 2 * params / flops,
    }  # fmt: skip


def derived_learner_rate(cfg: SimConfig) -> float:
    """Learner tokens/s per GPU: given, or mfu·peak / (6·params) (forward + backward)."""
    if cfg.learner.tokens_per_s_per_gpu is not None:
        return cfg.learner.tokens_per_s_per_gpu
    from golddiff.sim.hardware import load_hardware

    return cfg.learner.mfu * load_hardware(cfg.cluster.gpu).peak_bf16_flops / (6 * cfg.model.params_b * 1e9)


def broadcast_seconds(cfg: SimConfig) -> float:
    w = cfg.weights
    return (
        w.broadcast_s
        if w.broadcast_s is not None
        else model_bytes(cfg) / w.bandwidth_bytes_per_s + w.latency_s
    )
