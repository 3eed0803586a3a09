"""Ingest: walk paths, detect each log's format, read episodes, link them to git, scrub, append to JSONL.

    report = ingest(["~/.claude/projects"], "episodes.jsonl")
    print(report.counts["episodes"])

Streaming: a log file is read whole (a session's tree needs it) but files one after another, or a
bounded window of them in parallel processes (`jobs`); each episode is written and flushed in input
order as soon as its file is done, so memory stays flat and an interrupted run keeps what was written. Idempotent: episode
ids are stable, and ids already in the output file are not written again, also when another ingest appends
to the same file at the same time (`golddiff.jsonl`: a lock per append, a torn last line repaired first).
"""

from __future__ import annotations

import contextlib
import fnmatch
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

import orjson

from golddiff.episodes import Episode
from golddiff.jsonl import JsonlAppender
from golddiff.traces.detect import detect, detect_binary, read_head, reader
from golddiff.traces.scrub import Scrubber
from golddiff.traces.session import IngestReport, ReadOptions
from golddiff.traces.session.stats import episode_counts

_SKIP_DIRS = {".git", "node_modules", "__pycache__", ".venv", "venv"}


def expand_paths(paths: Iterable[str], report: IngestReport) -> Iterator[tuple[Path, bool]]:
    """(file, given_explicitly) for each file a path, folder (walked recursively) or glob names.

    Symbolic links to folders are not followed (a link back up the tree would loop forever), neither in
    folder walks nor by `**`; a file reached twice (a glob and a folder naming it) is read once.
    """
    seen: set[Path] = set()
    for raw in paths:
        p = os.path.expanduser(raw)
        matches = _glob(p) if glob.has_magic(p) else [Path(p)]
        if not matches:
            report.skip(raw, None, "no file matches this path or glob; check the spelling", "missing_path")
        for path in matches:
            if path.is_dir():
                for root, dirs, files in os.walk(path):
                    dirs[:] = sorted(d for d in dirs if d not in _SKIP_DIRS)
                    for name in sorted(files):
                        yield from _once(Path(root) / name, False, seen)
            elif path.is_file():
                yield from _once(path, True, seen)
            elif not glob.has_magic(p):
                report.skip(raw, None, "no such file or folder", "missing_path")


def _glob(pattern: str) -> list[Path]:
    """Matches of a glob, `**` included, without following symlinked folders (pathlib's walk)."""
    parts = Path(pattern).parts
    fixed = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    root = Path(*parts[:fixed]) if fixed else Path(".")
    rest = "/".join(parts[fixed:])
    dotted = [part for part in parts[fixed:] if part.startswith(".")]  # hidden names the pattern asks for

    def shown(m: Path) -> bool:  # like glob.glob: wildcards do not match hidden names
        hidden = (x for x in m.relative_to(root).parts if x.startswith("."))
        return all(any(fnmatch.fnmatch(x, d) for d in dotted) for x in hidden)

    return sorted(m for m in root.glob(rest) if shown(m))


def _once(path: Path, explicit: bool, seen: set[Path]) -> Iterator[tuple[Path, bool]]:
    key = path.resolve()
    if key not in seen:
        seen.add(key)
        yield path, explicit


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

    episodes: list[tuple[str, bytes, Counter]]
    counts: Counter
    redactions: Counter
    problems: list[str]


class FileWorker:
    """Reads, links and scrubs one file at a time; runs in the ingesting process or in a pool worker."""

    def __init__(self, fmt: str | None, opts: ReadOptions, repo: str | None, quiet: bool):
        self.fmt, self.opts, self.repo, self.quiet = fmt, opts, repo, quiet
        self.linker = None

    def prepare(self, progress: bool) -> None:
        """With a repository, read its history once here: pool workers forked later share it."""
        if self.repo and self.linker is None:
            from golddiff.traces.git.link import GitLinker

            self.linker = GitLinker(self.repo, IngestReport(quiet=self.quiet), progress=progress).prepare()

    def __call__(self, item: tuple[Path, bool]) -> FileResult:
        report = IngestReport(quiet=self.quiet)
        self.prepare(False)
        if self.linker is not None:
            self.linker.report = report
        scrubber = Scrubber()
        episodes = []

        def keep(ep: Episode) -> None:
            episodes.extend(self.serialize(ep, scrubber))

        _ingest_file(item[0], item[1], self.fmt, self.opts, report, keep)
        return FileResult(episodes, report.counts, scrubber.counts, report.problems)

    def serialize(self, ep: Episode, scrubber: Scrubber) -> list[tuple[str, bytes, Counter]]:
        """The episode (linked to its commits when there is a repository: maybe split, one per commit),
        scrubbed, as (id, JSON line, counts) each."""
        linked = self.linker.link(ep) if self.linker is not None and ep.source.tool != "git" else [ep]
        out = []
        for part in linked:
            clean = scrubber.scrub_episode(part.model_dump(), in_place=True)  # a fresh dict: no copy
            counts: Counter = Counter()
            episode_counts(clean, counts)
            out.append((clean["episode_id"], _dumps(clean), counts))
        return out


def _dumps(episode: dict) -> bytes:
    """One JSON line, UTF-8: orjson (compact; ~10x json.dumps), json for what orjson refuses (a lone
    surrogate a log carried in: written as a \\u escape, so the file stays valid UTF-8)."""
    try:
        return orjson.dumps(episode)
    except TypeError:
        return json.dumps(episode).encode()


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
    # the scrubber's scan is compiled once here: forked workers start with it. Readers are not: each
    # worker imports those its files need (one, usually), where importing all twelve here cost ~0.25 s
    # before any file was read.
    Scrubber()
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
    known: set[str] = set()
    worker = FileWorker(fmt, opts, repo, report.quiet)
    worker.prepare(progress)
    bar = _Progress(progress)

    def repaired(msg: str) -> None:
        report.counts["torn_lines_repaired"] += 1
        report.problems.append(msg)
        report.warn_once(f"torn:{msg}", msg)

    # locked appends: another ingest writing to the same file at the same time never doubles an episode
    with JsonlAppender(
        out, lock=True, on_new_line=lambda ln: _remember_id(ln, known), on_repair=repaired
    ) as sink:

        def write(ep_id: str, line: bytes, counts: Counter) -> None:
            if not sink.append(line, key=ep_id, known=known):
                report.counts["episodes_already_present"] += 1
                return
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
            for episode in worker.serialize(ep, scrubber):
                write(*episode)
        report.redactions.update(scrubber.counts)
    bar.close()
    return report


def _remember_id(line: bytes, known: set[str]) -> None:
    with contextlib.suppress(orjson.JSONDecodeError, KeyError, TypeError):  # not an episode: left alone
        known.add(orjson.loads(line)["episode_id"])


def _ingest_file(
    path: Path, explicit: bool, fmt: str | None, opts: ReadOptions, report: IngestReport, write
) -> None:
    try:
        head = read_head(path)
    except OSError as e:
        report.skip(str(path), None, f"cannot be read ({e.strerror}); check its permissions", "unreadable")
        return
    if head is None:  # binary: a SQLite database some reader knows (Cursor, OpenCode 2.x), or not a log
        try:
            found = detect_binary(path)
        except OSError as e:
            report.skip(
                str(path), None, f"cannot be read ({e.strerror}); check its permissions", "unreadable"
            )
            return
        if found is None or (fmt is not None and fmt != found):
            if explicit:
                what = "a binary file, not a session log (nor a database golddiff reads); pass a log file or folder"
                report.skip(str(path), None, what, "binary")
            else:
                report.counts["files_not_logs"] += 1
            return
    elif not head.strip():
        report.skip(str(path), None, "an empty file; nothing to ingest", "empty")
        return
    else:
        try:
            found = fmt or detect(path, head)
        except RecursionError:
            report.skip(
                str(path), None, "nested too deeply to read (RecursionError); file skipped", "too_deep"
            )
            return
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
    except RecursionError:
        report.skip(
            str(path),
            None,
            "nested too deeply to read (RecursionError); rest of the file skipped",
            "too_deep",
        )
    except Exception as e:  # a reader bug on one file must not take down the run or lose what was written
        # the exception's text may quote the record (and a secret in it): say where it failed instead
        tb = e.__traceback__
        while tb is not None and tb.tb_next is not None:
            tb = tb.tb_next
        where = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""
        report.skip(
            str(path),
            None,
            f"the {found} reader failed ({type(e).__name__}{where}); file skipped",
            "reader_error",
        )
