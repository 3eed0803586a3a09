"""The pure-Python parts of a run: the prompt source's lag budget and re-issues, the prompt order, the
ledger's resume semantics, atomic checkpoints, config loading and overrides, the synthetic task."""

import json

import pytest

from golddiff.config import ConfigError, parse_overrides, split_override_args
from golddiff.models import ByteTokenizer
from golddiff.rl.checkpoint import COMPLETE, complete_checkpoints, latest_checkpoint, write_checkpoint
from golddiff.rl.config import DataSection, SyntheticSection, TrainConfig, load_train_config
from golddiff.rl.data import PromptOrder
from golddiff.rl.dataset import TaskDataset
from golddiff.rl.ledger import Ledger, consumed_positions, read_ledger
from golddiff.rl.messages import WeightsMessage
from golddiff.rl.metrics import keep_rows_until, length_stats
from golddiff.rl.source import PromptSource
from golddiff.rl.synthetic import CharsetTask, SearchReplaceTask, answer_lengths

IDS = [f"t{i}" for i in range(10)]


def source(per_step=2, max_lag=1, **kw):
    return PromptSource(
        PromptOrder(IDS, DataSection(synthetic=SyntheticSection()), seed=0), per_step, max_lag, **kw
    )


def weights(version):
    return WeightsMessage(version, "object_store", None)


def test_budget_admits_k_plus_one_steps_of_prompts_then_p_per_published_version():
    s = source(per_step=2, max_lag=1)
    got = s.take(0, "a", 10).tickets
    assert [t.position for t in got] == [0, 1, 2, 3]  # (0 + 1 + 1) · 2
    assert s.take(0, "a", 10).tickets == ()
    s.mark_consumed([0, 1])  # the learner took a step's worth: still no room until a version is published
    assert s.take(0, "a", 10).tickets == ()
    s.publish(weights(1))
    assert [t.position for t in s.take(0, "a", 10).tickets] == [4, 5]


def test_sync_budget_is_exactly_one_step_per_version():
    s = source(per_step=3, max_lag=0)
    assert len(s.take(0, "a", 10).tickets) == 3
    s.mark_consumed([0, 1, 2])
    assert s.take(0, "a", 10).tickets == ()
    s.publish(weights(1))
    assert len(s.take(0, "a", 10).tickets) == 3


def test_a_restarted_actors_prompts_are_reissued_first_with_a_new_attempt():
    s = source(per_step=4, max_lag=0)
    first = s.take(0, "old", 3).tickets
    s.take(1, "b", 1)
    s.mark_consumed([first[0].position])  # one group made it to the learner before the crash
    assert s.actor_started(0, "new") is None
    again = s.take(1, "b", 4).tickets
    assert [t.position for t in again] == [1, 2] and all(t.attempt == 1 for t in again)
    assert s.holding(0) == [] and s.holding(1) == [1, 2, 3]


def test_resume_reissues_gaps_before_new_positions_and_never_a_consumed_one():
    s = source(per_step=2, max_lag=1, version=2, consumed={0, 1, 2, 4, 5})
    positions = [t.position for t in s.take(0, "a", 10).tickets]
    assert positions[0] == 3 and 6 in positions and not {0, 1, 2, 4, 5} & set(positions)


def test_skipped_prompts_do_not_use_the_budget():
    s = source(per_step=2, max_lag=0)
    t = s.take(0, "a", 2).tickets
    s.mark_consumed([t[0].position], skipped=[t[1].position])
    assert len(s.take(0, "a", 5).tickets) == 1  # the skipped one is replaced within the same version


def test_prompt_order_is_deterministic_epoch_by_epoch():
    order = PromptOrder(IDS, DataSection(synthetic=SyntheticSection()), seed=3)
    epoch0 = [order.ticket(p).index for p in range(10)]
    assert sorted(epoch0) == list(range(10)) and epoch0 != list(range(10))
    assert [order.ticket(p).index for p in range(10)] == epoch0
    assert order.ticket(13).prompt_id.endswith("#1")


def test_ledger_resume_voids_the_steps_after_the_checkpoint(tmp_path):
    ledger = Ledger(tmp_path)
    for step in (1, 2, 3):
        ledger.record_step(step, [(2 * step, f"p{2 * step}"), (2 * step + 1, f"p{2 * step + 1}")])
    ledger.record_resume(2)
    ledger.record_step(3, [(6, "p6"), (8, "p8")], skipped=[(7, "p7")])
    ledger.close()
    with (tmp_path / "ledger.jsonl").open("a") as f:
        f.write('{"kind": "step", "st')  # a torn last line: a crash mid-write
    steps = read_ledger(tmp_path)
    assert [s.step for s in steps] == [1, 2, 3] and steps[-1].prompt_ids == ["p6", "p8"]
    consumed, skipped = consumed_positions(steps)
    assert consumed == {2, 3, 4, 5, 6, 7, 8} and skipped == 1


def test_checkpoints_are_atomic_complete_and_pruned(tmp_path):
    def save(path):
        (path / "model.safetensors").write_text("weights")

    for step in (2, 4, 6):
        write_checkpoint(tmp_path, step, save, {"step": step}, keep_last=2)
    assert [s for s, _ in complete_checkpoints(tmp_path)] == [4, 6]
    broken = tmp_path / "checkpoints" / "step_8"  # no marker: a crash before it was complete
    broken.mkdir()

    def crash(path):
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_checkpoint(tmp_path, 10, crash, {}, keep_last=2)
    step, path = latest_checkpoint(tmp_path)
    assert (
        step == 6
        and (path / COMPLETE).is_file()
        and json.loads((path / "state.json").read_text())["step"] == 6
    )


def test_metrics_rows_after_the_checkpoint_are_dropped_on_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text("".join(json.dumps({"step": s}) + "\n" for s in (1, 2, 3)) + '{"st')
    keep_rows_until(path, 2)
    assert [json.loads(line)["step"] for line in path.read_text().splitlines()] == [1, 2]
    assert length_stats([1, 2, 3, 100])["gen/len_p50"] == 2.5


def test_config_overrides_coerce_types_and_unknown_keys_list_valid_ones(tmp_path):
    assert parse_overrides(
        ["--rl.lr=1e-3", "run.steps=7", "--rl.betas=[0.8, 0.9]", "--run.progress=off"]
    ) == {
        "rl": {"lr": 1e-3, "betas": [0.8, 0.9]},
        "run": {"steps": 7, "progress": "off"},
    }
    cfg = load_train_config("configs/test-tiny.yaml", ["--rl.group_size=6", "--mode=sync"])
    assert cfg.rl.group_size == 6 and cfg.max_lag == 0 and cfg.queue_groups == cfg.rl.prompts_per_step
    with pytest.raises(
        ConfigError, match=r"unknown key 'actors.gpus'; valid keys here: actors.count, actors.max_batch"
    ):
        load_train_config("configs/test-tiny.yaml", ["--actors.gpus=1"])
    with pytest.raises(ConfigError, match="exactly one of data.tasks"):
        load_train_config("configs/test-tiny.yaml", ["--data.tasks=x.parquet"])
    assert TrainConfig.model_validate({"data": {"tasks": "x.parquet"}}).data.synthetic is None
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a list\n")
    with pytest.raises(ConfigError, match="mapping at the top level"):
        load_train_config(bad)
    assert split_override_args(["cfg.yaml", "--rl.lr", "2", "--resume", "x"], {"--resume"}) == (
        ["--rl.lr=2"],
        ["cfg.yaml", "--resume", "x"],
    )


def test_loss_normaliser_is_a_constant_unless_asked_for_tokens():
    cfg = load_train_config("configs/test-tiny.yaml")
    assert cfg.loss_normaliser(5) == cfg.loss_normaliser(500) == 2 * 4 * 32
    assert load_train_config("configs/test-tiny.yaml", ["--rl.loss_norm=samples"]).loss_normaliser(5) == 8
    assert load_train_config("configs/test-tiny.yaml", ["--rl.loss_norm=tokens"]).loss_normaliser(5) == 5
    assert load_train_config("configs/test-tiny.yaml", ["--rl.loss_norm=100"]).loss_normaliser(5) == 100


def test_synthetic_lengths_are_heavy_tailed_and_the_optimum_scores_one():
    cfg = SyntheticSection(n_prompts=2000, len_median=16, len_p99=128)
    lengths = sorted(answer_lengths(cfg, cap=512))
    p50, p99 = lengths[1000], lengths[1980]
    assert 14 <= p50 <= 18 and p99 / p50 >= 4
    task = CharsetTask(SyntheticSection(n_prompts=4), ByteTokenizer(), 64)
    n = task.prompt(0).max_new_tokens
    assert task.score(0, "", list(b"q" * n)).value == 1.0
    assert task.score(0, "", list(b"Q" * n)).value == 0.0
    assert task.score(0, "", [257] * n).format_error
    sr = SearchReplaceTask(SyntheticSection(kind="search_replace", n_prompts=2), ByteTokenizer(), 64)
    assert sr.score(0, sr.tasks[0].gold[0].answer, []).value == 1.0
    assert sr.score(0, "a.py\n<<<<<<< SEARCH\n", []).format_error


def test_tasks_parquet_prompts_are_chat_templated_and_scored_by_the_gold_diff_reward(tmp_path):
    from golddiff.tasks import make_task, write_tasks_parquet

    task = make_task(
        {"a.py": "x = 1\ny = 2\n"}, {"a.py": "x = 1\ny = 3\n"}, request="Set y to 3.", task_id="t0"
    )
    write_tasks_parquet([task], tmp_path / "tasks.parquet")
    data = TaskDataset(str(tmp_path / "tasks.parquet"), "train", ByteTokenizer(), max_new_tokens=64)
    spec = data.prompt(0)
    assert spec.prompt_ids[0] == ByteTokenizer().bos_token_id and spec.max_new_tokens == 64
    answer = "The value is wrong.\n\n" + task.gold[0].answer  # reasoning first: only the blocks count
    assert data.score(0, answer, []).value == 1.0
    assert data.score(0, "a.py\n<<<<<<< SEARCH\nnope\n", []).format_error
    with pytest.raises(ValueError, match="no tasks in split 'test'"):
        TaskDataset(str(tmp_path / "tasks.parquet"), "test", ByteTokenizer(), 64)
