"""Generated corpora for the scrubber: realistic secrets planted in the places agent logs hold them, and
ordinary text that must be left alone. Used by tests/test_scrub_corpus.py and bench/scrub.py.

    for s in secret_samples(seed=0, per_context=2):
        s.kind, s.context, s.text, s.secret       # the text holds the secret once

Secret kinds: every provider rule of `golddiff.traces.scrub.rules.PROVIDERS` (expanded from its
`example` template) and every log rule's examples (`LOG_EXAMPLES`); contexts: what the user typed, a
Read of a `.env` file (with Claude Code's line numbers), an Edit's new_string, a rejected Edit (as the
unified diff an episode keeps), a Write's content, a Bash command and a file path.

False-positive corpus: the Python standard library of this machine (`sysconfig.get_paths()["stdlib"]`),
plus lock files (npm integrity hashes, go.sum, poetry, Cargo), SSH public keys, base64 fixtures and long
class names, generated in-process.
"""

from __future__ import annotations

import base64
import random
import re
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from golddiff.diffs import unified_diff
from golddiff.traces.scrub.rules import EXAMPLE_CLASSES, LOG_EXAMPLES, PROVIDERS

CONTEXTS = ("user_text", "env_read", "edit_new_string", "rejected_edit", "write_content", "bash", "file_path")
_PW_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#%^*_-+.~"


@dataclass(frozen=True)
class Sample:
    kind: str  # the rule's kind (the placeholder it should get)
    context: str
    text: str
    secret: str  # must not survive scrubbing
    value: str = ""  # what was planted (the secret with the context it needs: a webhook URL, a command)


def expand(template: str, rng: random.Random) -> str:
    """`ghp_{alnum:36}` -> a random key of that shape."""

    def one(m: re.Match) -> str:
        cls, n = m.group(1), int(m.group(2))
        return "".join(rng.choice(EXAMPLE_CLASSES[cls]) for _ in range(n))

    return re.sub(r"\{(\w+):(\d+)\}", one, template)


def password(rng: random.Random) -> str:
    while True:
        pw = "".join(rng.choice(_PW_CHARS) for _ in range(rng.randint(10, 18)))
        if re.search(r"[0-9]", pw) and re.search(r"[A-Za-z]", pw) and pw[0] not in "-+.":
            return pw


def pem(rng: random.Random) -> tuple[str, str]:
    """(a PEM private key block, its first body line: the part checked)."""
    body = base64.b64encode(rng.randbytes(300)).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    kind = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY", "EC PRIVATE KEY"])
    return f"-----BEGIN {kind}-----\n" + "\n".join(lines) + f"\n-----END {kind}-----", lines[0]


def _provider_secrets(rng: random.Random) -> Iterator[tuple[str, str, str]]:
    """(kind, what to write, the secret) for one example of every provider rule."""
    for rule in PROVIDERS:
        value = expand(rule.example, rng)
        secret = value
        if rule.kind == "azure_storage_key":
            secret = value.split("AccountKey=")[1].split(";")[0]
        elif rule.kind in ("slack_webhook", "discord_webhook"):
            secret = value.rsplit("/", 1)[1]
        yield rule.kind, value, secret


def _log_secrets(rng: random.Random) -> Iterator[tuple[str, str, str]]:
    for kind, templates in LOG_EXAMPLES.items():
        for template in templates:
            if "{pem}" in template:
                block, line = pem(rng)
                yield kind, template.replace("{pem}", block), line
                continue
            if "{basic}" in template:
                secret = base64.b64encode(f"admin:{password(rng)}".encode()).decode()
                yield kind, template.replace("{basic}", secret), secret
                continue
            secret = (
                password(rng) if "{pw}" in template else expand(re.search(r"\{\w+:\d+\}", template)[0], rng)
            )
            text = (
                template.replace("{pw}", secret)
                if "{pw}" in template
                else re.sub(r"\{\w+:\d+\}", secret, template, count=1)
            )
            yield kind, text, secret


def _env_name(kind: str) -> str:
    return kind.upper().replace("-", "_")


def _place(kind: str, snippet: str, secret: str, context: str, rng: random.Random, bare: bool) -> str | None:
    """The snippet in one context; `bare`: the snippet is a key alone (give it a name where code would)."""
    name = _env_name(kind) if bare else None
    line = f"{name}={snippet}" if bare else snippet
    if context == "user_text":
        return (
            f"Use this one: {snippet} and then run the deploy."
            if bare
            else f"I ran `{snippet}` and it failed"
        )
    if context == "env_read":
        rows = ["# local settings", "DEBUG=true", line, "PORT=8080"]
        return "".join(f"{i + 1:6d}\u2192{r}\n" for i, r in enumerate(rows))
    if context == "edit_new_string":
        if bare:
            return f'import os\n\n{name.lower()} = os.environ.get("{name}", "{snippet}")\n'
        return f"# how to connect:\n# {snippet}\nconnect()\n"
    if context == "rejected_edit":
        before = "import os\n\nTIMEOUT = 30\n"
        after = before + (f'{name} = "{snippet}"\n' if bare else f"# {snippet}\n")
        return unified_diff("settings.py", before, after)
    if context == "write_content":
        if bare:
            return f"service:\n  name: api\n  {name.lower()}: {snippet}\n  retries: 3\n"
        return f"#!/bin/sh\nset -e\n{snippet}\necho done\n"
    if context == "bash":
        return f"export {name}={snippet} && npm run deploy" if bare else snippet
    if context == "file_path":
        if not bare or len(snippet) > 120 or "/" in snippet or ";" in snippet:
            return None
        return f"/home/dev/.cache/creds/{snippet}/config.json"
    raise ValueError(context)


def secret_samples(seed: int = 0, per_context: int = 1) -> list[Sample]:
    """Every provider rule and every log example, `per_context` fresh secrets in each context."""
    rng = random.Random(seed)
    out: list[Sample] = []
    for _ in range(per_context):
        items = [(k, v, s, True) for k, v, s in _provider_secrets(rng)]
        items += [(k, v, s, False) for k, v, s in _log_secrets(rng)]
        for kind, snippet, secret, bare in items:
            for context in CONTEXTS:
                text = _place(kind, snippet, secret, context, rng, bare)
                if text is not None:
                    out.append(Sample(kind, context, text, secret, snippet))
    return out


# ------------------------------------------------------------------------------- ordinary text


def stdlib_texts(limit_mb: float | None = None) -> Iterator[tuple[str, str]]:
    """(path, text) of this machine's standard library .py files, test suites included."""
    root = Path(sysconfig.get_paths()["stdlib"])
    total = 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        yield str(path.relative_to(root)), text
        total += len(text)
        if limit_mb is not None and total >= limit_mb * 1e6:
            return


def lockfile_texts(seed: int = 0) -> list[tuple[str, str]]:
    """Lock files, public keys, base64 fixtures and long names: ordinary text that looks random."""
    rng = random.Random(seed)
    b64 = lambda n: base64.b64encode(rng.randbytes(n)).decode()  # noqa: E731
    hexs = lambda n: rng.randbytes(n).hex()  # noqa: E731
    npm = "".join(
        f'    "node_modules/pkg{i}": {{\n      "version": "1.{i}.0",\n'
        f'      "resolved": "https://registry.npmjs.org/pkg{i}/-/pkg{i}-1.{i}.0.tgz",\n'
        f'      "integrity": "sha512-{b64(64)}"\n    }},\n'
        for i in range(300)
    )
    yarn = "".join(f'pkg{i}@^1.0.0:\n  version "1.0.{i}"\n  integrity sha1-{b64(20)}\n\n' for i in range(300))
    gosum = "".join(
        f"github.com/org{i}/mod v1.{i}.0 h1:{b64(32)}\ngithub.com/org{i}/mod v1.{i}.0/go.mod h1:{b64(32)}\n"
        for i in range(300)
    )
    poetry = "".join(f'{{file = "pkg{i}-1.0.tar.gz", hash = "sha256:{hexs(32)}"}},\n' for i in range(300))
    cargo = "".join(f'[[package]]\nname = "c{i}"\nchecksum = "{hexs(32)}"\n\n' for i in range(300))
    ssh = "".join(
        f"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI{b64(32)[:43]} dev{i}@laptop\n"
        f"ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ{b64(256)} ci{i}@runner\n"
        for i in range(100)
    )
    blob = b64(6000)
    fixtures = (
        "import base64\n\nIMAGE = (\n"
        + "".join(f'    "{blob[i : i + 76]}"\n' for i in range(0, len(blob), 76))
        + ")\n"
        + "".join(
            f"    ({base64.b64encode(f'The quick brown fox {i} jumps over the lazy dog'.encode())!r}, {i}),\n"
            for i in range(200)
        )
        + "".join(f'PNG_{i} = "data:image/png;base64,{b64(90)}"\n' for i in range(100))
    )
    words = ["Abstract", "Http", "Request", "Handler", "Factory", "Proxy", "Basic", "Auth", "Manager", "Bean"]
    classes = "".join(
        f"class {''.join(rng.sample(words, 5))}{rng.randint(2, 99)}(object):\n    pass\n\n"
        for _ in range(300)
    )
    return [
        ("package-lock.json", npm),
        ("yarn.lock", yarn),
        ("go.sum", gosum),
        ("poetry.lock", poetry),
        ("Cargo.lock", cargo),
        ("authorized_keys", ssh),
        ("test_fixtures.py", fixtures),
        ("long_names.py", classes),
    ]
