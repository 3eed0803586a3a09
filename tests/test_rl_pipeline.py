"""Pipeline RL end to end on one local Ray instance (2 CPUs) with the tiny model: exact on-policy at K = 0,
in-flight weight updates, a killed actor's prompts trained exactly once, kill-and-resume against an
uninterrupted run, a learner failure, the broadcast weight transport, and learning in both modes."""

from collections import Counter

import pytest

ray = pytest.importorskip("ray")

from golddiff.checks import train_hooks  # noqa: E402
from golddiff.rl.checkpoint import latest_checkpoint  # noqa: E402
from golddiff.rl.config import load_train_config  # noqa: E402
from golddiff.rl.ledger import read_ledger  # noqa: E402
from golddiff.rl.trainer import Hooks, LearnerFailed, train  # noqa: E402


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, log_to_driver=False)
    yield
    ray.shutdown()


def config(tmp_path, *overrides, name="run"):
    base = ["--run.progress=off", f"--run.dir={tmp_path / name}", "--run.stall_timeout_s=120"]
    return load_train_config("configs/test-tiny.yaml", base + list(overrides))


def collect_groups(into):
    """The hooks `golddiff train` runs with (preflight checks, drift monitor), plus collecting each step's
    groups."""

    def on_step(loop, row):
        into.append((row["step"], list(loop.last_groups)))

    return train_hooks(on_step)


def ledger_positions(run_dir):
    return [p for step in read_ledger(run_dir) for p, _ in step.prompts]


def test_max_off_policy_steps_zero_is_exactly_on_policy(tmp_path):
    steps = []
    cfg = config(tmp_path, "--rl.max_off_policy_steps=0", "--rl.stale=keep", "--run.steps=4")
    summary = train(cfg, hooks=collect_groups(steps))
    assert summary.step == 4 and len(steps) == 4
    for step, groups in steps:
        versions = {v for g in groups for s in g.samples for v in s.weight_versions}
        assert versions == {step - 1}  # trained at learner version step − 1, every token sampled by it
    for row in summary.rows:
        assert row["off_policy/lag_max"] == 0 and row["data/stale_dropped"] == 0
        assert row["off_policy/ess"] > 0.9999 and row["off_policy/mismatch_kl"] < 1e-5  # same weights
        assert row["checks/drift_warnings"] == 0  # the drift monitor (a hook) watched every step


def test_in_flight_updates_stamp_several_versions_on_one_completion(tmp_path):
    steps = []
    cfg = config(
        tmp_path, "--rl.max_off_policy_steps=2", "--data.synthetic.len_median=40", "--data.synthetic.len_p99=64",
        "--rl.max_new_tokens=64", "--actors.max_len=128", "--run.steps=6",
    )  # fmt: skip
    summary = train(cfg, hooks=collect_groups(steps))
    samples = [s for _, groups in steps for g in groups for s in g.samples]
    mixed = [s for s in samples if len(set(s.weight_versions)) > 1]
    assert mixed, "no completion spanned a weight update"
    for s in mixed:  # versions only move forward within a sequence
        assert s.weight_versions == sorted(s.weight_versions)
    assert all(row["off_policy/lag_max"] <= 2 for row in summary.rows)  # K, stale tokens masked


def test_a_killed_actors_prompts_are_trained_exactly_once(tmp_path):
    held = []

    def kill_actor(loop, row):
        if row["step"] == 2:
            held.extend(ray.get(loop.cluster.source.holding.remote(0)))
            ray.kill(loop.cluster.actors[0], no_restart=False)

    cfg = config(tmp_path, "--run.steps=7", "--actors.max_restarts=2")
    summary = train(cfg, hooks=Hooks(on_step=kill_actor))
    assert held, "the actor held no prompt when it was killed"
    positions = Counter(ledger_positions(cfg.run.dir))
    assert all(n == 1 for n in positions.values())  # no prompt trained twice
    assert all(positions[p] == 1 for p in held)  # every prompt it held was re-run and trained once
    assert summary.rows[-1]["actors/restarts"] == 1


def test_kill_and_resume_gives_the_same_ledger_as_an_uninterrupted_run(tmp_path):
    common = ["--mode=sync", "--run.steps=5", "--run.checkpoint_every=2"]
    whole = train(config(tmp_path, *common, name="whole"))

    def crash(loop, row):
        if row["step"] == 3:  # after the ledger line of step 3, before its checkpoint (every 2)
            raise RuntimeError("simulated crash")

    cfg = config(tmp_path, *common, name="crashed")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, hooks=Hooks(on_step=crash))
    assert latest_checkpoint(cfg.run.dir)[0] == 2 and len(read_ledger(cfg.run.dir)) == 3
    resumed = train(cfg, resume=True)
    assert resumed.step == 5 and [r["step"] for r in resumed.rows] == [3, 4, 5]
    a, b = read_ledger(whole.run_dir), read_ledger(cfg.run.dir)
    assert [s.step for s in b] == [1, 2, 3, 4, 5]
    ids_a, ids_b = [i for s in a for i in s.prompt_ids], [i for s in b for i in s.prompt_ids]
    assert Counter(ids_a) == Counter(ids_b) and len(set(ids_b)) == len(ids_b) == 10
    assert [set(s.prompt_ids) for s in a] == [set(s.prompt_ids) for s in b]  # sync: step by step too


def test_pipeline_resume_reissues_the_prompts_in_flight_and_none_twice(tmp_path):
    def crash(loop, row):
        if row["step"] == 3:
            raise RuntimeError("simulated crash")

    cfg = config(tmp_path, "--run.steps=5", "--run.checkpoint_every=2", "--rl.max_off_policy_steps=1")
    with pytest.raises(RuntimeError, match="simulated crash"):
        train(cfg, hooks=Hooks(on_step=crash))
    voided = {p for s in read_ledger(cfg.run.dir) if s.step == 3 for p, _ in s.prompts}
    train(cfg, resume=True)
    positions = ledger_positions(cfg.run.dir)
    per_step, k = cfg.rl.prompts_per_step, cfg.max_lag
    assert len(positions) == len(set(positions)) == 5 * per_step
    assert voided <= set(positions)  # the crashed step's prompts were issued again and trained
    assert max(positions) < (5 + k + 1) * per_step  # none skipped beyond the lag window


def test_a_learner_failure_stops_the_run_with_the_checkpoint_intact(tmp_path):
    def kill_learner(loop, row):
        if row["step"] == 2:
            ray.kill(loop.cluster.learner.ranks[0], no_restart=True)

    cfg = config(tmp_path, "--run.steps=6", "--run.checkpoint_every=2")
    with pytest.raises(LearnerFailed, match=r"step_2.*--resume"):
        train(cfg, hooks=Hooks(on_step=kill_learner))
    step, path = latest_checkpoint(cfg.run.dir)
    assert step == 2 and (path / "model.safetensors").is_file() and (path / "optimizer.pt").is_file()
    assert [s.step for s in read_ledger(cfg.run.dir)] == [1, 2]


def test_broadcast_transport_delivers_the_learners_exact_weights(tmp_path):
    cfg = config(
        tmp_path, "--learner.weight_transport=broadcast", "--rl.max_off_policy_steps=0", "--rl.stale=keep",
        "--run.steps=3",
    )  # fmt: skip
    summary = train(cfg)
    for row in summary.rows:  # sampled by weights that came over the gloo group: identical to the learner's
        assert row["off_policy/lag_max"] == 0 and row["off_policy/mismatch_kl"] < 1e-5


@pytest.mark.parametrize("mode", ["pipeline", "sync"])
def test_reward_rises_on_the_synthetic_task(tmp_path, mode):
    cfg = config(
        tmp_path, f"--mode={mode}", "--rl.group_size=8", "--rl.prompts_per_step=4", "--run.steps=20",
        "--run.checkpoint_every=0", "--data.synthetic.len_median=8", "--data.synthetic.len_p99=24",
    )  # fmt: skip
    rewards = [r["reward/mean"] for r in train(cfg).rows]
    first, last = sum(rewards[:3]) / 3, sum(rewards[-3:]) / 3
    assert first < 0.3 and last > first + 0.3, rewards  # a random byte model scores ~0.1 (26 of 264 ids)


def test_training_on_tasks_parquet_uses_the_gold_diff_reward(tmp_path):
    from golddiff.tasks import make_task, write_tasks_parquet

    tasks = [
        make_task({"a.py": f"x = {i}\ny = 2\n"}, {"a.py": f"x = {i}\ny = 3\n"}, task_id=f"t{i}")
        for i in range(4)
    ]
    write_tasks_parquet(tasks, tmp_path / "tasks.parquet")
    cfg = config(
        tmp_path, "--data.synthetic=null", f"--data.tasks={tmp_path / 'tasks.parquet'}", "--actors.max_len=1600",
        "--rl.max_new_tokens=8", "--rl.group_size=2", "--run.steps=1",
    )  # fmt: skip
    row = train(cfg).rows[0]
    assert row["reward/mean"] == 0.0  # a random model writes no SEARCH/REPLACE block: P is empty, score 0
    assert row["data/trained_tokens"] > 0 and row["gen/len_mean"] > 0


def test_a_learner_of_two_fsdp2_ranks_on_ray_trains_and_checkpoints(tmp_path):
    cfg = config(tmp_path, "--learner.processes=2", "--learner.num_cpus=0.5", "--run.steps=3", "--mode=sync")
    summary = train(cfg)
    assert [r["version"] for r in summary.rows] == [1, 2, 3]
    assert all(r["off_policy/mismatch_kl"] < 1e-5 for r in summary.rows)  # gathered weights = sampled weights
    step, path = latest_checkpoint(cfg.run.dir)
    assert step == 3 and (path / "optimizer.pt").is_file()


def test_answers_cut_off_at_the_token_limit_score_the_unfinished_reward(tmp_path):
    """`rl.unfinished_reward: -1`: a completion that ran to max_new_tokens is a format error scoring -1 (a
    random model rarely ends within 8 tokens); one that ended is scored by the reward as before (0 here)."""
    from golddiff.tasks import make_task, write_tasks_parquet

    tasks = [make_task({"a.py": f"x = {i}\n"}, {"a.py": f"x = {i + 1}\n"}, task_id=f"t{i}") for i in range(4)]
    write_tasks_parquet(tasks, tmp_path / "tasks.parquet")
    cfg = config(
        tmp_path, "--data.synthetic=null", f"--data.tasks={tmp_path / 'tasks.parquet'}", "--actors.max_len=1600",
        "--rl.max_new_tokens=8", "--rl.group_size=4", "--rl.unfinished_reward=-1", "--run.steps=1",
    )  # fmt: skip
    row = train(cfg).rows[0]
    assert row["gen/unfinished_rate"] > 0
    assert row["reward/mean"] == pytest.approx(-row["gen/unfinished_rate"])
    assert row["reward/format_error_rate"] == pytest.approx(row["gen/unfinished_rate"])
