"""The scrubber on generated corpora: every rule's secrets caught in every context, ordinary text kept.

The corpora come from tests/secret_corpus.py; bench/scrub.py reports the same figures with the old
scrubber side by side.
"""

from collections import Counter

import pytest
from secret_corpus import CONTEXTS, lockfile_texts, secret_samples, stdlib_texts

from golddiff.traces.scrub import Scrubber


def test_every_rule_is_caught_in_every_context():
    samples = secret_samples(seed=1, per_context=2)
    caught, total = Counter(), Counter()
    missed = []
    for s in samples:
        out = Scrubber().scrub_text(s.text)
        total[s.kind] += 1
        if s.secret in out:
            missed.append((s.kind, s.context, s.text[:120]))
        else:
            caught[s.kind] += 1
            assert "<secret:" in out
    assert {s.context for s in samples} == set(CONTEXTS)
    worst = min(caught[k] / total[k] for k in total)
    assert worst >= 0.99, missed[:10]


@pytest.mark.parametrize(
    "text, secret, kind",
    [
        (
            "export HF_TOKEN=hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTyUiOp",
            "hf_QwErTyUiOpAsDfGhJkLzXcVbNmQwErTyUiOp",
            "huggingface_token",
        ),
        ("twilio: SK0123456789abcdef0123456789abcdef", "SK0123456789abcdef0123456789abcdef", "twilio_key"),
        (
            "TWILIO_AUTH_TOKEN=4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99",
            "4f3c2b1a0e9d8c7b6a5f4e3d2c1b0a99",
            "assigned_secret",
        ),
        ("git remote add x glpat-xYz12AbC34dEf56GhI78j", "glpat-xYz12AbC34dEf56GhI78j", "gitlab_token"),
        (
            "cat /home/dev/.npm/npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789/x",
            "npm_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
            "npm_token",
        ),
        ("curl -u admin:Sup3rS3cretPw https://api.corp.io", "Sup3rS3cretPw", "cli_password"),
        ("mysql -uroot -pHunter2Secret shop", "Hunter2Secret", "cli_password"),
        (
            'curl -H "Authorization: Basic YWRtaW46c3VwZXJzZWNyZXQ=" x',
            "YWRtaW46c3VwZXJzZWNyZXQ=",
            "http_auth",
        ),
    ],
)
def test_the_kinds_that_used_to_survive(text, secret, kind):
    s = Scrubber()
    out = s.scrub_text(text)
    assert secret not in out
    assert f"<secret:{kind}:" in out


@pytest.mark.parametrize(
    "text",
    [
        "token_type = 'encoded-word'",
        '        "integrity": "sha512-q8Zt3LmX9vPa2KdR7sWn4YbE6cHf1JgUq8Zt3LmX9vPa2KdR7sWn4YbE6cHf1Jg=="',
        "golang.org/x/text v0.3.0 h1:g61tztE5qeGQ89tm6NTjjM9VPIm088od1l6aSorWRWg=",
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl dev@laptop",
        "class AbstractSingletonProxyFactoryBean2(HttpRequestHandlerFactory):",
        "data = b'VGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcyBvdmVyIHRoZSBsYXp5IGRvZw=='",
        "RegOpenKeyEx = win32api.RegOpenKeyEx",
        "capabilities = 'LOGINDISABLED AUTH=CRAM-MD5'",
        'see "http://deploy:password@example.com/repo.git" in the docs',
    ],
)
def test_ordinary_text_that_looks_random_is_kept(text):
    s = Scrubber()
    assert s.scrub_text(text) == text, dict(s.counts)


def test_lock_files_keys_and_fixtures_are_kept():
    for name, text in lockfile_texts(seed=3):
        s = Scrubber()
        out = s.scrub_text(text)
        assert out == text, (name, dict(s.counts))


def test_standard_library_at_most_one_false_positive_per_10_mb():
    fp, size = 0, 0
    for _, text in stdlib_texts():
        s = Scrubber()
        s.scrub_text(text)
        fp += sum(v for k, v in s.counts.items() if k not in ("email", "home_user"))
        size += len(text.encode())
    assert size > 1e6
    assert fp <= size / 10e6, (fp, size)


def test_scrub_value_matches_scrub_text_and_keeps_structure():
    samples = secret_samples(seed=2)[:40]
    value = {"turns": [{"text": s.text, "n": i} for i, s in enumerate(samples)], "ok": True}
    out = Scrubber().scrub_value(value)
    assert out["ok"] is True and [t["n"] for t in out["turns"]] == list(range(len(samples)))
    for t, s in zip(out["turns"], samples):
        assert t["text"] == Scrubber().scrub_text(s.text)
        assert s.secret not in t["text"]
