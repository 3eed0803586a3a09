"""`golddiff plan` against hand-computed cases: 7B on 8 and 512 H100s, 70B on 64, the FSDP crossover, the
recommendation flipping where the crossover says, the batch floor (70B on 1024 H100s with 64 sequences), the
cost of TP, PP and CP by hand, infeasible layouts never recommended (hypothesis), parameter counts from HF
configs, custom hardware."""

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from golddiff.sim.hardware import load_hardware
from golddiff.sim.layouts import Layout, evaluate
from golddiff.sim.plan import Settings, make_plan
from golddiff.sim.shapes import count_params, resolve_model, shape_from_hf_config

H100 = load_hardware("h100")
RATE = 0.4 * 989.5e12  # achieved FLOP/s: mfu 0.4 of the H100's dense bf16 peak
NVLINK = 0.8 * 450e9  # bandwidth efficiency 0.8 of NVLink per GPU per direction
NIC = 0.8 * 50e9  # ... of one 400 Gbit/s NIC per GPU
P7 = 7e9
C7 = P7 - 152064 * 3584  # params doing matmuls per token: all but the input embedding (a lookup)


def settings(gpus: int, tokens_per_gpu: float, seq_len: int = 8192, **kw) -> Settings:
    return Settings(
        gpus=gpus,
        seq_len=seq_len,
        global_batch_tokens=int(gpus * tokens_per_gpu),
        attention_flops=False,
        **kw,
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
    # one whole 8192-token sequence per GPU is already above the crossover: the floor is one per GPU
    assert plan.batch_floor_tokens == 512 * 8192 and plan.binding == "none"
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


def whole_sequences_around(crossover: float, seq_len: int) -> tuple[int, int]:
    """Tokens per GPU in whole sequences just above and just below the crossover."""
    below = int(crossover // seq_len) * seq_len
    return below + seq_len, below


@pytest.mark.parametrize("reduce_dtype", ["bf16", "fp32"])
def test_fsdp_hides_exactly_above_the_crossover(reduce_dtype):
    model, seq = resolve_model("7"), 256
    crossover = make_plan(model, H100, settings(512, 4096, seq, reduce_dtype=reduce_dtype)).crossover_tokens
    above_tokens, below_tokens = whole_sequences_around(crossover, seq)
    above = make_plan(model, H100, settings(512, above_tokens, seq, reduce_dtype=reduce_dtype))
    below = make_plan(model, H100, settings(512, below_tokens, seq, reduce_dtype=reduce_dtype))
    assert fsdp(above).hides and above.recommended.layout.kind == "fsdp" and above.binding == "none"
    assert fsdp(below).microbatch_tokens == below_tokens and not fsdp(below).hides
    assert below.binding == "crossover" and "Binding constraint: the crossover" in below.reason
    # below it another layout hides: HSDP with bf16 grads; with fp32 grads HSDP's all-reduce moves as much as
    # FSDP, and it takes pipeline stages across nodes (each keeps its weights gathered for the whole step)
    rec = below.recommended
    assert rec.layout.kind != "fsdp" and rec.hides and rec.feasible
    hsdp_hides = any(lp.hides and lp.feasible for lp in below.layouts if lp.layout.kind == "hsdp")
    assert hsdp_hides == (reduce_dtype == "bf16") and (rec.layout.kind == "hsdp") == hsdp_hides
    assert rec.layout.pp > 1 or reduce_dtype == "bf16"


def test_below_the_crossover_hsdp_takes_over():
    model, seq = resolve_model("7"), 256
    crossover = make_plan(model, H100, settings(512, 4096, seq, reduce_dtype="bf16")).crossover_tokens
    plan = make_plan(
        model, H100, settings(512, whole_sequences_around(crossover, seq)[1], seq, reduce_dtype="bf16")
    )
    rec = plan.recommended
    # the shard group's collectives stay on NVLink; only a shard's all-reduce crosses nodes, once per step
    assert rec.layout.kind == "hsdp" and rec.hides and rec.step_s < fsdp(plan).step_s
    assert "FSDP would spend" in plan.reason and "batch floor" in plan.reason


def test_70b_on_1024_h100_with_64_sequences_splits_each_sequence():
    """The issue's case: 512k tokens = 64 sequences of 8192 for 1024 GPUs. Plain FSDP would give 960 GPUs no
    sequence; the plan keeps at most 64 data-parallel ranks and splits each sequence over 16 GPUs."""
    plan = make_plan(resolve_model("70"), H100, Settings(gpus=1024, seq_len=8192, global_batch_tokens=524288))
    assert plan.sequences == 64
    assert not fsdp(plan).feasible and "960 ranks" in fsdp(plan).infeasible
    rec = plan.recommended
    lay = rec.layout
    assert rec.feasible and lay.kind != "fsdp" and lay.gpus == 1024
    assert lay.dp <= 64 and lay.tp * lay.pp * lay.cp >= 16  # every GPU holds part of a sequence
    assert rec.sequences_per_rank * lay.dp >= 64 and (rec.sequences_per_rank - 1) * lay.dp < 64
    assert plan.binding == "batch_floor" and "Binding constraint: the batch floor" in plan.reason
    assert "64 sequences of 8,192 for 1,024 GPUs" in plan.reason
    # the plan is no worse than any feasible layout, and far better than FSDP's 1.7 s of exposed collectives
    assert rec.step_s <= 1.01 * min(lp.step_s for lp in plan.layouts if lp.feasible)
    assert rec.step_s < 1.0


def test_far_below_the_crossover_the_batch_floor_is_named():
    plan = make_plan(resolve_model("7"), H100, settings(512, 256))  # 16 sequences of 8192 for 512 GPUs
    assert plan.sequences == 16 and plan.binding == "batch_floor"
    assert plan.recommended.layout.dp <= 16 and plan.recommended.feasible
    assert f"{plan.batch_floor_tokens:,.0f} tokens per step" in plan.reason
    assert plan.batch_floor_tokens == 512 * 8192


def test_long_sequences_are_bound_by_memory_and_split_by_context_or_tensor_parallelism():
    # one 131k-token sequence: its fp32 logits alone (131072 x 152064 x 6 bytes = 120 GB) exceed a GPU
    s = Settings(gpus=64, seq_len=131072, global_batch_tokens=64 * 131072)
    plan = make_plan(resolve_model("7"), H100, s)
    assert not fsdp(plan).fits and plan.binding == "memory" and "Binding constraint: memory" in plan.reason
    rec = plan.recommended
    assert rec.feasible and rec.layout.tp * rec.layout.cp > 1
    assert sum(rec.memory.values()) <= 0.9 * 80e9


def test_tensor_pipeline_and_context_parallel_costs_by_hand():
    model, s = resolve_model("7"), settings(8, 65536)  # 64 sequences of 8192, attention FLOPs off
    hidden, layers, kv_dim = 3584, 28, 512
    # PP 2 over 4 data-parallel ranks: 16 sequences each; one per microbatch fits without checkpointing
    pp = evaluate(model, H100, s, Layout(shard=4, pp=2))
    pure = 16 * 8192 * 6 * C7 / (2 * RATE)
    assert pp.compute_s - pp.bubble_s == pytest.approx(pure)
    assert pp.bubble_s == pytest.approx(pure * 1 / pp.microbatches)  # (pp - 1) / microbatches
    tokens = pp.microbatch_tokens
    assert pp.comm_s["pp"] == pytest.approx(pp.microbatches * 2 * 2 * tokens * hidden / NVLINK)
    # the stage keeps its weights gathered: one all-gather (bf16) and one reduce-scatter (fp32) per step
    assert pp.comm_s["fsdp"] == pytest.approx((2 + 4) * P7 / 2 * (3 / 4) / NVLINK)
    # CP 2: each sequence in two chunks, K and V (bf16) passed once per layer in forward, twice in backward
    cp = evaluate(model, H100, s, Layout(shard=4, cp=2))
    chunk = cp.microbatch_tokens / 2
    passes = 4 if cp.checkpointing else 3
    assert cp.comm_s["cp"] == pytest.approx(cp.microbatches * passes * layers * chunk * 4 * kv_dim / NVLINK)
    assert cp.exposed_comm_s == pytest.approx(cp.comm_s["cp"])  # no attention FLOPs to hide behind
    assert cp.memory["optimizer"] == pytest.approx(8 * P7 / 8)  # FSDP shards over dp_shard x cp
    # TP 2: all-gather + reduce-scatter around attention and MLP, forward and backward: 8 per layer
    tp = evaluate(model, H100, s, Layout(shard=4, tp=2))
    per_layer = (12 if tp.checkpointing else 8) * 2 * tp.microbatch_tokens * hidden / 2
    assert tp.comm_s["tp"] == pytest.approx(tp.microbatches * layers * per_layer / NVLINK)


@hypothesis_settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    billions=st.sampled_from([0.5, 1.5, 7, 14, 32, 70, 405]),
    gpus=st.sampled_from([1, 2, 8, 12, 24, 64, 96, 256, 1024, 2048]),
    seq_len=st.sampled_from([1024, 4096, 8192, 32768]),
    sequences=st.integers(1, 4096),
    extra_tokens=st.integers(0, 1000),
    reduce_dtype=st.sampled_from(["bf16", "fp32"]),
    master_weights=st.booleans(),
    gpu=st.sampled_from(["h100", "a100", "h200"]),
)
def test_infeasible_layouts_are_never_recommended(
    billions, gpus, seq_len, sequences, extra_tokens, reduce_dtype, master_weights, gpu
):
    s = Settings(
        gpus=gpus, seq_len=seq_len, global_batch_tokens=sequences * seq_len + extra_tokens,
        reduce_dtype=reduce_dtype, master_weights=master_weights,
    )  # fmt: skip
    hw = load_hardware(gpu)
    plan = make_plan(resolve_model(str(billions)), hw, s)
    rec = plan.recommended
    assert plan.binding in ("none", "memory", "crossover", "batch_floor")
    feasible = [lp for lp in plan.layouts if lp.feasible]
    assert all(lp.layout.gpus == gpus for lp in plan.layouts)
    if rec is None:
        assert not feasible and plan.binding in ("memory", "batch_floor")
        return
    lay = rec.layout
    assert rec.feasible and rec.fits and not rec.infeasible
    assert lay.dp <= plan.sequences  # every data-parallel rank holds a sequence
    assert sum(rec.memory.values()) <= s.usable_memory * hw.hbm_bytes
    assert lay.tp <= hw.gpus_per_node and lay.pp <= plan.model.layers
    if any(lp.hides for lp in feasible):
        assert rec.hides  # a hiding layout wins over a faster one that does not hide
    else:
        assert rec.step_s <= 1.01 * min(lp.step_s for lp in feasible) and "no layout hides" in plan.reason
    if plan.binding == "none":
        assert lay.kind == "fsdp" and rec.hides
    else:
        words = {"memory": "memory", "crossover": "the crossover", "batch_floor": "the batch floor"}
        assert f"Binding constraint: {words[plan.binding]}" in plan.reason
    if plan.binding == "batch_floor":
        assert plan.sequences < gpus


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


def plan_json(*args: str) -> dict:
    cmd = [sys.executable, "-m", "golddiff.cli", "plan", *args, "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_plan_cli_70b_on_1024_h100_is_not_plain_fsdp():
    doc = plan_json("--model", "70", "--gpus", "1024", "--gpu", "h100", "--seq-len", "8192",
                    "--global-batch-tokens", "524288")  # fmt: skip
    rec = doc["recommended"]
    lay = rec["layout"]
    assert lay["kind"] != "fsdp" and rec["feasible"] and doc["sequences"] == 64
    assert lay["dp"] <= 64 and lay["dp"] * lay["tp"] * lay["pp"] * lay["cp"] == 1024  # every GPU has work
    assert doc["binding"] == "batch_floor" and "Binding constraint: the batch floor" in doc["reason"]
    plain = next(row for row in doc["layouts"] if row["layout"]["kind"] == "fsdp")
    assert not plain["feasible"] and "ranks" in plain["infeasible"]
    assert doc["considered"]["too_few_sequences"] > 0 and doc["considered"]["feasible"] > 0


def test_plan_cli_7b_on_8_h100_with_4m_tokens_stays_plain_fsdp():
    doc = plan_json("--model", "7", "--gpus", "8", "--gpu", "h100", "--global-batch-tokens", "4M")
    rec = doc["recommended"]
    assert rec["layout"]["kind"] == "fsdp" and rec["layout"]["shard"] == 8 and rec["hides"]
    assert doc["binding"] == "none" and "no limit binds" in doc["reason"]
