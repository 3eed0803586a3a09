"""golddiff.reward.fit and bench/reward_quality.py: AUROC, folds by instance, the weight fit, SWE-RL on diffs."""

import json
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from golddiff.diffs import files_diff
from golddiff.reward import DEFAULT_SETTINGS, KINDS, score_diff, swerl_reward
from golddiff.reward.fit import (
    LOCATION_GRID,
    MINIMUM_WEIGHTS,
    auroc,
    choose,
    fit_weights,
    instance_folds,
    location_part,
    mixed_auroc,
    read_design,
    simplex_grid,
    swerl_diff_reward,
)

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the project (a main checkout), or two up (a worktree under wt/)
_PLACES = [up / "shared/reward_design/design.jsonl" for up in (ROOT.parent, ROOT.parents[1])]
DESIGN = next((p for p in _PLACES if p.exists()), _PLACES[0])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.booleans()), min_size=1, max_size=30))
def test_auroc_counts_every_pair_with_ties_as_half(pairs):
    scores, labels = [float(s) for s, _ in pairs], [y for _, y in pairs]
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    got = auroc(scores, labels)
    if not pos or not neg:
        assert got is None
        return
    want = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
    assert got == pytest.approx(want)


def test_mixed_auroc_uses_only_instances_with_both_labels():
    scores = [0.9, 0.1, 0.8, 0.7, 0.2, 0.6]
    labels = [True, False, False, True, True, True]
    groups = ["a", "a", "b", "b", "c", "c"]  # c has only resolved candidates
    m = mixed_auroc(scores, labels, groups)
    assert m.instances == 2
    assert m.mean == pytest.approx((1.0 + 0.0) / 2)
    assert m.pooled == pytest.approx(auroc(scores[:4], labels[:4]))


def test_folds_keep_an_instance_together_and_hold_about_the_same_number_of_instances():
    groups = [f"i{k % 23}" for k in range(200)]
    folds = instance_folds(groups, 5, seed=3)
    where = {}
    for g, f in zip(groups, folds):
        assert where.setdefault(g, f) == f
    sizes = [sum(1 for f in where.values() if f == k) for k in range(5)]
    assert max(sizes) - min(sizes) <= 1
    assert instance_folds(groups, 5, seed=3) == folds != instance_folds(groups, 5, seed=4)


def test_the_grid_is_the_simplex_above_the_minimums():
    grid = simplex_grid(4, 0.05, [0, 0.05, 0, 0])
    assert np.allclose(grid.sum(1), 1) and (grid[:, 1] >= 0.05 - 1e-9).all() and (grid >= 0).all()
    assert len(simplex_grid(3, 0.5, [0, 0, 0])) == 6


def test_the_fit_finds_the_part_that_predicts_the_label_and_keeps_the_minimums():
    rng = np.random.default_rng(0)
    parts = rng.random((600, 3))
    labels = rng.random(600) < 1 / (1 + np.exp(-(8 * parts[:, 2] - 4)))  # only part 2 matters
    w = fit_weights(parts, labels.tolist(), [0, 0.1, 0])
    assert w[2] >= 0.8 and w[1] == pytest.approx(0.1) and w.sum() == pytest.approx(1)


def test_read_design_skips_bad_lines_and_says_which(tmp_path):
    good = {"instance_id": "a", "gold_patch": "g", "candidate_patch": "c", "resolved": True, "source": "s"}
    path = tmp_path / "d.jsonl"
    path.write_text(
        "\n".join([json.dumps(good), "{not json", json.dumps({**good, "resolved": "yes"}), "[1]", ""]) + "\n"
    )
    rows, skipped = read_design(path)
    assert len(rows) == 1 and rows[0].resolved is True
    assert len(skipped) == 3
    assert f"{path}:2: not JSON" in skipped[0] and "resolved (bool)" in skipped[1] and ":4:" in skipped[2]


def test_swerl_on_diffs_matches_swerl_on_files():
    base = {"a.py": "x = 1\ny = 2\nz = 3\n", "b.py": "p = 1\n"}
    gold = {"a.py": "x = 1\ny = 20\nz = 3\n", "b.py": "p = 2\n"}
    pred = {"a.py": "x = 1\ny = 21\nz = 3\nw = 4\n", "b.py": "p = 1\n"}
    want = swerl_reward(base, gold, {"a.py": pred["a.py"]})
    assert swerl_diff_reward(files_diff(base, pred), files_diff(base, gold)) == pytest.approx(want)
    assert swerl_diff_reward("I would change y.", files_diff(base, gold)) == -1.0
    assert swerl_diff_reward("", files_diff(base, gold)) == 0.0


def _tiny_design(path: Path) -> None:
    """12 candidates for 4 instances from 2 agents: resolved ones copy the gold, others edit elsewhere."""
    rng = random.Random(0)
    lines = [f"v{i} = f({i})\n" for i in range(40)]
    rows = []
    for inst in range(4):
        base = {"m.py": "".join(lines)}
        at = 5 + 7 * inst
        gold = files_diff(base, {"m.py": "".join(lines[:at] + [f"v{at} = g({at})\n"] + lines[at + 1 :])})
        for k in range(3):
            right = k == 0 or (k == 1 and inst % 2 == 0)
            where = at if right else rng.randrange(0, 40)
            new = f"v{where} = g({at})\n" if right else f"v{where} = h()\n"
            cand = files_diff(base, {"m.py": "".join(lines[:where] + [new] + lines[where + 1 :])})
            rows.append(
                {
                    "instance_id": f"i{inst}",
                    "repo": "r",
                    "gold_patch": gold,
                    "candidate_patch": cand,
                    "resolved": right,
                    "source": f"agent{k % 2}",
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "oops\n")


def test_the_quality_bench_runs_and_ends_with_one_json_line(tmp_path):
    design = tmp_path / "design.jsonl"
    _tiny_design(design)
    out = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench/reward_quality.py"),
            str(design),
            "--repeats",
            "2",
            "--folds",
            "2",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=300,
    ).stdout
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["rows"] == 12 and summary["skipped"] == 1 and summary["cv"]["by"] == "instance_id"
    assert summary["golddiff"]["all"]["pooled"] == 1.0  # the right edits copy the gold; the others do not
    assert set(summary["cv_per_source"]) == {"all", "agent0", "agent1"}
    assert "difflib" in out and "swerl" in out


@pytest.mark.skipif(not DESIGN.exists(), reason="the shared design set is not on this machine")
def test_the_defaults_are_the_fit_on_the_design_set():
    from golddiff.reward.units import blocks_from_diff

    rows, skipped = read_design(DESIGN)
    assert not skipped
    parts, scored, values, blocks = [], [], [], []
    for r in rows:
        result = score_diff(r.candidate_patch, r.gold_patch)
        parts.append([result.f1[k] for k in KINDS])
        scored.append([k in result.scored for k in KINDS])
        values.append(result.value)
        blocks.append((blocks_from_diff(r.candidate_patch), blocks_from_diff(r.gold_patch)))
    labels, groups = [r.resolved for r in rows], [r.instance_id for r in rows]
    by_setting = {}
    for scale, beta in LOCATION_GRID:
        m = np.array(parts)
        m[:, KINDS.index("location")] = [location_part(p, g, scale, beta) for p, g in blocks]
        by_setting[(scale, beta)] = m
    minimums = [MINIMUM_WEIGHTS[k] for k in KINDS]
    c = choose(by_setting, np.array(scored, dtype=float), labels, groups, minimums)
    assert dict(zip(KINDS, c.weights.round(3).tolist())) == DEFAULT_SETTINGS.weights.model_dump()
    assert c.setting == (DEFAULT_SETTINGS.location_scale, DEFAULT_SETTINGS.location_beta)
    assert auroc(values, labels) > 0.808  # difflib's figure on this set (its README)


def test_the_fit_weighs_the_parts_as_the_reward_does():
    from golddiff.reward import RewardSettings, UnitWeights
    from golddiff.reward.fit import weighted

    base = {"a.py": "".join(f"v{i} = f({i})\n" for i in range(30))}
    gold = files_diff(base, {"a.py": base["a.py"].replace("v3 = f(3)\n", "v3 = g(3)\n")})
    cands = [
        files_diff(base, {"a.py": base["a.py"].replace("v3 = f(3)\n", "v3 = f(3)\nextra()\n")}),  # adds only
        files_diff(base, {"a.py": base["a.py"].replace("v9 = f(9)\n", "v9 = g(9)\n")}),
        files_diff(base, {"a.py": base["a.py"].replace("v20 = f(20)\n", "")}),
    ]
    w = np.array([0.5, 0.2, 0.1, 0.2])
    s = RewardSettings(weights=UnitWeights(**dict(zip(KINDS, w.tolist()))))
    for cand in cands:
        r = score_diff(cand, gold, settings=s)
        parts = np.array([[r.f1[k] for k in KINDS]])
        scored = np.array([[k in r.scored for k in KINDS]], dtype=float)
        assert not r.floored or r.value == s.gold_file_floor
        if not r.floored:
            assert weighted(parts, scored, w[None, :])[0, 0] == pytest.approx(r.value)


def test_scoring_imports_neither_the_fit_nor_numpy():
    code = (
        "import sys, golddiff.reward, golddiff.commands.score; "
        "from golddiff.reward import score; from golddiff.tasks import make_task; "
        "t = make_task({'a.py': 'x = 1\\n'}, {'a.py': 'x = 2\\n'}); assert score(t.gold[0].answer, t).value == 1.0; "
        "print(sorted(m for m in ('numpy', 'golddiff.reward.fit') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
