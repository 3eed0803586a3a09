"""Ingest: walk paths, detect each log's format, read episodes, link them to git, scrub, append to JSONL.

    report = ingest(["~/.claude/projects"], "episodes.jsonl")
    print(report.counts["episodes"])

Streaming: a log file is read whole (a session's tree needs it) but files one after another, or a
bounded window of them in parallel processes (`jobs`); each episode is written and flushed in input
order as soon as its file is done, so memory stays flat and an interrupted run keeps what was written. Idempotent: episode
ids are stable, and ids already in the output file are not written again.
"""

from __future__ import annotations

import glob
import json
import os
import sys
import time
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from golddiff.episodes import Episode, existing_ids
from golddiff.traces.detect import detect, read_head, reader
from golddiff.traces.scrub import Scrubber
from golddiff.traces.session import IngestReport, ReadOptions

DEFAULT_PATHS = ("~/.claude/projects", "~/.codex/sessions")
_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv"}


def expand_paths(paths: Iterable[str], report: IngestReport) -> Iterator[tuple[Path, bool]]:
    """(file, given_explicitly) for each file a path, folder (walked recursively) or glob names."""
    for raw in paths:
        p = os.path.expanduser(raw)
        matches = sorted(glob.glob(p, recursive=True)) if glob.has_magic(p) else [p]
        if not matches:
            report.skip(raw, None, "no file matches this path or glob; check the spelling", "missing_path")
        for m in matches:
            path = Path(m)
            if path.is_dir():
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                    for name in sorted(files):
                        yield Path(root) / name, False
            elif path.is_file():
                yield path, True
            elif not glob.has_magic(p):
                report.skip(raw, None, "no such file or folder", "missing_path")


def _episode_counts(ep: dict, c: Counter) -> None:
    c["episodes"] += 1
    c[f"episodes/{ep['source']['tool']}"] += 1
    edits = ep.get("edits", [])
    c["edits"] += len(edits)
    c["gold_edits"] += len(ep["labels"]["gold_edits"])
    c["negative_edits"] += len(ep["labels"]["negative_edits"])
    c["rejected_edits"] += sum(e["status"] == "rejected" for e in edits)
    for t in ep.get("turns", []):
        for f in t.get("feedback", []):
            c[f"feedback/{f['kind']}"] += 1
            c["interrupts"] += f["kind"] == "interrupt"


class _Progress:
    """Files done / bytes read, on one refreshing line when stderr is a terminal, else every 5 s."""

    def __init__(self, enabled: bool):
        self.enabled, self.tty = enabled, sys.stderr.isatty()
        self.t0 = self.last = time.monotonic()

    def update(self, report: IngestReport) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if not self.tty and now - self.last < 5:
            return
        self.last = now
        c = report.counts
        mb = c["bytes"] / 1e6
        line = f"ingest: {c['files']} files, {mb:.1f} MB ({mb / max(now - self.t0, 1e-9):.1f} MB/s), {c['episodes']} episodes"
        print(
            ("\r" + line + " " * 8) if self.tty else line,
            end="" if self.tty else "\n",
            file=sys.stderr,
            flush=True,
        )

    def close(self) -> None:
        if self.enabled and self.tty:
            print(file=sys.stderr)


@dataclass
class FileResult:
    """What one log file gave: (episode id, JSON line, its counts) per episode, and the run's counters."""

    episodes: list[tuple[str, str, Counter]]
    counts: Counter
    redactions: Counter
    problems: list[str]


class FileWorker:
    """Reads, links and scrubs one file at a time; runs in the ingesting process or in a pool worker."""

    def __init__(self, fmt: str | None, opts: ReadOptions, repo: str | None, quiet: bool):
        self.fmt, self.opts, self.repo, self.quiet = fmt, opts, repo, quiet
        self.linker = None

    def __call__(self, item: tuple[Path, bool]) -> FileResult:
        report = IngestReport(quiet=self.quiet)
        if self.repo and self.linker is None:
            from golddiff.traces.git.link import GitLinker

            self.linker = GitLinker(self.repo, report)
        if self.linker is not None:
            self.linker.report = report
        scrubber = Scrubber()
        episodes = []

        def keep(ep: Episode) -> None:
            episodes.append(self.serialize(ep, scrubber))

        _ingest_file(item[0], item[1], self.fmt, self.opts, report, keep)
        return FileResult(episodes, report.counts, scrubber.counts, report.problems)

    def serialize(self, ep: Episode, scrubber: Scrubber) -> tuple[str, str, Counter]:
        if self.linker is not None and ep.source.tool != "git":
            ep = self.linker.link(ep)
        clean = scrubber.scrub_episode(ep.model_dump())
        counts: Counter = Counter()
        _episode_counts(clean, counts)
        return clean["episode_id"], json.dumps(clean, ensure_ascii=False), counts


_POOL_WORKER: FileWorker | None = None


def _pool_init(worker: FileWorker) -> None:
    global _POOL_WORKER
    _POOL_WORKER = worker


def _pool_run(item: tuple[Path, bool]) -> FileResult:
    assert _POOL_WORKER is not None
    return _POOL_WORKER(item)


def _results(worker: FileWorker, items: Iterator[tuple[Path, bool]], jobs: int) -> Iterator[FileResult]:
    """Each file's result, in input order; with jobs > 1 a bounded window of files is read in parallel."""
    if jobs <= 1:
        yield from map(worker, items)
        return
    with ProcessPoolExecutor(jobs, initializer=_pool_init, initargs=(worker,)) as pool:
        window: deque = deque()
        for item in items:
            window.append(pool.submit(_pool_run, item))
            if len(window) >= 2 * jobs:  # never more than 2 x jobs files' results held at once
                yield window.popleft().result()
        while window:
            yield window.popleft().result()


def ingest(
    paths: Iterable[str],
    out: str | Path,
    fmt: str | None = None,
    repo: str | None = None,
    report: IngestReport | None = None,
    opts: ReadOptions | None = None,
    progress: bool = False,
    extra_episodes: Iterable[Episode] = (),
    jobs: int = 1,
) -> IngestReport:
    """Read every log under `paths` (and `extra_episodes`, e.g. from git history) into `out`.

    `jobs` > 1 reads files in that many processes; the output is the same, in the same order.
    """
    report = report or IngestReport()
    opts = opts or ReadOptions(repo=repo)
    out = Path(out)
    if not out.parent.exists():
        raise FileNotFoundError(
            f"{out.parent}: the output folder does not exist; create it or choose another -o"
        )
    known = existing_ids(out)
    worker = FileWorker(fmt, opts, repo, report.quiet)
    bar = _Progress(progress)
    with open(out, "a", encoding="utf-8") as sink:

        def write(ep_id: str, line: str, counts: Counter) -> None:
            if ep_id in known:
                report.counts["episodes_already_present"] += 1
                return
            sink.write(line + "\n")
            sink.flush()
            known.add(ep_id)
            report.counts.update(counts)

        for result in _results(worker, expand_paths(paths, report), jobs):
            report.counts.update(result.counts)
            report.redactions.update(result.redactions)
            report.problems.extend(result.problems)
            for episode in result.episodes:
                write(*episode)
            bar.update(report)
        scrubber = Scrubber()
        for ep in extra_episodes:
            write(*worker.serialize(ep, scrubber))
        report.redactions.update(scrubber.counts)
    bar.close()
    return report


def _ingest_file(
    path: Path, explicit: bool, fmt: str | None, opts: ReadOptions, report: IngestReport, write
) -> None:
    try:
        head = read_head(path)
    except OSError as e:
        report.skip(str(path), None, f"cannot be read ({e.strerror}); check its permissions", "unreadable")
        return
    if head is None:
        if explicit:
            report.skip(
                str(path), None, "a binary file, not a session log; pass a log file or folder", "binary"
            )
        else:
            report.counts["files_not_logs"] += 1
        return
    if not head.strip():
        report.skip(str(path), None, "an empty file; nothing to ingest", "empty")
        return
    found = fmt or detect(path, head)
    if found is None:
        if explicit:
            report.skip(
                str(path),
                None,
                "not a session log golddiff recognises; use --format to force one",
                "unrecognised",
            )
        else:
            report.counts["files_not_logs"] += 1
        return
    mod = reader(found)
    if not explicit and mod.is_attached(path):
        return  # read with its parent session (a subagent transcript)
    report.counts["files"] += 1
    report.counts[f"files/{found}"] += 1
    report.counts["bytes"] += path.stat().st_size
    try:
        for ep in mod.read(path, report, opts):
            write(ep)
    except Exception as e:  # a reader bug on one file must not take down the run or lose what was written
        report.skip(str(path), None, f"the {found} reader failed: {type(e).__name__}: {e}", "reader_error")


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
        "interrupts": c["interrupts"],
        "skipped_records": c["skipped_records"],
        "unknown_records": c["unknown_records"],
        "redactions": sum(report.redactions.values()),
        "redactions_by_kind": dict(sorted(report.redactions.items())),
        "by_format": {k.split("/", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("files/")},
        "feedback": {k.split("/", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("feedback/")},
        "skipped": {k.split("/", 1)[1]: v for k, v in sorted(c.items()) if k.startswith("skipped/")},
    }
