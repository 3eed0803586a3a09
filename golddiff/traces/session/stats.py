"""What `golddiff ingest --stats` counts: each written episode's edits, feedback and links, and the summary.

    counts = Counter(); episode_counts(episode_dict, counts)   # per episode, as it is written
    summary = stats_summary(report)                              # the JSON line (and the table's rows)

The reader-side counters (files, records, skipped records by kind) are kept by `IngestReport` itself.
Pure Python, CPU only.
"""

from __future__ import annotations

from collections import Counter

from golddiff.episodes import REJECTION_KINDS
from golddiff.traces.session.report import IngestReport


def episode_counts(ep: dict, c: Counter) -> None:
    """Add what `--stats` counts of one written episode (a scrubbed episode dict) to `c`."""
    tool = ep["source"]["tool"]
    c["episodes"] += 1
    c[f"episodes/{tool}"] += 1
    edits = ep.get("edits", [])
    rejected = sum(e["status"] == "rejected" for e in edits)
    c["edits"] += len(edits)
    c[f"edits/{tool}"] += len(edits)
    c["gold_edits"] += len(ep["labels"]["gold_edits"])
    c["negative_edits"] += len(ep["labels"]["negative_edits"])
    c["rejected_edits"] += rejected
    c[f"rejected_edits/{tool}"] += rejected
    c["failed_edits"] += sum(e["status"] == "failed" for e in edits)
    negative = set(ep["labels"]["negative_edits"])
    for e in edits:
        if e["edit_id"] in negative:
            c[f"negatives_by_confidence/{e.get('confidence', 'exact')}"] += 1
    for t in ep.get("turns", []):
        for f in t.get("feedback", []):
            c[f"feedback/{f['kind']}"] += 1
            c["interrupts"] += f["kind"] == "interrupt"
            if f["kind"] in REJECTION_KINDS:
                c["rejections"] += 1
                if f.get("edit_id"):
                    c["rejections_mapped"] += 1
                else:
                    c[f"rejections_unmapped/{f.get('unmapped') or 'not mapped'}"] += 1
    link = ep["final"].get("link")
    if link:
        c[f"links/{link['method']}"] += 1
        c["episodes_split"] += link.get("split_from") is not None
        if link["method"] in ("trailer", "coverage") and link.get("coverage") is not None:
            c[f"link_coverage/{_coverage_bucket(link['coverage'])}"] += 1


def _coverage_bucket(coverage: float) -> str:
    pct = round(coverage * 100)
    if pct >= 100:
        return "100%"
    for low, name in ((90, "90-99%"), (60, "60-89%"), (30, "30-59%")):
        if pct >= low:
            return name
    return "<30%"


def stats_summary(report: IngestReport) -> dict:
    """The JSON summary line of `golddiff ingest --stats`."""
    c = report.counts
    return {
        "files": c["files"],
        "bytes": c["bytes"],
        "records": c["records"],
        "episodes": c["episodes"],
        "episodes_already_present": c["episodes_already_present"],
        "edits": c["edits"],
        "gold_edits": c["gold_edits"],
        "negative_edits": c["negative_edits"],
        "rejected_edits": c["rejected_edits"],
        "failed_edits": c["failed_edits"],
        "rejections": c["rejections"],
        "rejections_mapped": c["rejections_mapped"],
        "interrupts": c["interrupts"],
        "skipped_records": c["skipped_records"],
        "unknown_records": c["unknown_records"],
        "redactions": sum(report.redactions.values()),
        "redactions_by_kind": dict(sorted(report.redactions.items())),
        "by_format": _group(c, "files"),
        "per_format": _per_format(c),
        "feedback": _group(c, "feedback"),
        "skipped": _group(c, "skipped"),
        "rejections_unmapped": _group(c, "rejections_unmapped"),
        "negatives_by_confidence": _group(c, "negatives_by_confidence"),
        "links": _group(c, "links"),
        "link_coverage": _group(c, "link_coverage"),
        "episodes_split": c["episodes_split"],
    }


def _per_format(c: Counter) -> dict[str, dict[str, int]]:
    """Files, episodes, edits and rejected edits of each format read (a format's episodes name it)."""
    fmts = sorted({k.split("/", 1)[1] for k in c if k.startswith(("files/", "episodes/"))})
    keys = ("files", "episodes", "edits", "rejected_edits")
    return {f: {k: c[f"{k}/{f}"] for k in keys} for f in fmts}


def _group(c: Counter, prefix: str) -> dict[str, int]:
    """The counters named `prefix/<key>`, as {key: count}, sorted by key."""
    return {k.split("/", 1)[1]: v for k, v in sorted(c.items()) if k.startswith(prefix + "/") and v}
