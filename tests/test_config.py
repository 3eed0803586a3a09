"""The one strict base (every settings object refuses unknown keys), the one dtype parser, and configs that
import without torch."""

import subprocess
import sys

import pytest
from pydantic import ValidationError

from golddiff.checks import DriftThresholds
from golddiff.config import DTYPE_BYTES, ConfigError, Strict, parse_dtype, torch_dtype
from golddiff.demo import DemoSettings
from golddiff.episodes import Episode
from golddiff.evaluate import EvalSettings
from golddiff.reward import RewardSettings
from golddiff.rl.config import TrainConfig
from golddiff.sft import SFTConfig
from golddiff.sim.config import SimConfig
from golddiff.sim.plan import Settings as PlanSettings
from golddiff.tasks import Task, TaskSettings
from golddiff.traces.session import ReadOptions
from golddiff.traces.stdlib_bugs import Settings as MineSettings

SETTINGS = [
    DemoSettings,
    EvalSettings,
    SFTConfig,
    RewardSettings,
    TaskSettings,
    ReadOptions,
    MineSettings,
    DriftThresholds,
    SimConfig,
]


@pytest.mark.parametrize("model", SETTINGS, ids=lambda m: m.__name__)
def test_every_settings_object_refuses_unknown_keys(model):
    assert issubclass(model, Strict)
    model()  # the defaults are valid
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        model(no_such_setting=1)


def test_schemas_and_configs_with_required_fields_are_strict_too():
    for model in (PlanSettings, TrainConfig, Task, Episode):
        assert issubclass(model, Strict)
    with pytest.raises(ValidationError, match="Extra inputs"):
        PlanSettings(gpus=8, seq_len=4096, global_batch_tokens=1 << 20, mfu_typo=0.5)


def test_one_dtype_parser_for_every_spelling():
    assert {parse_dtype(n) for n in ("fp32", "float32", "torch.float32")} == {"float32"}
    assert parse_dtype("bf16") == parse_dtype("bfloat16") == "bfloat16"
    assert DTYPE_BYTES[parse_dtype("fp16")] == 2
    with pytest.raises(ConfigError, match="unknown dtype 'fp8'; expected one of fp32"):
        parse_dtype("fp8")
    torch = pytest.importorskip("torch")
    assert torch_dtype("bf16") is torch.bfloat16 and torch_dtype(torch.float16) is torch.float16


def test_train_config_reads_dtype_aliases():
    cfg = TrainConfig.model_validate({"model": {"dtype": "bf16"}, "data": {"synthetic": {}}})
    assert cfg.model.dtype == "bfloat16" and cfg.model.learner_dtype == "float32"
    with pytest.raises(ValidationError, match="unknown dtype 'fp8'"):
        TrainConfig.model_validate({"model": {"learner_dtype": "fp8"}, "data": {"synthetic": {}}})


def test_settings_modules_import_without_torch():
    modules = ["golddiff.config", "golddiff.demo", "golddiff.evaluate", "golddiff.sim.plan", "golddiff.rl.config", "golddiff.models", "golddiff.rl.data",
               "golddiff.sim.config", "golddiff.tasks", "golddiff.reward", "golddiff.traces.session"]  # fmt: skip
    code = f"import sys; import {', '.join(modules)}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
