"""bench/gpu.sh, the script a session lent a GPU runs: its dry mode (CPU, tiny models of the same two
families) goes through every phase's code (engine vs HF generate, learner step, weight updates in one
process and across two, golddiff doctor in bf16) so that it does not rot; the real run is marked `gpu`."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
SHAPES = ("qwen2.5-0.5b", "smollm2-135m")
CHECKS = {"causality", "tokens", "precision", "drift"}


def run_gpu_sh(out: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "OUT"} | {"PYTHON": sys.executable}
    cmd = ["bash", "bench/gpu.sh", *args, str(out)]
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def check_report(out: Path, proc: subprocess.CompletedProcess) -> dict:
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    report = json.loads((out / "gpu.json").read_text())
    assert report["errors"] == {}
    summary = json.loads(proc.stdout.strip().splitlines()[-1])  # the last line is the JSON summary
    assert summary["errors"] == [] and summary["dry"] == report["dry"]
    phases = report["phases"]
    for name in SHAPES:
        engine = phases["engine"][name]
        assert engine["engine"]["tokens_per_s"] > 0 and engine["hf_generate"]["tokens_per_s"] > 0
        assert engine["engine"]["weight_updates"] > 0 and engine["ratio_vs_hf_generate"] > 0
        learner = phases["learner"][name]
        assert learner["tokens_per_s"] > 0 and learner["loss_finite"]
    updates = phases["weight_update"]
    in_process = updates["in_process"]
    assert in_process["in_flight"] == report["sizes"]["max_batch"] and in_process["bytes"] > 0
    assert len(in_process["versions_seen"]) == report["sizes"]["updates"] + 1  # version 0, then each update
    for row in updates["cross_process"]["transports"].values():
        assert (
            row["in_flight"] == report["sizes"]["max_batch"] and row["updates"] == report["sizes"]["updates"]
        )
        assert row["latency_ms"] > 0 and row["bytes"] == in_process["bytes"]
    doctor = phases["doctor"]
    assert set(doctor["checks"]) == CHECKS and doctor["engine_dtype"] == doctor["learner_dtype"] == "bf16"
    return report


def test_gpu_bench_dry_runs_every_phase_on_cpu(tmp_path):
    proc = run_gpu_sh(tmp_path, "--dry")
    report = check_report(tmp_path, proc)
    assert report["dry"] and report["device"] == "cpu"
    assert all(report["phases"]["learner"][name]["mfu"] is None for name in SHAPES)  # no peak for a CPU
    transports = report["phases"]["weight_update"]["cross_process"]["transports"]
    assert set(transports) == {"gloo", "shared_memory"}  # golddiff's BroadcastGroup, and shared buffers
    assert report["phases"]["doctor"]["device"] == "cpu"


def test_gpu_sh_refuses_an_unknown_option(tmp_path):
    proc = run_gpu_sh(tmp_path, "--fast", timeout=30)
    assert proc.returncode == 2 and "unknown option --fast" in proc.stderr


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_gpu_bench_on_cuda(tmp_path):
    report = check_report(tmp_path, run_gpu_sh(tmp_path, timeout=600))
    assert not report["dry"] and report["device"] != "cpu"
    for name in SHAPES:
        mfu = report["phases"]["learner"][name]["mfu"]
        assert mfu is None or 0 < mfu < 1
    doctor = report["phases"]["doctor"]
    assert doctor["device"] == "cuda" and doctor["status"] != "fail", doctor
