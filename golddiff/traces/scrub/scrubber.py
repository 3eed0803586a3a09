"""Scrub secrets and personal details from episodes before anything is written.

What is replaced, each by a stable placeholder (the same secret gives the same placeholder everywhere,
so a redacted diff still applies to the redacted base files): provider keys (`rules.PROVIDERS`:
AWS, GitHub, GitLab, OpenAI, Anthropic, Hugging Face, Slack, Stripe, Google, Twilio, npm, PyPI and ~40
more), private key blocks (each line of the block, so line counts and diffs stay intact), JWTs, URL
credentials, CLI password flags (`curl -u user:pw`, `mysql -pPW`, `--password=PW`), HTTP
`Authorization` values, values assigned to secret-looking names (`API_KEY=...`, `password: ...`), other
high-entropy tokens; e-mail addresses; user names in home-directory paths.

How: every rule's anchor is compiled into one scan (`scan.py`: Hyperscan, or Python's `re` where it is
not installed) and the text (UTF-8) is scanned once; each candidate is then decided by its rule in
Python (a regex matched at the candidate, value checks: `checks.py`).
Candidates are rare in ordinary text, so the cost is the one scan. `bench/scrub.py` measures recall
per kind on generated secrets, false positives per MB on the standard library, and MB/s.

Placeholders look like `<secret:github_token:1a2b3c4d>` (8 hex of the secret's SHA-256: stable across
runs, useless for recovering a high-entropy secret). Counts per kind go into `provenance.redactions`.

    scrubber = Scrubber()
    clean = scrubber.scrub_episode(episode.model_dump())  # a dict, ready to write
"""

from __future__ import annotations

import bisect
import re
from collections import Counter

from golddiff.traces.scrub import checks
from golddiff.traces.scrub.checks import placeholder
from golddiff.traces.scrub.scan import EngineName, compiled

SCRUBBER_VERSION = "2"

# priority when two rules claim overlapping text: the lower wins
_PRIORITY = {
    "private_key": 0,
    "provider": 1,
    "url_password": 2,
    "cli_password": 3,
    "http_auth": 4,
    "assigned_secret": 5,
    "email": 6,
    "home_user": 7,
    "high_entropy": 8,
}
_IDENT = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")
_SHORTEST = 6
_SEP_BYTES = b"\n\x00\n"  # between strings scrubbed together; every rule stops at a line break


# a found span: (start, end, kind, the bytes to put there), in byte offsets of the UTF-8 text
Span = tuple[int, int, str, bytes]


class _Spans:
    """Non-overlapping spans; a claim on text already taken by a higher-priority rule is dropped."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.items: list[Span] = []

    def add(self, span: Span) -> None:
        start, end = span[0], span[1]
        if end <= start:
            return
        i = bisect.bisect_right(self.starts, start)
        if i > 0 and self.items[i - 1][1] > start:
            return
        if i < len(self.starts) and self.starts[i] < end:
            return
        self.starts.insert(i, start)
        self.items.insert(i, span)


class Scrubber:
    """Replaces secrets, e-mails and home-directory user names; counts what it replaced per kind."""

    def __init__(self, entropy_check: bool = True, personal: bool = True, engine: EngineName | None = None):
        """`personal`: also e-mails and home-directory user names (off for messages to the user, whose
        own paths they must recognise). `engine`: "hyperscan" or "re" (`scan.py`; default: the best
        installed); both replace the same text."""
        self.entropy_check, self.personal = entropy_check, personal
        self.counts: Counter = Counter()
        self._c = compiled(engine)

    # ------------------------------------------------------------------------------- one string

    def scrub_text(self, text: str) -> str:
        if not text:
            return text
        data = text.encode("utf-8", "surrogatepass")
        spans = self.find(data)
        return self._replace(data, 0, spans) if spans else text

    def _replace(self, raw: bytes, offset: int, spans: list[Span]) -> str:
        """`raw` (which starts at `offset` of the scanned bytes) with its spans replaced, as text."""
        out, last = [], 0
        for start, end, kind, new in spans:
            start, end = start - offset, end - offset
            if kind != "private_key_line":
                self.counts[kind] += 1
            out.append(raw[last:start])
            out.append(new)
            last = end
        out.append(raw[last:])
        return b"".join(out).decode("utf-8", "surrogatepass")

    def find(self, data: bytes) -> list[Span]:
        """Every span to replace in `data` (UTF-8), in order, non-overlapping."""
        padded = data + b"\n"  # every rule ends by a line break
        hits = self._c.hits(padded)
        ends = self._c.entropy_ends(padded) if self.entropy_check else []
        if not hits and not ends:
            return []
        found: list[tuple[int, Span]] = []  # (priority, span): providers in table order, then the rest
        meaning = self._c.meaning
        lines_done: set[tuple[str, int]] = set()
        for rule_id, start, end in hits:
            group, kind, rx = meaning[rule_id]
            if group == "provider":
                span = self._provider(data, start, kind, rx)
                if span:
                    found.append((1 + rule_id / 1000, span))
                continue
            ls = data.rfind(b"\n", 0, min(end, len(data))) + 1
            if (group, ls) in lines_done:
                continue  # each rule reads a line once
            lines_done.add((group, ls))
            le = data.find(b"\n", ls)
            le = len(data) if le < 0 else le
            if group == "private_key":
                block = checks.private_key_lines(data, ls, le)
                if block:
                    self.counts["private_key"] += 1  # once per block
                found.extend((0, sp) for sp in block)
            elif group in ("email", "home_user"):
                if not self.personal:
                    continue
                found.extend((_PRIORITY[group], sp) for sp in checks.LINE_PII[group](data, ls, le))
            else:
                for s, e in checks.LOG_CHECKS[group](data, ls, le):
                    found.append((_PRIORITY[kind], (s, e, kind, placeholder(kind, data[s:e]))))
        for end in ends:
            span = checks.high_entropy(data, end - 1)
            if span:
                s, e = span
                found.append((8, (s, e, "high_entropy", placeholder("high_entropy", data[s:e]))))
        found.sort(key=lambda p: p[0])
        spans = _Spans()
        for _, span in found:
            spans.add(span)
        return spans.items

    @staticmethod
    def _provider(data: bytes, start: int, kind: str, rx: re.Pattern) -> Span | None:
        if start > 0 and data[start - 1] in _IDENT:
            return None
        m = rx.match(data, start)
        if m is None:
            return None
        s, e = m.span("s") if "s" in rx.groupindex else m.span()
        secret = data[s:e]
        if secret.startswith(b"<secret:"):
            return None
        return s, e, kind, placeholder(kind, secret)

    # -------------------------------------------------------------------------- whole episodes

    def scrub_value(self, value):
        """Scrub every string (and dict key) in a JSON-like value; a new value, unchanged parts shared.

        All its strings are encoded and joined with a separator no rule can match across (a NUL
        between line breaks) and scanned once; each span found goes back to its string by offset, and
        only the strings with a replacement are rebuilt.
        """
        strings: list[str] = []
        _collect(value, strings)
        cleaned = self._scrub_strings(strings)
        if not cleaned:
            return value
        every = list(strings)
        for k, text in cleaned.items():
            every[k] = text
        return _rebuild(value, iter(every))

    def _scrub_strings(self, strings: list[str]) -> dict[int, str]:
        """{index: scrubbed text} for the strings of `strings` that had something to replace, all scanned
        at once (see `scrub_value`)."""
        # nothing shorter than 6 characters can hold a match (the shortest: an e-mail like a@b.io)
        scanned = [i for i, x in enumerate(strings) if len(x) >= _SHORTEST]
        if not scanned:
            return {}
        encoded = [strings[i].encode("utf-8", "surrogatepass") for i in scanned]
        spans = self.find(_SEP_BYTES.join(encoded))
        if not spans:
            return {}
        starts, pos = [], 0
        for raw in encoded:
            starts.append(pos)
            pos += len(raw) + len(_SEP_BYTES)
        by_string: dict[int, list[Span]] = {}
        for span in spans:
            k = bisect.bisect_right(starts, span[0]) - 1
            if span[1] <= starts[k] + len(encoded[k]):  # no rule crosses a line break: always true
                by_string.setdefault(k, []).append(span)
        return {scanned[k]: self._replace(encoded[k], starts[k], sp) for k, sp in by_string.items()}

    def scrub_episode(self, episode: dict, in_place: bool = False) -> dict:
        """A scrubbed copy of an episode dict, with its redaction counts in `provenance`.

        `in_place`: scrub `episode` itself and return it (for a dict nothing else holds, such as a fresh
        `model_dump()`: no copy of the tree is built, only the strings with a replacement are set).
        """
        before = Counter(self.counts)
        ident = {k: episode[k] for k in ("episode_id", "schema_version") if k in episode}
        if in_place:
            clean = episode
            for k in ident:
                del clean[k]
            self._scrub_in_place(clean)
        else:
            clean = self.scrub_value({k: v for k, v in episode.items() if k not in ident})
        clean.update(ident)
        counts = {k: v - before.get(k, 0) for k, v in self.counts.items() if v - before.get(k, 0) > 0}
        prov = clean.setdefault("provenance", {})
        prov["scrubber_version"] = SCRUBBER_VERSION
        prov["redactions"] = dict(sorted(counts.items()))
        return clean

    def _scrub_in_place(self, value: dict | list) -> None:
        """`scrub_value` on a container, changing it and its nested containers instead of copying them."""
        strings: list[str] = []
        slots: list[tuple] = []  # where each string sits: (container, key or index, whether a dict key)
        _collect_slots(value, strings, slots)
        cleaned = self._scrub_strings(strings)
        renamed = []
        for k, text in cleaned.items():
            container, key, is_key = slots[k]
            if is_key:
                renamed.append((container, key, text))  # after the values: their slots name the old key
            else:
                container[key] = text
        for container, old, new in renamed:
            items = [(new if key == old else key, v) for key, v in container.items()]
            container.clear()
            container.update(items)


_MESSAGES: Scrubber | None = None


def scrub_message(text: str) -> str:
    """A message for the user (a problem report) with anything secret-looking replaced: messages name
    the file, line and field, but a reader's exception text may still quote a record."""
    global _MESSAGES
    if _MESSAGES is None:
        _MESSAGES = Scrubber(personal=False)
    return _MESSAGES.scrub_text(text)


def _collect(value, out: list[str]) -> None:
    """Every string of a JSON-like value, dict keys included, in a fixed order."""
    if isinstance(value, str):
        out.append(value)
    elif isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str):
                out.append(k)
            _collect(v, out)
    elif isinstance(value, list):
        for v in value:
            _collect(v, out)


def _collect_slots(value: dict | list, out: list[str], slots: list[tuple]) -> None:
    """`_collect`'s strings of a container (those long enough to scan) and where each sits. Values test
    exact types first (a model_dump holds plain str, dict and list), isinstance for the rest (a str enum)."""
    is_dict = isinstance(value, dict)
    for k, v in value.items() if is_dict else enumerate(value):
        if is_dict and isinstance(k, str) and len(k) >= _SHORTEST:
            out.append(k)
            slots.append((value, k, True))
        t = type(v)
        if t is str or (t is not dict and t is not list and isinstance(v, str)):
            if len(v) >= _SHORTEST:
                out.append(v)
                slots.append((value, k, False))
        elif t is dict or t is list or isinstance(v, (dict, list)):
            _collect_slots(v, out, slots)


def _rebuild(value, cleaned):
    """`value` with its strings replaced, in `_collect`'s order, from the iterator `cleaned`."""
    if isinstance(value, str):
        return next(cleaned)
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            key = next(cleaned) if isinstance(k, str) else k
            out[key] = _rebuild(v, cleaned)
        return out
    if isinstance(value, list):
        return [_rebuild(v, cleaned) for v in value]
    return value
