"""SFT warm start: answer-only loss masking, the loss going down on a tiny set, the saved model reloading,
and `golddiff sft` end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from golddiff.models import ByteTokenizer, load_model
from golddiff.sft import (
    IGNORE,
    SFTConfig,
    build_examples,
    collate,
    lr_at,
    mean_answer_loss,
    train_sft,
)
from golddiff.tasks import make_task, write_tasks_parquet


def _tasks(n: int = 4):
    """Tiny tasks with a one-line system prompt, so that examples are ~100 tokens."""
    out = []
    for i in range(n):
        base = {f"m{i}.py": f"def f(x):\n    return x + {i}\n"}
        final = {f"m{i}.py": f"def f(x):\n    return x - {i}\n"}
        task = make_task(base, final, request=f"f should subtract {i}", task_id=f"t{i}")
        short = [{"role": "system", "content": "Answer with SEARCH/REPLACE blocks."}, task.prompt[1]]
        out.append(task.model_copy(update={"prompt": short}))
    return out


def test_examples_mask_everything_but_the_answer() -> None:
    tok = ByteTokenizer()
    examples, too_long = build_examples(_tasks(2), tok, max_len=4096)
    assert too_long == 0 and len(examples) == 2
    ids, mask, labels = collate(examples, tok.pad_token_id)
    e = examples[0]
    assert labels[0, : e.n_prompt].eq(IGNORE).all()  # prompt: no loss
    assert labels[0, e.n_prompt : len(e.ids)].tolist() == e.ids[e.n_prompt :]  # answer + EOS
    assert e.ids[-1] == tok.eos_token_id
    assert tok.decode(e.ids[e.n_prompt : -1]) == _tasks(2)[0].gold[0].answer
    short = min(examples, key=lambda x: len(x.ids))
    row = examples.index(short)
    assert labels[row, len(short.ids) :].eq(IGNORE).all() and mask[row, len(short.ids) :].eq(0).all()
    _, dropped = build_examples(_tasks(2), tok, max_len=32)
    assert dropped == 2


def test_lr_schedule_warms_up_then_decays() -> None:
    lrs = [lr_at(s, 100, 1.0, 10) for s in range(100)]
    assert lrs[0] == 0.1 and lrs[9] == 1.0
    assert lrs[50] < lrs[10] and lrs[99] >= 0.1 - 1e-9


def test_loss_goes_down_and_the_saved_model_reloads(tmp_path: Path) -> None:
    tasks = _tasks(4)
    config = SFTConfig(model="tiny", steps=40, lr=3e-3, batch_size=4, max_len=1024, warmup_steps=5)
    before_model, tok = load_model("tiny")
    examples, _ = build_examples(tasks, tok, 1024)
    before = mean_answer_loss(before_model, examples, tok.pad_token_id)
    result = train_sft(tasks, config, tmp_path / "sft")
    assert result.steps == 40 and len(result.history) == 40
    reloaded, tok2 = load_model(tmp_path / "sft")
    after = mean_answer_loss(reloaded, examples, tok2.pad_token_id)
    assert after < 0.5 * before, (before, after)
    assert result.last_loss < result.first_loss
    assert (tmp_path / "sft" / "config.json").exists() and (tmp_path / "sft" / "sft_metrics.jsonl").exists()
    ids = torch.tensor([examples[0].ids])
    assert torch.isfinite(reloaded(input_ids=ids).logits).all()


def test_sft_command_end_to_end(tmp_path: Path) -> None:
    tasks = [t.model_copy(update={"split": "train"}) for t in _tasks(3)]
    write_tasks_parquet(tasks, tmp_path / "tasks.parquet")
    cmd = [sys.executable, "-m", "golddiff.cli", "sft", str(tmp_path / "tasks.parquet"), "--model", "tiny"]
    cmd += ["--out", str(tmp_path / "m"), "--steps", "3", "--batch-size", "2", "-q"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    line = json.loads(proc.stdout.strip().splitlines()[-1])
    assert line["steps"] == 3 and line["examples"] == 3
    load_model(tmp_path / "m")
    proc = subprocess.run(
        [*cmd[:-1], "--split", "heldout", "-q"], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 1 and "no task in split 'heldout'" in proc.stderr


def test_batches_are_padded_to_a_few_shapes() -> None:
    tok = ByteTokenizer()
    examples, _ = build_examples(_tasks(3), tok, max_len=4096)
    ids, mask, labels = collate(examples, tok.pad_token_id)
    longest = max(len(e.ids) for e in examples)
    assert ids.shape[1] % 64 == 0 and longest <= ids.shape[1] < longest + 64
    assert int(mask.sum()) == sum(len(e.ids) for e in examples)  # padding is masked, nothing else
    exact, _, _ = collate(examples, tok.pad_token_id, multiple=1)
    assert exact.shape[1] == longest


def test_bf16_autocast_matches_fp32_and_keeps_fp32_weights(tmp_path: Path) -> None:
    from golddiff.sft import answer_loss, autocast_dtype

    assert autocast_dtype(SFTConfig(autocast="off")) is None
    assert autocast_dtype(SFTConfig(autocast="bf16")) is torch.bfloat16
    model, tok = load_model("tiny")
    examples, _ = build_examples(_tasks(2), tok, 1024)
    batch = collate(examples, tok.pad_token_id)
    with torch.no_grad():
        full = answer_loss(model, *batch).item()
        low = answer_loss(model, *batch, autocast=torch.bfloat16).item()
    assert abs(full - low) < 0.02 * full and full != low  # bf16 really ran, and stayed close
    config = SFTConfig(model="tiny", steps=20, lr=3e-3, batch_size=2, warmup_steps=2, autocast="bf16")
    result = train_sft(_tasks(2), config, tmp_path / "sft")
    assert result.last_loss < 0.8 * result.first_loss
    reloaded, _ = load_model(tmp_path / "sft")
    assert all(p.dtype == torch.float32 for p in reloaded.parameters())


def test_from_top_answers_change_the_files_as_the_gold_does() -> None:
    from golddiff.diffs import apply_answer, parse_answer
    from golddiff.sft import answer_from_top, sft_answer

    base = {"m.py": "import os\n\n\ndef f(x):\n    return x + 1\n\n\ndef g():\n    pass\n"}
    final = {"m.py": base["m.py"].replace("x + 1", "x - 1")}
    task = make_task(base, final, request="f should subtract", task_id="t")
    answer = answer_from_top(task)
    assert answer != task.gold[0].answer and sft_answer(task, "gold") == task.gold[0].answer
    blocks = parse_answer(answer)
    assert blocks and all(b.search.startswith("import os\n") for b in blocks)
    assert "def g()" not in answer  # stops at the last changed line
    assert apply_answer(base, blocks, task.allowed_paths) == final


def test_train_layers_changes_only_the_top_layers(tmp_path: Path) -> None:
    from golddiff.models import tiny_model

    before = tiny_model(seed=0).state_dict()
    config = SFTConfig(model="tiny", steps=3, lr=1e-2, batch_size=2, warmup_steps=1, train_layers=1)
    train_sft(_tasks(4), config, tmp_path / "sft")
    after, _ = load_model(tmp_path / "sft")
    moved = {k for k, v in after.state_dict().items() if not torch.equal(v, before[k])}
    assert moved and all(k.startswith(("model.layers.3.", "model.norm.")) for k in moved), sorted(moved)
