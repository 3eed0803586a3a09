"""Calibration on run dirs laid out as `golddiff train` writes them (config.yaml with actors/learner sections,
metrics.jsonl without the simulator-only keys, rollouts.jsonl, a checkpoint): the component models are
recovered, the run's own prompt length, parameter count, actors and batch are used (not defaults), and
the fitted simulation predicts each run, a held-out pair and the pipeline/sync ratio."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors.numpy import save_file

from golddiff.sim.calibrate import calibrate, fit_lengths, read_run
from golddiff.sim.config import load_sim_config
from golddiff.sim.report import step_metrics
from golddiff.sim.simulate import Simulation

STEPS, PROMPT, GROUP = 40, 20, 8
TRUE = {"a": 0.002, "b": 0.0004, "rate": 2000.0, "overhead": 0.2, "broadcast": 0.05}
PARAMS = 300 * 100 + 300  # in the checkpoint written below


def train_run_dir(
    path: Path, mode: str, seed: int = 0, prompts: int = 8, actors: int = 1, p99: int = 200, kept: int = 64
) -> Path:
    """A run with the TRUE components, simulated, then written as `golddiff train` would (`kept` samples
    per step in rollouts.jsonl)."""
    cfg = load_sim_config(None, [
        f"steps={STEPS}", f"seed={seed}", f"cluster.gen_gpus={actors}", "cluster.train_gpus=1",
        "sync.colocated=false", "engine.max_active_seqs=128", f"engine.step_base_s={TRUE['a']}",
        f"engine.step_per_seq_s={TRUE['b']}", "engine.step_per_ctx_token_s=0", "engine.prefill_per_token_s=0",
        f"learner.tokens_per_s_per_gpu={TRUE['rate']}", f"learner.step_overhead_s={TRUE['overhead']}",
        f"weights.broadcast_s={TRUE['broadcast']}", f"rl.samples_per_step={prompts * GROUP}",
        f"rl.group_size={GROUP}", f"rl.prompt_tokens={PROMPT}", "rl.max_off_policy_steps=1",
        "lengths.median=10", f"lengths.p99={p99}", "lengths.max_tokens=320",
    ])  # fmt: skip
    result = Simulation(cfg, mode).run()
    path.mkdir(parents=True)
    config = {
        "mode": mode, "model": {"name": "tiny", "seed": seed},
        "rl": {"group_size": GROUP, "prompts_per_step": prompts, "max_new_tokens": 320, "max_off_policy_steps": 1},
        "actors": {"count": actors, "max_batch": 128}, "learner": {"processes": 1},
        "run": {"steps": STEPS, "rollouts_per_step": kept},
    }  # fmt: skip
    (path / "config.yaml").write_text(yaml.safe_dump(config))
    simulator_only = ("gen/ctx_tokens_mean", "samples", "data/stale_trained")
    rows = [{k: v for k, v in r.items() if k not in simulator_only} for r in step_metrics(result)]
    (path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rollouts = [
        {"step": s.step, "prompt_len": PROMPT, "completion_len": n}
        for s in result.steps
        for n in s.lengths[:kept]
    ]
    (path / "rollouts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rollouts))
    checkpoint = path / "checkpoints" / f"step_{STEPS}"
    checkpoint.mkdir(parents=True)
    weights = {"w": np.zeros((300, 100), np.float32), "norm": np.zeros(300, np.float32)}
    save_file(weights, str(checkpoint / "model.safetensors"))
    return path


@pytest.fixture(scope="module")
def pairs(tmp_path_factory) -> dict[str, list[Path]]:
    root = tmp_path_factory.mktemp("runs")
    return {
        "fit": [train_run_dir(root / "fit" / m, m) for m in ("sync", "pipeline")],
        "held": [
            train_run_dir(root / "held" / m, m, seed=1, prompts=4, p99=120) for m in ("sync", "pipeline")
        ],
    }


def test_components_recovered_from_train_run_dirs(pairs):
    cal = calibrate(pairs["fit"])
    assert cal.a == pytest.approx(TRUE["a"], rel=0.03)
    assert cal.b == pytest.approx(TRUE["b"], rel=0.03)
    assert cal.c == 0.0 and cal.fitted == ["a", "b"]  # no context measured: folded into b
    assert cal.tokens_per_s_per_gpu == pytest.approx(TRUE["rate"], rel=0.02)
    assert cal.step_overhead_s == pytest.approx(TRUE["overhead"], abs=0.02)
    assert cal.broadcast_s == pytest.approx(TRUE["broadcast"])
    for run in cal.runs:
        assert run["prompt_tokens"] == PROMPT and run["params_b"] == pytest.approx(PARAMS / 1e9)
        assert run["engines"] == 1 and run["learner_gpus"] == 1 and run["lengths"] == "empirical"
        assert abs(run["error_pct"]) < 8, run
        assert run["predicted_train_s"] == pytest.approx(run["measured_train_s"], rel=0.08)
    assert cal.ratio is not None and cal.ratio["measured"] > 1.2  # pipeline hides generation behind training
    assert abs(cal.ratio["error_pct"]) < 8, cal.ratio
    assert not [w for w in cal.warnings if "using" in w], cal.warnings  # nothing defaulted


def test_held_out_pair_is_predicted(pairs):
    cal = calibrate(pairs["fit"], predict=pairs["held"])
    held = [r for r in cal.runs if r.get("held_out")]
    assert len(held) == 2 and all(r["samples_per_step"] == 4 * GROUP for r in held)
    assert all(abs(r["error_pct"]) < 10 for r in held), held
    assert [r["held_out"] for r in cal.ratios] == [False, True]
    assert abs(cal.ratios[1]["error_pct"]) < 10, cal.ratios[1]
    fit_only = calibrate(pairs["fit"])
    assert (cal.a, cal.b, cal.tokens_per_s_per_gpu) == (fit_only.a, fit_only.b, fit_only.tokens_per_s_per_gpu)
    command = [sys.executable, "-m", "golddiff.cli", "simulate", "--calibrate", *map(str, pairs["fit"])]
    out = subprocess.run(
        [*command, "--predict", *map(str, pairs["held"])], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert "speed-up per sample (held out)" in out.stdout
    assert len(json.loads(out.stdout.strip().splitlines()[-1])["ratios"]) == 2


def test_settings_come_from_the_run_not_defaults(tmp_path):
    warnings: list[str] = []
    run = read_run(train_run_dir(tmp_path / "two", "sync", actors=2, prompts=4, kept=4), warnings)
    assert run.prompt_tokens == PROMPT  # rollouts.jsonl's prompt_len
    assert run.params_b == pytest.approx(PARAMS / 1e9)  # the checkpoint's header
    assert (run.batch, run.gen_gpus, run.engines, run.max_active, run.max_tokens) == (32, 2, 2, 128, 320)
    assert not run.colocated and run.train_gpu_count == 1  # `golddiff train` sync: actors and learner apart
    assert fit_lengths(run)["kind"] == "lognormal"  # 4 of 32 samples a step in rollouts.jsonl: not enough
    assert warnings == []
    (tmp_path / "two" / "rollouts.jsonl").unlink()
    assert read_run(tmp_path / "two", warnings).prompt_tokens == pytest.approx(PROMPT)  # trained tokens
    bare = tmp_path / "bare"
    bare.mkdir()
    rows = [{"step": i, "time/step_s": 1.0} for i in range(3)]
    (bare / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (bare / "config.yaml").write_text("mode: sync\nrl:\n  prompt_tokens: 99\n")
    sim_like = read_run(bare, warnings)
    assert sim_like.prompt_tokens == 99 and sim_like.colocated and sim_like.params_b is None
    (bare / "config.yaml").write_text("mode: sync\n")
    assert read_run(bare, warnings).prompt_tokens == 256
    assert "bare: config.yaml has no rl.prompt_tokens; using 256" in warnings
