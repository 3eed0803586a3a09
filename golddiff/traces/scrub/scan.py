"""The scrubber's one scan: where every rule's anchor matches in a text, by Hyperscan or by Python's `re`.

Both engines compile the same rule table (`rules.PROVIDERS`, `rules.LOG_RULES`, `rules.ENTROPY_ANCHOR`)
and answer the same two questions about a UTF-8 text:

    scanner = compiled()              # Hyperscan where it is installed, else Python's re
    scanner.hits(data)                # (rule id, start, end) of every anchor match, by end offset
    scanner.entropy_ends(data)        # the end of every run the high-entropy check must look at
    scanner.meaning[rule_id]          # (check group, kind, provider regex or None)

Hyperscan (Intel's multi-pattern engine) matches every anchor in one pass; it ships wheels for Linux
x86-64 only. Elsewhere (or with `engine="re"`) each anchor is searched with Python's `re`, from every
position it matches (overlaps included), which finds the same candidates several times slower. What is
then replaced is decided by the same checks either way, so both engines scrub alike
(`tests/test_scrub_engines.py` holds them to the same output).
"""

from __future__ import annotations

import re
from typing import Literal, Protocol

from golddiff.traces.scrub.rules import ENTROPY_ANCHOR, LOG_RULES, PROVIDERS

try:
    import hyperscan
except ImportError:  # no wheel for this platform: the `re` engine does the same work, slower
    hyperscan = None

EngineName = Literal["hyperscan", "re"]
# (check group, kind, provider regex or None): what a hit of each rule id means
Meaning = tuple[str, str, "re.Pattern[bytes] | None"]


def _meaning() -> list[Meaning]:
    out: list[Meaning] = [("provider", rule.kind, re.compile(rule.pattern)) for rule in PROVIDERS]
    out += [(rule.check or rule.kind, rule.kind, None) for rule in LOG_RULES]
    return out


def _anchors() -> list[tuple[bytes, bool]]:
    """(anchor, caseless) per rule id: providers first, then the log rules."""
    return [(r.anchor, r.caseless) for r in PROVIDERS] + [(r.anchor, r.caseless) for r in LOG_RULES]


class Scanner(Protocol):
    name: EngineName
    meaning: list[Meaning]

    def hits(self, data: bytes) -> list[tuple[int, int, int]]: ...
    def entropy_ends(self, data: bytes) -> list[int]: ...


class HyperscanScanner:
    """Every anchor in one Hyperscan database (providers report their leftmost start: where the
    provider's regex is tried; log rules their end: the line their check reads), and the entropy
    anchor in a second one (combined, its long repeat slows the whole database down)."""

    name: EngineName = "hyperscan"

    def __init__(self) -> None:
        self.meaning = _meaning()
        exprs, flags = [], []
        for i, (anchor, caseless) in enumerate(_anchors()):
            exprs.append(anchor)
            som = hyperscan.HS_FLAG_SOM_LEFTMOST if i < len(PROVIDERS) else 0
            flags.append(som | (hyperscan.HS_FLAG_CASELESS if caseless else 0))
        self.db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.db.compile(expressions=exprs, ids=list(range(len(exprs))), elements=len(exprs), flags=flags)
        self.entropy = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self.entropy.compile(expressions=[ENTROPY_ANCHOR], ids=[0], elements=1, flags=[0])

    def hits(self, data: bytes) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        self.db.scan(data, match_event_handler=lambda i, s, e, f, c: out.append((i, s, e)))
        return out

    def entropy_ends(self, data: bytes) -> list[int]:
        ends: list[int] = []
        self.entropy.scan(data, match_event_handler=lambda i, s, e, f, c: ends.append(e))
        return ends


class ReScanner:
    """The same anchors, each searched with Python's `re` from every position where it matches.

    A caseless anchor written in lower case is searched case-sensitively in the lower-cased text
    (`bytes.lower` keeps every offset; Hyperscan's caseless matching is ASCII too): `re.IGNORECASE`
    is several times slower."""

    name: EngineName = "re"

    def __init__(self) -> None:
        self.meaning = _meaning()
        self.anchors: list[tuple[re.Pattern[bytes], bool]] = []  # (regex, search the lower-cased text)
        for anchor, caseless in _anchors():
            lowered = caseless and anchor == anchor.lower()
            flags = re.IGNORECASE if caseless and not lowered else 0
            self.anchors.append((re.compile(anchor, flags), lowered))
        self.entropy = re.compile(ENTROPY_ANCHOR)

    def hits(self, data: bytes) -> list[tuple[int, int, int]]:
        out: list[tuple[int, int, int]] = []
        lower: bytes | None = None
        for i, (rx, lowered) in enumerate(self.anchors):
            if lowered and lower is None:
                lower = data.lower()
            text = lower if lowered else data
            m = rx.search(text)
            while m is not None:  # every start, overlapping ones too (Hyperscan reports them all)
                out.append((i, m.start(), m.end()))
                m = rx.search(text, m.start() + 1)
        out.sort(key=lambda h: (h[2], h[0]))  # Hyperscan's order: by end offset
        return out

    def entropy_ends(self, data: bytes) -> list[int]:
        # a run of 24+ token characters ends at one place (its first other byte): one match per run
        return [m.end() for m in self.entropy.finditer(data)]


_COMPILED: dict[str, Scanner] = {}


def available() -> list[EngineName]:
    """The engines this machine can run, best first."""
    return ["hyperscan", "re"] if hyperscan is not None else ["re"]


def compiled(engine: EngineName | None = None) -> Scanner:
    """The rule table compiled for `engine` (default: the best available), once per process."""
    name = engine or available()[0]
    if name not in ("hyperscan", "re"):
        raise ValueError(f"unknown scrubber engine {name!r}; expected 'hyperscan' or 're'")
    if name == "hyperscan" and hyperscan is None:
        raise ValueError("the hyperscan engine is not installed here (Linux x86-64 wheels only); use 're'")
    if name not in _COMPILED:
        _COMPILED[name] = HyperscanScanner() if name == "hyperscan" else ReScanner()
    return _COMPILED[name]
