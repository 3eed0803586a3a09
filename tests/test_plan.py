"""`golddiff plan` against hand-computed cases: 7B on 8 and 512 H100s, 70B on 64, the FSDP crossover, the
recommendation flipping where the crossover says, parameter counts from HF configs, custom hardware."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from golddiff.sim.hardware import load_hardware
from golddiff.sim.plan import Settings, make_plan
from golddiff.sim.shapes import count_params, resolve_model, shape_from_hf_config

H100 = load_hardware("h100")
RATE = 0.4 * 989.5e12  # achieved FLOP/s: mfu 0.4 of the H100's dense bf16 peak
NVLINK = 0.8 * 450e9  # bandwidth efficiency 0.8 of NVLink per GPU per direction
NIC = 0.8 * 50e9  # ... of one 400 Gbit/s NIC per GPU
P7 = 7e9
C7 = P7 - 152064 * 3584  # params doing matmuls per token: all but the input embedding (a lookup)


def settings(gpus: int, tokens_per_gpu: float, **kw) -> Settings:
    return Settings(
        gpus=gpus, seq_len=8192, global_batch_tokens=int(gpus * tokens_per_gpu), attention_flops=False, **kw
    )


def fsdp(plan):
    return next(lp for lp in plan.layouts if lp.layout.kind == "fsdp")


def test_7b_on_8_h100_by_hand():
    plan = make_plan(resolve_model("7"), H100, settings(8, 65536))
    lp = fsdp(plan)
    # compute: 6 · params · tokens per GPU at 40% of peak
    assert lp.compute_s == pytest.approx(65536 * 6 * C7 / RATE)
    # model state, sharded 8 ways: fp32 master 4 B, fp32 grads 4 B, Adam 8 B; plus 2 gathered bf16 layers
    assert lp.memory["weights"] == pytest.approx(4 * P7 / 8 + 2 * 2 * P7 / 28)
    assert lp.memory["grads"] == pytest.approx(4 * P7 / 8)
    assert lp.memory["optimizer"] == pytest.approx(8 * P7 / 8)
    # activations of one 8192-token microbatch, Qwen2.5-7B shape: 12·3584 + 4·512 + 6·18944 bytes/token/layer
    assert not lp.checkpointing and lp.microbatch_tokens == 8192 and lp.microbatches == 8
    assert lp.memory["activations"] == pytest.approx(8192 * 28 * (12 * 3584 + 4 * 512 + 6 * 18944))
    assert lp.memory["logits"] == pytest.approx(8192 * 152064 * 6)
    # per microbatch: all-gather bf16 twice + reduce-scatter fp32 = 8 bytes/param, ring factor 7/8, NVLink
    assert lp.overlapped_comm_s == pytest.approx(8 * 8 * P7 * (7 / 8) / NVLINK)
    # bytes moved per token of compute: 8 · P7 bytes vs 6 · C7 FLOPs
    assert plan.crossover_tokens == pytest.approx(8 * P7 * (7 / 8) * RATE / (6 * C7 * NVLINK))  # ≈ 1,391
    assert plan.recommended is lp and lp.hides and lp.fits
    assert "FSDP over all 8 GPUs" in plan.reason and "NVLink" in plan.reason


def test_7b_on_512_h100_crossover_is_set_by_the_nics():
    plan = make_plan(resolve_model("7"), H100, settings(512, 8192))
    # 64 nodes: the scale-out term (63/64)/(8 · NIC) beats the NVLink term (7/8)/NVLINK
    per_byte = (63 / 64) / (8 * NIC)
    assert per_byte > (7 / 8) / NVLINK
    assert plan.crossover_tokens == pytest.approx(8 * P7 * per_byte * RATE / (6 * C7))  # ≈ 1,761 tokens
    assert plan.crossover_simple_tokens == pytest.approx(RATE * per_byte)  # the book's C/W
    assert plan.batch_floor_tokens == pytest.approx(512 * plan.crossover_tokens)
    assert plan.recommended.layout.kind == "fsdp"
    assert fsdp(plan).overlapped_comm_s == pytest.approx(8 * P7 * per_byte)


def test_70b_on_64_h100_needs_checkpointing():
    plan = make_plan(resolve_model("70"), H100, settings(64, 16384))
    lp = fsdp(plan)
    usable = 0.9 * 80e9
    per_token_layer = 12 * 8192 + 4 * 1024 + 6 * 28672  # Llama-3-70B shape
    assert 8192 * 80 * per_token_layer > usable  # one sequence's activations alone do not fit
    assert lp.checkpointing and lp.fits and lp.microbatch_tokens == 16384
    states = 16 * 70e9 / 64 + 2 * 2 * 70e9 / 80
    acts = 16384 * 80 * 2 * 8192 + 16384 * per_token_layer  # layer inputs + one layer being recomputed
    logits = 16384 * 128256 * 6
    assert sum(lp.memory.values()) == pytest.approx(states + acts + logits)
    compute_params = 70e9 - 128256 * 8192
    assert lp.compute_s == pytest.approx(16384 * 8 * compute_params / RATE)  # recompute: 8 · params per token
    assert plan.recommended is lp


@pytest.mark.parametrize("reduce_dtype", ["bf16", "fp32"])
def test_fsdp_hides_exactly_above_the_crossover(reduce_dtype):
    model = resolve_model("7")
    crossover = make_plan(model, H100, settings(512, 4096, reduce_dtype=reduce_dtype)).crossover_tokens
    above = make_plan(model, H100, settings(512, crossover * 1.03, reduce_dtype=reduce_dtype))
    below = make_plan(model, H100, settings(512, crossover * 0.97, reduce_dtype=reduce_dtype))
    assert fsdp(above).hides and above.recommended.layout.kind == "fsdp"
    assert not fsdp(below).hides
    # below it FSDP is no longer recommended as hiding: another layout hides, or none does and it says so
    flipped = below.recommended.layout.kind != "fsdp" and below.recommended.hides
    assert flipped or "no layout hides" in below.reason
    assert flipped == (reduce_dtype == "bf16")  # fp32 grads: HSDP's all-reduce moves as much as FSDP


def test_below_the_crossover_hsdp_takes_over():
    model = resolve_model("7")
    crossover = make_plan(model, H100, settings(512, 4096, reduce_dtype="bf16")).crossover_tokens
    plan = make_plan(model, H100, settings(512, 0.9 * crossover, reduce_dtype="bf16"))
    rec = plan.recommended
    # the shard group's collectives stay on NVLink; only a shard's all-reduce crosses nodes, once per step
    assert rec.layout.kind == "hsdp" and rec.hides and rec.step_s < fsdp(plan).step_s
    assert "FSDP would spend" in plan.reason and "batch floor" in plan.reason


def test_far_below_the_crossover_nothing_hides_and_the_floor_is_named():
    plan = make_plan(resolve_model("7"), H100, settings(512, 256))
    assert not any(lp.hides for lp in plan.layouts)
    assert "no layout hides" in plan.reason
    assert f"{plan.batch_floor_tokens:,.0f} tokens per step" in plan.reason


def test_hf_config_counts_parameters(tmp_path):
    qwen7b = {
        "model_type": "qwen2", "hidden_size": 3584, "num_hidden_layers": 28, "intermediate_size": 18944,
        "vocab_size": 152064, "num_attention_heads": 28, "num_key_value_heads": 4, "tie_word_embeddings": False,
    }  # fmt: skip
    (tmp_path / "config.json").write_text(json.dumps(qwen7b))
    shape = shape_from_hf_config(tmp_path)
    assert shape.params == 7_615_616_512  # Qwen2.5-7B's published count
    assert shape.kv_dim == 512 and shape.compute_params == shape.params - 152064 * 3584
    assert count_params(8192, 80, 28672, 128256, 64, 8, 128, False) == 70_553_706_496  # Llama-3-70B
    (tmp_path / "bad.json").write_text(json.dumps({"hidden_size": 8}))
    with pytest.raises(ValueError, match="num_hidden_layers"):
        shape_from_hf_config(tmp_path / "bad.json")


def test_custom_hardware_and_overrides(tmp_path):
    (tmp_path / "hw.yaml").write_text(
        "gpus:\n  custom:\n    name: test\n    peak_bf16_flops: 1.0e+15\n    hbm_bytes: 96.0e+9\n"
        "    hbm_bandwidth: 4.0e+12\n    intra_node_bandwidth: 400.0e+9\n    inter_node_bandwidth: 25.0e+9\n"
        "    gpus_per_node: 4\n"
    )
    hw = load_hardware("custom", str(tmp_path / "hw.yaml"))
    assert hw.gpus_per_node == 4 and hw.peak_bf16_flops == 1e15
    assert load_hardware("h100", interconnect="200").inter_node_bandwidth == 25e9
    assert load_hardware("h100", interconnect="hdr200").inter_node_bandwidth == 25e9
    assert load_hardware("h100", overrides={"hbm_bytes": 1e9}).hbm_bytes == 1e9
    with pytest.raises(ValueError, match="unknown gpu"):
        load_hardware("tpu")
    with pytest.raises(ValueError, match="not a hardware field"):
        load_hardware("h100", overrides={"bogus": 1})
    # a slower fabric raises the crossover in proportion
    slow = make_plan(resolve_model("7"), replace(H100, inter_node_bandwidth=25e9), settings(512, 8192))
    fast = make_plan(resolve_model("7"), H100, settings(512, 8192))
    assert slow.crossover_tokens == pytest.approx(2 * fast.crossover_tokens)


def test_plan_cli_json_and_table():
    run = [
        sys.executable,
        "-m",
        "golddiff.cli",
        "plan",
        "--model",
        "70",
        "--gpus",
        "64",
        "--global-batch-tokens",
        "1M",
    ]
    out = subprocess.run([*run, "--json"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert (
        doc["recommended"]["layout"]["kind"] == "fsdp" and doc["settings"]["global_batch_tokens"] == 1_000_000
    )
    table = subprocess.run(run, capture_output=True, text=True, timeout=60)
    assert table.returncode == 0 and "recommended" in table.stdout and "FSDP+PP" in table.stdout
    bad = subprocess.run([*run[:-1], "lots"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "token count" in bad.stderr
