"""Load a Claude Code transcript and find its main line in the `parentUuid` tree.

Every user/assistant/system/progress record has a `uuid` and a `parentUuid`. Resuming, `/rewind` and
edited prompts make branches; the session's main line is the path from its last leaf to the root,
crossing compaction boundaries (a `compact_boundary` has no parent but names the message it continues in
`logicalParentUuid`). Everything off that path is classified by the child where it leaves the main line:

- a prompt the user typed there → an **abandoned branch** (the user went back and asked again): its
  edits are negatives;
- a copy of the main-line child at the same timestamp → a **replay** written by compaction: skipped;
- anything else (a tool result, an assistant continuation, a hook or progress record) → a **recording
  artifact** of parallel tool calls: read as part of the main line.

Records not connected to the main line at all (an orphaned root) are read as main line too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from golddiff.traces.claude_code.text import typed_prompt
from golddiff.traces.logs.jsonl import BadEncoding, loads, text_lines
from golddiff.traces.session import IngestReport

LineKind = Literal["main", "abandoned", "replay"]
Records = list[tuple[int, dict]]  # (line number, record) in file order

_TREE_TYPES = frozenset({"user", "assistant", "system", "progress", "attachment"})


def load_records(path: Path, report: IngestReport) -> Records | None:
    """Every JSON object line of a transcript with its line number; bad lines reported and skipped.

    None (reported once) when the file holds no record at all.
    """
    records: Records = []
    seen_any = False
    try:
        for lineno, line, cut in text_lines(path, report):
            if line and not line.isspace():  # strip() would copy every line
                seen_any = True
                rec = _parse(path, lineno, line, report, cut)
                if rec is not None:
                    records.append((lineno, rec))
    except OSError as e:
        report.skip(
            str(path), None, f"cannot be read ({e.strerror or e}); check its permissions", "unreadable"
        )
        return None
    if not seen_any:
        report.skip(str(path), None, "an empty file: no records", "empty_file")
        return None
    return records


def _parse(
    path: Path, lineno: int, line: str | bytes, report: IngestReport, cut: bool = False
) -> dict | None:
    """One line as a record object, or None (reported: cut short, not JSON, not an object)."""
    report.counts["records"] += 1
    try:
        rec = loads(line)
    except BadEncoding as e:
        report.skip(str(path), lineno, f"{e.msg}; record skipped", "bad_encoding")
        return None
    except ValueError as e:
        what = "truncated last line" if cut else f"not JSON ({getattr(e, 'msg', None) or e})"
        # the line's text is never shown: it may hold a secret the scrubber never got to see
        report.skip(str(path), lineno, f"{what}; record skipped", "truncated" if cut else "bad_json")
        return None
    if not isinstance(rec, dict):
        report.skip(str(path), lineno, f"a JSON {type(rec).__name__}, not a record object", "not_a_record")
        return None
    if not isinstance(rec.get("type"), str):
        report.skip(str(path), lineno, "a record without a type", "bad_record")
        return None
    return rec


def _parent(rec: dict, nodes: dict[str, dict]) -> str | None:
    for key in ("parentUuid", "logicalParentUuid"):
        p = rec.get(key)
        if isinstance(p, str) and p in nodes:
            return p
    return None


@dataclass
class MainLine:
    """Which line each record is on: main, an abandoned branch (and the branch's first record), a replay."""

    kind: dict[str, LineKind] = field(default_factory=dict)
    branch: dict[str, str] = field(default_factory=dict)  # uuid -> first uuid of its abandoned branch
    duplicates: set[int] = field(default_factory=set)  # line numbers of records whose uuid came before

    def of(self, rec: dict) -> tuple[LineKind, str | None]:
        u = rec.get("uuid")
        if not isinstance(u, str):
            return "main", None
        return self.kind.get(u, "main"), self.branch.get(u)


def main_line(records: Records, own_sidechain: bool = False) -> MainLine:
    """Classify every uuid record of a transcript (see the module docstring)."""
    out = MainLine()
    nodes: dict[str, dict] = {}
    for lineno, rec in records:
        u = rec.get("uuid")
        if not isinstance(u, str) or rec.get("type") not in _TREE_TYPES:
            continue
        if rec.get("isSidechain") and not own_sidechain:
            continue  # a subagent's records inline (1.0.x): their own tree
        if u in nodes:
            out.duplicates.add(lineno)
            continue
        nodes[u] = rec
    leaf = _last_leaf(records, nodes)
    if leaf is None:
        return out
    main_child: dict[str, str] = {}  # main-line node -> its child on the main line; "" -> the root
    cur: str | None = leaf
    while cur is not None and out.kind.get(cur) != "main":
        out.kind[cur] = "main"
        parent = _parent(nodes[cur], nodes)
        main_child[parent or ""] = cur
        cur = parent
    for u in nodes:
        _classify(u, nodes, main_child, out)
    return out


def _last_leaf(records: Records, nodes: dict[str, dict]) -> str | None:
    last = None
    for _, rec in reversed(records):
        u = rec.get("uuid")
        if isinstance(u, str) and nodes.get(u) is rec:
            if rec.get("type") in ("user", "assistant"):
                return u
            last = last or u
    return last


def _classify(u: str, nodes: dict[str, dict], main_child: dict[str, str], out: MainLine) -> None:
    """Walk up from `u` to the main line (or a root), then give every node on the way the same kind."""
    path: list[str] = []
    seen: set[str] = set()
    cur = u
    while cur not in out.kind:
        seen.add(cur)
        parent = _parent(nodes[cur], nodes)
        if parent is None:  # another root: the first prompt asked again, or an orphan (read as main)
            _fork(cur, nodes, main_child.get(""), out, at_root=True)
            break
        if parent in seen:  # a cycle: read it as main
            out.kind[cur] = "main"
            break
        if out.kind.get(parent) == "main":  # leaving the main line here (or below its leaf)
            _fork(cur, nodes, main_child.get(parent), out, at_root=False)
            break
        path.append(cur)
        cur = parent
    for node in reversed(path):
        parent = _parent(nodes[node], nodes)
        assert parent is not None
        out.kind[node] = out.kind[parent]
        if parent in out.branch:
            out.branch[node] = out.branch[parent]


def _fork(child: str, nodes: dict[str, dict], on_main: str | None, out: MainLine, at_root: bool) -> None:
    """Classify a record that leaves the main line, whose sibling on the main line is `on_main`.

    At the root, two first prompts mean the user rewound to the very first message; a root that is not
    a prompt (a compaction boundary, a command) is an orphan, and read as main.
    """
    rec = nodes[child]
    sibling = nodes[on_main] if on_main is not None else None
    if sibling is None:
        out.kind[child] = "main"  # below the main line's leaf: a trailing record
    elif (
        rec.get("timestamp") is not None
        and rec.get("timestamp") == sibling.get("timestamp")
        and (rec.get("type") == sibling.get("type"))
    ):
        out.kind[child] = "replay"
    elif typed_prompt(rec) is not None and (not at_root or typed_prompt(sibling) is not None):
        out.kind[child] = "abandoned"
        out.branch[child] = child
    else:
        out.kind[child] = "main"
