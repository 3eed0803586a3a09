"""The HTML report: built from synthetic run dirs with and without some metrics, the sync-vs-pipeline
comparison, held-out examples from an eval file, the command line, and the page in headless Chromium."""

from __future__ import annotations

import base64
import json
import math
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from golddiff.report import build_report, load_run

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def write_run(
    path: Path, mode: str, steps: int = 30, drop: tuple[str, ...] = (), seconds_per_step: float = 2.0
) -> Path:
    """A run dir like `golddiff train` writes: config.yaml and one metrics row per step."""
    path.mkdir(parents=True)
    (path / "config.yaml").write_text(f"mode: {mode}\nrun:\n  steps: {steps}\n")
    rng = random.Random(mode)
    lines = []
    for step in range(1, steps + 1):
        row = {
            "step": step,
            "time/elapsed_s": step * seconds_per_step,
            "reward/mean": -0.8 + 1.2 * (1 - math.exp(-step / 10)) + rng.gauss(0, 0.05),
            "reward/format_error_rate": 0.9 * math.exp(-step / 8),
            "off_policy/lag_mean": 0.0 if mode == "sync" else rng.random(),
            "off_policy/lag_max": 0 if mode == "sync" else 1,
            "off_policy/lag_hist": [64] if mode == "sync" else [40, 24],
            "off_policy/ess": 1 - rng.random() * 0.05,
            "off_policy/mismatch_kl": rng.random() * 1e-3,
            "perf/gen_tokens_per_s": (500 if mode == "sync" else 800) + rng.gauss(0, 20),
            "perf/learner_idle_frac": (0.6 if mode == "sync" else 0.1) + rng.gauss(0, 0.02),
        }
        lines.append(json.dumps({k: v for k, v in row.items() if k not in drop}))
    (path / "metrics.jsonl").write_text("\n".join(lines) + "\n" + '{"step": 31, "rew')  # a torn last line
    return path


def write_eval(path: Path, name: str, reward: float) -> Path:
    rows = []
    for i in range(3):
        answer = {
            "text": "a.py\n<<<<<<< SEARCH\nx = 1\n=======\nx = 2\n>>>>>>> REPLACE\n",
            "reward": reward,
            "exact": reward == 1.0,
            "format_error": reward < 0,
            "error": "SEARCH text not found" if reward < 0 else None,
            "swerl": reward,
            "finish_reason": "stop",
            "tokens": 40,
            "diff": None if reward < 0 else "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 2\n",
        }
        rows.append(
            {
                "task_id": f"t{i}",
                "split": "heldout",
                "request": f"`mod.f{i}` returns <the wrong> value & more",
                "gold_diff": "--- a/a.py\n+++ b/a.py\n@@ -1 +1 @@\n-x = 1\n+x = 3\n",
                "answers": [answer],
                "reward_mean": reward,
                "exact_mean": float(reward == 1.0),
                "format_error_mean": float(reward < 0),
                "swerl_mean": reward,
            }
        )
    out = path / f"eval_{name}.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return out


def _images(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", html)]


def test_full_run_gives_every_plot(tmp_path: Path) -> None:
    run = write_run(tmp_path / "pipe", "pipeline")
    assert len(load_run(run).rows) == 30  # the torn line is skipped
    out = build_report([run], [], tmp_path / "r.html")
    html = out.read_text()
    images = _images(html)
    assert len(images) == 7 and all(img.startswith(b"\x89PNG\r\n\x1a\n") for img in images)
    for title in (
        "Reward over training steps",
        "Reward over wall-clock time",
        "Lag histogram",
        "ESS and mismatch KL",
    ):
        assert title in html
    assert "Generation throughput" in html and "Learner idle share" in html
    assert "No plot" not in html and "<script" not in html
    assert "Sync vs pipeline" not in html


def test_missing_metrics_give_notes_not_errors(tmp_path: Path) -> None:
    drop = (
        "off_policy/ess",
        "off_policy/mismatch_kl",
        "perf/learner_idle_frac",
        "off_policy/lag_hist",
        "off_policy/lag_mean",
    )
    run = write_run(tmp_path / "partial", "pipeline", drop=drop)
    html = build_report([run], [], tmp_path / "r.html").read_text()
    assert html.count("No plot") == 3
    assert "off_policy/ess" in html and "perf/learner_idle_frac" in html
    assert len(_images(html)) == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    html = build_report([empty], [], tmp_path / "e.html").read_text()
    assert html.count("No plot") == 7 and not _images(html)


def test_sync_and_pipeline_are_compared(tmp_path: Path) -> None:
    pipe = write_run(tmp_path / "pipe", "pipeline", seconds_per_step=1.0)
    sync = write_run(tmp_path / "sync", "sync")
    html = build_report([pipe, sync], [], tmp_path / "r.html").read_text()
    assert "Sync vs Pipeline RL" in html and "throughput and idle share" in html
    assert len(_images(html)) == 7 + 3


def test_eval_results_and_examples(tmp_path: Path) -> None:
    sft = write_eval(tmp_path, "sft", -1.0)
    rl = write_eval(tmp_path, "rl", 0.5)
    html = build_report([], [sft, rl], tmp_path / "r.html", eval_names=["after SFT", "after RL"]).read_text()
    assert "Held-out evaluation" in html and "Held-out examples" in html
    assert "after SFT" in html and "after RL" in html
    assert "&lt;the wrong&gt; value &amp; more" in html  # escaped
    assert "+x = 3" in html and "+x = 2" in html  # the gold diff beside the answer's diff
    assert "SEARCH text not found" in html
    assert len(_images(html)) == 1


def test_report_command(tmp_path: Path) -> None:
    run = write_run(tmp_path / "pipe", "pipeline")
    ev = write_eval(tmp_path, "rl", 0.25)
    cmd = [
        sys.executable,
        "-m",
        "golddiff.cli",
        "report",
        str(run),
        "--eval",
        str(ev),
        "-o",
        str(tmp_path / "o.html"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "o.html").stat().st_size > 10_000
    proc = subprocess.run([*cmd[:4], str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "not a run dir" in proc.stderr


def check_in_chromium(html_path: Path, tmp_path: Path, screenshot: Path | None = None) -> str:
    """Load the page in headless Chromium with a probe script appended to a copy; return the probe's
    verdict `loaded/total` of images whose naturalWidth > 0 (and take a screenshot when asked)."""
    probe = html_path.with_name(html_path.stem + ".probe.html")
    script = (
        "<script>window.addEventListener('load',()=>{const i=[...document.images];"
        "document.body.setAttribute('data-images',i.filter(x=>x.complete&&x.naturalWidth>0).length+'/'+i.length);});"
        "</script>"
    )
    probe.write_text(html_path.read_text().replace("</body>", script + "</body>"))
    flags = [
        *CHROMIUM_FLAGS,
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--virtual-time-budget=5000",
    ]
    proc = subprocess.run(
        [CHROMIUM, *flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=120
    )
    match = re.search(r'data-images="(\d+)/(\d+)"', proc.stdout)
    assert match, f"no probe result in the DOM; chromium said: {proc.stderr[-500:]}"
    if screenshot is not None:
        shot = [
            CHROMIUM,
            *flags,
            "--hide-scrollbars",
            "--window-size=1200,2400",
            f"--screenshot={screenshot}",
        ]
        subprocess.run([*shot, html_path.as_uri()], capture_output=True, timeout=120)
    return match.group(0).split('"')[1]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install -y chromium)")
def test_every_image_loads_in_headless_chromium(tmp_path: Path) -> None:
    pipe = write_run(tmp_path / "pipe", "pipeline")
    sync = write_run(tmp_path / "sync", "sync")
    evals = [write_eval(tmp_path, "sft", -1.0), write_eval(tmp_path, "rl", 0.5)]
    page = build_report([pipe, sync], evals, tmp_path / "report.html")
    n = len(_images(page.read_text()))
    shot = tmp_path / "shot.png"
    assert check_in_chromium(page, tmp_path, shot) == f"{n}/{n}"
    assert shot.exists() and shot.stat().st_size > 50_000  # a rendered page, not a blank one
