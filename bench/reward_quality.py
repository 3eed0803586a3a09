"""Benchmark: how well rewards tell resolved from unresolved patches, on a labelled design set.

    .venv/bin/python bench/reward_quality.py ../shared/reward_design/design.jsonl [--repeats 5] [--folds 5]

Input: JSON lines with `instance_id`, `gold_patch`, `candidate_patch`, `resolved`, `source` (see
`golddiff.reward.fit`). Scorers, side by side on the same rows:
- `golddiff`: `golddiff.reward.score_diff(candidate, gold)` with the default (fitted) settings;
- `golddiff-cv`: the same reward with its settings fitted on the other folds only (`choose`: the part
  weights by `fit_weights` and the location scale and β from `LOCATION_GRID`; k folds by instance, never
  by row, repeated with several shuffles): the out-of-fold figure, the honest one. The whole procedure
  on all rows gives the defaults; the bench says whether `RewardSettings()` still equals it;
- `difflib`: `SequenceMatcher(None, candidate.strip(), gold.strip(), autojunk=False).ratio()`;
- `swerl`: SWE-RL's per-file reward, from the two diffs (`golddiff.reward.fit.swerl_diff_reward`).

Figures: AUROC pooled over all rows; on mixed-label instances (those with both a resolved and an
unresolved candidate, across agents) as the mean of per-instance AUROCs (`mixed`) and pooled over their
candidates (`mixed-pooled`). Per agent each instance has one candidate, so per agent `mixed` is the
pooled AUROC of that agent's candidates on the mixed-label instances. `golddiff-cv` figures are means over
the repeats (± their standard deviation in the summary). Takes 3-4 minutes on 2 cores, most of it
difflib's and SWE-RL's quadratic ratios. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from golddiff.reward import KINDS, RewardSettings, UnitWeights, score_diff  # noqa: E402
from golddiff.reward.fit import (  # noqa: E402
    LOCATION_GRID,
    MINIMUM_WEIGHTS,
    Choice,
    auroc,
    choose,
    difflib_ratio,
    folds_of,
    instance_folds,
    location_part,
    mixed_auroc,
    read_design,
    swerl_diff_reward,
)
from golddiff.reward.units import blocks_from_diff  # noqa: E402


def progress(label: str, i: int, n: int, t0: float) -> None:
    if i == n or i % 100 == 0:
        print(f"\r  {label}: {i}/{n} rows, {time.perf_counter() - t0:.0f} s", end="\n" if i == n else "")
        sys.stdout.flush()


def score_rows(rows, settings: RewardSettings, label: str, idx=None) -> dict[int, tuple]:
    """(value, parts) of score_diff per row index."""
    out, t0 = {}, time.perf_counter()
    idx = range(len(rows)) if idx is None else idx
    for n, i in enumerate(idx, 1):
        r = score_diff(rows[i].candidate_patch, rows[i].gold_patch, settings=settings)
        out[i] = (r.value, [r.f1.get(k, 0.0) for k in KINDS], [k in r.scored for k in KINDS])
        if label:
            progress(label, n, len(idx), t0)
    return out


def figures(scores, rows, mixed_ids: set[str]) -> dict[str, dict]:
    """Per source and for all rows: pooled AUROC and the mixed-label figures."""
    out = {}
    for src in [None, *sorted({r.source for r in rows})]:
        idx = [i for i, r in enumerate(rows) if src is None or r.source == src]
        s, y = [scores[i] for i in idx], [rows[i].resolved for i in idx]
        mix = [i for i in idx if rows[i].instance_id in mixed_ids]
        m = mixed_auroc(s, y, [rows[i].instance_id for i in idx])
        out[src or "all"] = {
            "n": len(idx),
            "resolved": sum(y),
            "pooled": auroc(s, y),
            "mixed": m.mean
            if src is None
            else auroc([scores[i] for i in mix], [rows[i].resolved for i in mix]),
            "mixed_pooled": auroc([scores[i] for i in mix], [rows[i].resolved for i in mix]),
            "mixed_instances": m.instances if src is None else len({rows[i].instance_id for i in mix}),
        }
    return out


def fmt(x: float | None) -> str:
    return "  -  " if x is None else f"{x:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("design", help="design set, JSON lines")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=5, help="cross-validation shuffles (seeds 0..)")
    parser.add_argument("--step", type=float, default=0.05, help="weight grid step")
    args = parser.parse_args()

    rows, skipped = read_design(args.design)
    print(f"{args.design}: {len(rows)} rows, {len(skipped)} skipped")
    for msg in skipped[:10]:
        print("  skipped:", msg)
    if not rows:
        sys.exit(f"{args.design}: no usable rows")
    labels = [r.resolved for r in rows]
    groups = [r.instance_id for r in rows]
    by_instance: dict[str, set[bool]] = {}
    for r in rows:
        by_instance.setdefault(r.instance_id, set()).add(r.resolved)
    mixed_ids = {g for g, ys in by_instance.items() if len(ys) == 2}
    print(f"{len(by_instance)} instances, {len(mixed_ids)} with both labels; {sum(labels)} resolved")

    t0 = time.perf_counter()
    base = score_rows(rows, RewardSettings(), "golddiff")
    reward_s = time.perf_counter() - t0
    parts = np.array([base[i][1] for i in range(len(rows))])
    scored = np.array([base[i][2] for i in range(len(rows))], dtype=float)
    ok = np.array([base[i][0] > -1 for i in range(len(rows))])
    t0 = time.perf_counter()
    dl = [difflib_ratio(r.candidate_patch, r.gold_patch) for r in rows]
    difflib_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sw = [swerl_diff_reward(r.candidate_patch, r.gold_patch) for r in rows]
    swerl_s = time.perf_counter() - t0
    print(f"  time on the set: golddiff {reward_s:.1f} s, difflib {difflib_s:.1f} s, swerl {swerl_s:.1f} s")

    # the location part under each candidate setting (the other parts do not depend on them)
    blocks = [
        (blocks_from_diff(r.candidate_patch), blocks_from_diff(r.gold_patch)) if ok[i] else ([], [])
        for i, r in enumerate(rows)
    ]
    loc = KINDS.index("location")
    by_setting = {}
    for scale, beta in LOCATION_GRID:
        m = parts.copy()
        m[:, loc] = [location_part(p, g, scale, beta) for p, g in blocks]
        by_setting[(scale, beta)] = m

    def pick(idx: np.ndarray) -> Choice:
        return choose(
            {k: m[idx] for k, m in by_setting.items()},
            scored[idx],
            [labels[i] for i in idx],
            [groups[i] for i in idx],
            [MINIMUM_WEIGHTS[k] for k in KINDS],
            args.step,
        )

    def settings_of(c: Choice) -> RewardSettings:
        w = UnitWeights(**dict(zip(KINDS, map(float, c.weights))))
        return RewardSettings(weights=w, location_scale=c.setting[0], location_beta=c.setting[1])

    cv_runs, fold_choices = [], []
    t0 = time.perf_counter()
    for rep in range(args.repeats):
        folds = instance_folds(groups, args.folds, seed=rep)
        oof: dict[int, float] = {}
        for train, test in folds_of(args.folds, folds):
            choice = pick(train[ok[train]])
            fold_choices.append(choice)
            oof.update({i: v[0] for i, v in score_rows(rows, settings_of(choice), "", test).items()})
        cv_runs.append(figures([oof[i] for i in range(len(rows))], rows, mixed_ids))
        print(
            f"  cross-validation {rep + 1}/{args.repeats}: pooled {cv_runs[-1]['all']['pooled']:.3f}, "
            f"mixed {cv_runs[-1]['all']['mixed']:.3f} ({time.perf_counter() - t0:.0f} s)"
        )
    full = pick(np.flatnonzero(ok))
    fitted = settings_of(full)
    default = RewardSettings()
    same = fitted.weights == default.weights and (fitted.location_scale, fitted.location_beta) == (
        default.location_scale,
        default.location_beta,
    )

    table = {
        "golddiff": figures([base[i][0] for i in range(len(rows))], rows, mixed_ids),
        "difflib": figures(dl, rows, mixed_ids),
        "swerl": figures(sw, rows, mixed_ids),
    }
    cv = {
        src: {k: statistics.mean(run[src][k] for run in cv_runs) for k in ("pooled", "mixed", "mixed_pooled")}
        for src in cv_runs[0]
    }
    cv_sd = {
        k: statistics.pstdev(run["all"][k] for run in cv_runs) for k in ("pooled", "mixed", "mixed_pooled")
    }

    print("\nsingle parts (default settings), AUROC pooled / mixed:")
    for j, k in enumerate(KINDS):
        f = figures(list(parts[:, j]), rows, mixed_ids)["all"]
        print(f"  {k:9s} {fmt(f['pooled'])} / {fmt(f['mixed'])}")

    def describe(s: RewardSettings) -> str:
        return (
            f"{s.weights.model_dump()}, location scale {s.location_scale:g} lines, beta {s.location_beta:g}"
        )

    print(f"\nfitted on all rows: {describe(fitted)}")
    print(
        f"defaults:           {describe(default)}  ({'the same' if same else 'DIFFERENT: update the defaults'})"
    )
    spread = np.array([c.weights for c in fold_choices])
    ranges = {k: f"{lo:.2f}..{hi:.2f}" for k, lo, hi in zip(KINDS, spread.min(0), spread.max(0))}
    settings_seen = Counter(c.setting for c in fold_choices)
    print(f"per fold: weights {ranges}; (scale, beta) chosen {dict(settings_seen)}")

    print("\nAUROC  (pooled | mixed: per-instance mean for 'all', pooled on mixed-label instances per agent)")
    head = f"{'source':40s} {'n':>5s} {'res':>4s} {'mix':>4s}"
    for name in ("golddiff-cv", "golddiff", "difflib", "swerl"):
        head += f" | {name:>13s}"
    print(head)
    for src in table["golddiff"]:
        g = table["golddiff"][src]
        line = f"{src[:40]:40s} {g['n']:>5d} {g['resolved']:>4d} {g['mixed_instances']:>4d}"
        for fig in (cv[src], g, table["difflib"][src], table["swerl"][src]):
            line += f" | {fmt(fig['pooled'])} {fmt(fig['mixed'])}"
        print(line)
    a = table["golddiff"]["all"]
    print(
        f"\nmixed-label instances pooled: golddiff-cv {fmt(cv['all']['mixed_pooled'])}, golddiff "
        f"{fmt(a['mixed_pooled'])}, difflib {fmt(table['difflib']['all']['mixed_pooled'])}, swerl "
        f"{fmt(table['swerl']['all']['mixed_pooled'])}"
    )
    beats = (
        cv["all"]["pooled"] > table["difflib"]["all"]["pooled"]
        and cv["all"]["mixed"] > table["difflib"]["all"]["mixed"]
    )
    print(f"cross-validated golddiff above difflib pooled and mixed: {'yes' if beats else 'NO'}")
    summary = {
        "rows": len(rows),
        "skipped": len(skipped),
        "mixed_instances": len(mixed_ids),
        "cv": {"folds": args.folds, "repeats": args.repeats, "by": "instance_id", **cv["all"], "sd": cv_sd},
        "cv_per_source": cv,
        "golddiff": table["golddiff"],
        "difflib": table["difflib"],
        "swerl": table["swerl"],
        "fitted": {
            **fitted.weights.model_dump(),
            "location_scale": fitted.location_scale,
            "location_beta": fitted.location_beta,
        },
        "defaults_are_the_fit": same,
        "cv_beats_difflib": beats,
        "seconds": {
            "golddiff": round(reward_s, 2),
            "difflib": round(difflib_s, 2),
            "swerl": round(swerl_s, 2),
        },
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
