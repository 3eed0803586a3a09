"""The cluster simulator: on-policy when the bound is 0, the tail's cost to sync, pipeline's gain, every
sample accounted for, determinism, the PipelineRL-paper setup, config errors, and calibration recovering
known parameters from synthetic run dirs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from golddiff.config import parse_overrides, split_override_args
from golddiff.sim.calibrate import calibrate
from golddiff.sim.config import LengthSampler, load_sim_config
from golddiff.sim.report import step_metrics, summary, write_run_dir
from golddiff.sim.simulate import Simulation, simulate

ROOT = Path(__file__).resolve().parents[1]
SMALL = [
    "steps=15", "cluster.gen_gpus=2", "cluster.train_gpus=2", "engine.max_active_seqs=64",
    "engine.step_base_s=0.01", "engine.step_per_seq_s=0.0002", "engine.step_per_ctx_token_s=3e-8",
    "engine.prefill_per_token_s=0", "learner.tokens_per_s_per_gpu=4000", "learner.step_overhead_s=0.5",
    "weights.broadcast_s=0.3", "rl.samples_per_step=32", "rl.group_size=4", "rl.prompt_tokens=100",
    "lengths.median=150", "lengths.p99=900", "lengths.max_tokens=1024",
]  # fmt: skip


def small(*extra: str):
    return load_sim_config(None, SMALL + list(extra))


def test_bound_zero_pipeline_is_on_policy():
    result = Simulation(small("rl.max_off_policy_steps=0"), "pipeline").run()
    assert set(result.lag_tokens) == {0}  # every trained token was sampled with the weights it trains
    assert result.stale_trained == 0
    assert all(max(r.group_lags) == 0 for r in result.steps)


def test_pipeline_lag_grows_with_the_bound_and_in_flight_updates_keep_tokens_fresher():
    lags = {k: summary(Simulation(small(f"rl.max_off_policy_steps={k}"), "pipeline").run()) for k in (1, 3)}
    assert 0 < lags[1]["lag_mean"] < lags[3]["lag_mean"]
    # a sample's later tokens come from newer weights: the mean per-token lag is below the max sample lag
    assert lags[3]["lag_mean"] < lags[3]["lag_max"]


def test_sync_generator_utilisation_drops_as_the_tail_grows():
    utils = [Simulation(small(f"lengths.p99={p99}"), "sync").run().gen_util for p99 in (200, 900, 4000)]
    assert utils[0] > utils[1] > utils[2]


def test_pipeline_beats_sync_on_long_tails():
    results = simulate(small("lengths.p99=4000", "rl.max_off_policy_steps=2"), ["sync", "pipeline"])
    assert summary(results["pipeline"])["samples_per_s"] > 1.5 * summary(results["sync"])["samples_per_s"]
    assert results["pipeline"].gen_util > results["sync"].gen_util


@pytest.mark.parametrize("stale", ["keep", "drop"])
def test_every_sample_is_trained_once_or_counted(stale):
    results = simulate(small("rl.max_off_policy_steps=1", f"rl.stale={stale}", "lengths.p99=3000"))
    for mode, r in results.items():
        assert r.trained == sum(s.samples for s in r.steps) == 15 * 32
        assert len(r.trained_ids) == len(set(r.trained_ids))  # no group trained twice
        assert r.completed == r.trained + r.dropped + r.buffered_at_end + r.partial_at_end, mode
        assert r.admitted == r.completed + r.in_flight_at_end, mode
    if stale == "drop":
        assert results["pipeline"].dropped > 0 and results["pipeline"].stale_trained == 0
    else:
        assert results["pipeline"].dropped == 0 and results["pipeline"].stale_trained > 0


def test_sync_and_one_step_off_lags():
    results = simulate(small("sync.optimizer_steps_per_batch=3"), ["sync", "one_step_off"])
    assert max(results["sync"].lag_tokens) == 2  # G = 3 steps on one round: lag 0, 1, 2
    assert set(results["one_step_off"].lag_tokens) <= {0, 1} and results["one_step_off"].lag_tokens[1] > 0


def test_deterministic_for_a_seed():
    first, again, other = (Simulation(small(f"seed={s}"), "pipeline").run() for s in (3, 3, 4))
    assert step_metrics(first) == step_metrics(again) and first.trained_ids == again.trained_ids
    assert step_metrics(first) != step_metrics(other)


def test_paper_config_gives_about_2x():
    cfg = load_sim_config(ROOT / "configs" / "simulate-pipelinerl-7b-128xh100.yaml", ["steps=12"])
    assert cfg.cluster.gen_gpus + cfg.cluster.train_gpus == 128
    results = simulate(cfg, ["sync", "pipeline"])
    ratio = results["sync"].wall_s / results["pipeline"].wall_s
    assert 1.5 < ratio < 3.0, ratio
    assert summary(results["pipeline"])["gen_util"] > 0.6


def test_config_errors_name_the_valid_keys(tmp_path):
    with pytest.raises(ValueError, match=r"unknown key 'rl.bogus'; valid keys here: rl.samples_per_step"):
        load_sim_config(None, ["--rl.bogus=1"])
    (tmp_path / "c.yaml").write_text("engin:\n  max_active_seqs: 4\n")
    with pytest.raises(ValueError, match=r"c.yaml: unknown key 'engin'.*engine"):
        load_sim_config(tmp_path / "c.yaml")
    with pytest.raises(ValueError, match="multiple of group_size"):
        load_sim_config(None, ["rl.samples_per_step=10", "rl.group_size=4"])
    assert parse_overrides(["--modes=[sync,pipeline]", "--a.b=2.5"]) == {
        "modes": ["sync", "pipeline"],
        "a": {"b": 2.5},
    }
    overrides, rest = split_override_args(
        ["c.yaml", "--steps", "5", "--rl.stale=drop", "--out", "d"], {"--out"}
    )
    assert overrides == ["--steps=5", "--rl.stale=drop"] and rest == ["c.yaml", "--out", "d"]


def test_empirical_lengths(tmp_path):
    rollouts = tmp_path / "rollouts.jsonl"
    rollouts.write_text("\n".join(json.dumps({"completion_ids": list(range(n))}) for n in (10, 20, 5000)))
    cfg = load_sim_config(
        None, ["lengths.kind=empirical", f"lengths.path={rollouts}", "lengths.max_tokens=100"]
    )
    import random

    sampler = LengthSampler(cfg.lengths, random.Random(0))
    assert {sampler.sample() for _ in range(200)} == {10, 20, 100}
    metrics = tmp_path / "metrics.jsonl"
    metrics.write_text(json.dumps({"step": 1, "gen/len_p50": 300, "gen/len_p99": 300.5}) + "\n")
    cfg = load_sim_config(None, ["lengths.kind=empirical", f"lengths.path={metrics}"])
    assert 290 < LengthSampler(cfg.lengths, random.Random(0)).sample() < 310
    (tmp_path / "empty.jsonl").write_text('{"step": 1}\n')
    with pytest.raises(ValueError, match="no output lengths"):
        LengthSampler(
            load_sim_config(
                None, ["lengths.kind=empirical", f"lengths.path={tmp_path / 'empty.jsonl'}"]
            ).lengths,
            random.Random(0),
        )


STEPS = 40


def _synthetic_runs(tmp_path: Path) -> list[Path]:
    """Run dirs written by the simulator itself, with known throughput models and varied occupancy."""
    runs = []
    for name, mode, extra in [
        ("sync-32", "sync", ["rl.samples_per_step=32"]),
        ("sync-128", "sync", ["rl.samples_per_step=128"]),
        ("pipe-32", "pipeline", ["rl.samples_per_step=32", "rl.max_off_policy_steps=2"]),
        ("pipe-128", "pipeline", ["rl.samples_per_step=128", "rl.max_off_policy_steps=1"]),
    ]:
        cfg = small(f"steps={STEPS}", *extra)
        runs.append(write_run_dir(cfg, Simulation(cfg, mode).run(), tmp_path / name))
    return runs


def test_calibration_recovers_known_parameters(tmp_path):
    cal = calibrate(_synthetic_runs(tmp_path))
    assert cal.a == pytest.approx(0.01, rel=0.05)
    assert cal.b == pytest.approx(0.0002, rel=0.05)
    assert cal.c == pytest.approx(3e-8, rel=0.10)
    assert cal.tokens_per_s_per_gpu == pytest.approx(4000, rel=0.02)
    assert cal.step_overhead_s == pytest.approx(0.5, abs=0.05)
    assert cal.broadcast_s == pytest.approx(0.3)
    assert all(abs(r["error_pct"]) < 10 for r in cal.runs), cal.runs
    assert cal.ratio is not None and abs(cal.ratio["error_pct"]) < 10


def _drop_keys(runs: list[Path], keys: tuple[str, ...]) -> None:
    for run in runs:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        (run / "metrics.jsonl").write_text(
            "".join(json.dumps({k: v for k, v in r.items() if k not in keys}) + "\n" for r in rows)
        )


def test_calibration_tolerates_missing_keys(tmp_path):
    runs = _synthetic_runs(tmp_path)
    _drop_keys(runs, ("gen/decode_step_s", "gen/ctx_tokens_mean"))  # the optional keys
    cal = calibrate(runs)
    assert "context's cost is folded into b" in " ".join(cal.warnings)
    assert cal.a == pytest.approx(0.01, rel=0.2) and cal.b == pytest.approx(0.0002, rel=0.2)
    assert all(abs(r["error_pct"]) < 15 for r in cal.runs), cal.runs
    _drop_keys(runs, ("time/weight_sync_s",))
    (runs[0] / "config.yaml").write_text("mode: sync\nrl:\n  samples_per_step: 32\n  group_size: 4\n")
    text = " ".join(calibrate(runs).warnings)  # calibrated anyway, every default named
    assert "no time/weight_sync_s in any run" in text
    assert "sync-32: config.yaml has no cluster.gen_gpus; using 1" in text
    with pytest.raises(ValueError, match="no metrics.jsonl"):
        calibrate([tmp_path / "nowhere"])


def test_simulate_cli_end_to_end(tmp_path):
    code = (
        "import sys\nfrom golddiff.cli import main\ntry:\n    main(['simulate', '--help'])\n"
        "except SystemExit:\n    pass\nprint('torch' in sys.modules)"
    )
    helped = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and helped.stdout.strip().endswith("False")
    out = tmp_path / "sim"
    args = [sys.executable, "-m", "golddiff.cli", "simulate", str(ROOT / "configs" / "simulate-laptop.yaml")]
    run = subprocess.run(
        [*args, "--steps=10", "--out", str(out)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    last = json.loads(run.stdout.strip().splitlines()[-1])
    assert last["steps"] == 10 and last["pipeline_vs_sync"] > 1
    assert (out / "index.html").read_text().count("data:image/png;base64,") == 3
    assert (out / "pipeline" / "metrics.jsonl").is_file() and (out / "summary.json").is_file()
    cal = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "simulate", "--calibrate", str(out / "sync"), str(out / "pipeline")],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert cal.returncode == 0, cal.stderr
    assert "pipeline/sync speed-up" in cal.stdout
    bad = subprocess.run([*args, "--rl.nope=1"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "valid keys here" in bad.stderr
