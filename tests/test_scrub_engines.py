"""The scrubber's two scan engines (golddiff/traces/scrub/scan.py) replace the same text.

Hyperscan has wheels for Linux x86-64 only; elsewhere the same rule table is searched with Python's `re`.
Here the `re` engine is forced and compared with Hyperscan on the generated secret corpus, lock files and
part of the standard library, and golddiff is run with `hyperscan` made unimportable: it still imports,
ingests and scrubs (tests/test_secrets_pipeline.py runs its whole pipeline that way too).
"""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from secret_corpus import lockfile_texts, secret_samples, stdlib_texts

from golddiff.traces.scrub import Scrubber
from golddiff.traces.scrub.scan import available

ROOT = Path(__file__).resolve().parents[1]
# run golddiff's CLI in a process where `import hyperscan` fails, as on a machine without its wheel
WITHOUT_HYPERSCAN = (
    "import runpy, sys; sys.modules['hyperscan'] = None; sys.argv = ['golddiff', *sys.argv[1:]]; "
    "runpy.run_module('golddiff.cli', run_name='__main__')"
)


def test_the_re_engine_catches_every_rule_in_every_context():
    caught, total = Counter(), Counter()
    for s in secret_samples(seed=1, per_context=2):  # the corpus test's samples and bar
        total[s.kind] += 1
        caught[s.kind] += s.secret not in Scrubber(engine="re").scrub_text(s.text)
    assert len(total) > 50
    assert min(caught[k] / total[k] for k in total) >= 0.99, {k: caught[k] for k in total}


@pytest.mark.skipif("hyperscan" not in available(), reason="hyperscan is not installed on this machine")
def test_both_engines_replace_the_same_text():
    texts = [s.text for s in secret_samples(seed=4, per_context=2)]
    texts += [t for _, t in lockfile_texts(seed=4)]
    texts += [t for _, t in stdlib_texts(limit_mb=3)]
    assert len(texts) > 500
    for text in texts:
        fast, slow = Scrubber(engine="hyperscan"), Scrubber(engine="re")
        assert slow.scrub_text(text) == fast.scrub_text(text), text[:200]
        assert slow.counts == fast.counts
    joined = {"turns": [{"text": t} for t in texts[:300]]}
    assert Scrubber(engine="re").scrub_episode(joined) == Scrubber(engine="hyperscan").scrub_episode(joined)


def test_an_unknown_engine_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="hyperscan.*re"):
        Scrubber(engine="pcre")


def test_golddiff_imports_and_scrubs_without_hyperscan(tmp_path: Path):
    key = "ghp_" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"
    probe = (
        "import sys; sys.modules['hyperscan'] = None; import golddiff.traces.ingest; "
        "from golddiff.traces.scrub import Scrubber; from golddiff.traces.scrub.scan import available; "
        f"s = Scrubber(); print(available(), s._c.name, '{key}' in s.scrub_text('token {key} here'))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["['re']", "re", "False"]
    example = next((ROOT / "golddiff" / "examples" / "claude_code").glob("*/*.jsonl"))
    session = tmp_path / "session.jsonl"
    text = example.read_text()
    assert "remove() happily drives stock negative." in text
    session.write_text(text.replace("remove() happily", f"(staging token {key}) remove() happily", 1))
    episodes = tmp_path / "episodes.jsonl"
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_HYPERSCAN, "ingest", str(session), "-o", str(episodes), "--stats"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["episodes"] >= 1
    assert key not in episodes.read_text() and "<secret:github_token:" in episodes.read_text()
