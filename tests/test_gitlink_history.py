"""Linking real Claude Code sessions to the commits that followed them, in git repositories whose histories
reproduce what defeated the 200-newest-commits linker: a commit far down the history, a merged and deleted
branch, an older commit with the same lines, a session over three Entire checkpoints (one commit rebased),
an episode committed over several commits; and the rejected edits of files known only in part."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.episodes import Episode, read_episodes
from golddiff.traces import claude_code
from golddiff.traces.git.link import GitLinker
from golddiff.traces.session import IngestReport, ReadOptions

sys.path.insert(0, str(Path(__file__).parent / "fixtures" / "claude_code"))
from cc_log import REJECT, Log, abs_, do_read, edit_result, text, tool  # noqa: E402

DAY0 = "2025-11-16T09:00:00+00:00"  # before the sessions (cc_log's records start 2025-11-17T10:00:01Z)
CALC = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
FIXED = CALC.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")
SESSION_START = "2025-11-17T10:00:00+00:00"


def git(repo: Path, *args: str, when: str = "2025-11-17T11:00:00+00:00", stdin: str | None = None) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "GIT_AUTHOR_DATE": when,
        "GIT_COMMITTER_DATE": when,
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
    }
    proc = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env, input=stdin
    )
    return proc.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str, when: str) -> str:
    for name, content in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(content)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", message, when=when)
    return git(repo, "rev-parse", "HEAD")


def filler(repo: Path, n: int, start: int = 1_763_400_000) -> None:
    """`n` unrelated commits on the current branch, fast (git fast-import), an hour apart from `start`."""
    branch = git(repo, "symbolic-ref", "HEAD")
    out = []
    for k in range(n):
        body = f"line {k} of the changelog\n"
        msg = f"chore: changelog entry {k}\n"
        out.append(f"commit {branch}\ncommitter t <t@example.com> {start + 3600 * k} +0000\n")
        out.append(f"data {len(msg)}\n{msg}")
        if k == 0:
            out.append(f"from {git(repo, 'rev-parse', 'HEAD')}\n")
        out.append(f"M 100644 inline docs/changes/{k}.txt\ndata {len(body)}\n{body}\n")
    git(repo, "fast-import", "--quiet", stdin="".join(out))
    git(repo, "reset", "-q", "--hard")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    commit(r, {"calc.py": CALC}, "base", DAY0)
    return r


def read_and_edit(log: Log, k: object, rel: str, before: str, old: str, new: str) -> None:
    """The agent reads `rel` whole, then an Edit of it succeeds (calls toolu_r<k>, toolu_e<k>)."""
    do_read(log, f"toolu_r{k}", rel, before)
    log.assistant(tool(f"toolu_e{k}", "Edit", file_path=abs_(rel), old_string=old, new_string=new))
    out, tur = edit_result(rel, before, old, new)
    log.result(f"toolu_e{k}", out, tur=tur)


FIX = ("calc.py", CALC, "a - b\n\n\ndef sub", "a + b\n\n\ndef sub")


def fix_session(tmp_path: Path, session: str = "sess-fix", branch: str = "main") -> Path:
    """A Claude Code session that fixes add()."""
    log = Log(session)
    log.user("fix add")
    read_and_edit(log, 1, *FIX)
    path = tmp_path / f"{session}.jsonl"
    lines = [json.loads(s) for s in log.lines]
    for rec in lines:
        rec["gitBranch"] = branch
    path.write_text("\n".join(json.dumps(r) for r in lines) + "\n")
    return path


def episodes_of(path: Path) -> list[Episode]:
    return list(claude_code.read(path, IngestReport(quiet=True), ReadOptions()))


def link(repo: Path, path: Path) -> list[Episode]:
    linker = GitLinker(str(repo), IngestReport(quiet=True))
    return [part for ep in episodes_of(path) for part in linker.link(ep)]


def ingest_stats(tmp_path: Path, log: Path, repo: Path) -> tuple[dict, list[Episode]]:
    """`golddiff ingest LOG --repo REPO --stats` through the real command line."""
    out = tmp_path / "episodes.jsonl"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "golddiff.cli",
            "ingest",
            str(log),
            "--repo",
            str(repo),
            "-o",
            str(out),
            "--stats",
            "-q",
            "-j1",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1]), list(read_episodes(out))


# ----------------------------------------------------------------------------- by coverage


def test_a_commit_beyond_the_200_newest_is_found(tmp_path, repo):
    sha = commit(repo, {"calc.py": FIXED}, "fix add", "2025-11-17T10:30:00+00:00")
    filler(repo, 260)
    stats, (ep,) = ingest_stats(tmp_path, fix_session(tmp_path), repo)
    assert ep.final.commit == sha and ep.final.source == "commit"
    assert ep.final.link.method == "coverage" and ep.final.link.coverage == 1.0
    assert stats["links"] == {"coverage": 1} and stats["link_coverage"] == {"100%": 1}
    assert apply_unified_diff(ep.repo.base_files, ep.final.diff) == {"calc.py": FIXED}


def test_a_merged_and_deleted_branch_is_searched_and_so_is_an_unmerged_one(tmp_path, repo):
    git(repo, "checkout", "-q", "-b", "fix/add")
    sha = commit(repo, {"calc.py": FIXED}, "fix add", "2025-11-17T10:30:00+00:00")
    git(repo, "checkout", "-q", "main")
    commit(repo, {"README.md": "calc\n"}, "readme", "2025-11-17T10:40:00+00:00")
    git(repo, "merge", "-q", "--no-ff", "-m", "merge fix/add", "fix/add", when="2025-11-17T11:00:00+00:00")
    git(repo, "branch", "-q", "-D", "fix/add")
    filler(repo, 30)
    [ep] = link(repo, fix_session(tmp_path, branch="fix/add"))  # the session's branch no longer exists
    assert ep.final.commit == sha and ep.final.link.method == "coverage"
    # a branch deleted without a merge: its commit lives on only in the reflog
    git(repo, "checkout", "-q", "-b", "try/sub")
    lost = commit(
        repo,
        {"calc.py": CALC.replace("def sub(a, b):\n    return a - b", "def sub(a, b):\n    return b - a")},
        "sub",
        "2025-11-17T12:00:00+00:00",
    )
    git(repo, "checkout", "-q", "main")
    git(repo, "branch", "-q", "-D", "try/sub")
    log = Log("sess-sub")
    log.user("swap sub")
    read_and_edit(
        log, 1, "calc.py", CALC, "def sub(a, b):\n    return a - b", "def sub(a, b):\n    return b - a"
    )
    (tmp_path / "sub.jsonl").write_text("\n".join(log.lines) + "\n")
    [ep] = link(repo, tmp_path / "sub.jsonl")
    assert ep.final.commit == lost


def test_a_commit_made_before_the_session_is_not_its_gold(tmp_path, repo):
    old = commit(repo, {"calc.py": FIXED}, "fix add (first try)", "2025-11-16T12:00:00+00:00")
    commit(repo, {"calc.py": CALC}, "revert the first try", "2025-11-16T13:00:00+00:00")
    new = commit(repo, {"calc.py": FIXED}, "fix add", "2025-11-17T10:30:00+00:00")
    [ep] = link(repo, fix_session(tmp_path))
    assert ep.final.commit == new != old


def test_no_commit_covers_it_and_the_link_says_how_close_the_best_came(tmp_path, repo):
    commit(repo, {"other.py": "print('unrelated')\n"}, "other", "2025-11-17T10:30:00+00:00")
    stats, (ep,) = ingest_stats(tmp_path, fix_session(tmp_path), repo)
    assert ep.final.source == "last_state" and ep.final.link.method == "none"
    assert stats["links"] == {"none": 1}


# -------------------------------------------------------------------- several commits


def two_file_session(tmp_path: Path) -> Path:
    log = Log("sess-two")
    log.user("fix add, then document sub")
    read_and_edit(log, 1, *FIX)
    log.user("now write the docs")
    log.assistant(tool("toolu_w1", "Write", file_path=abs_("docs/sub.md"), content=DOCS))
    tur = {"type": "create", "filePath": abs_("docs/sub.md"), "content": DOCS, "structuredPatch": []}
    log.result("toolu_w1", "File created", tur=tur)
    path = tmp_path / "two.jsonl"
    path.write_text("\n".join(log.lines) + "\n")
    return path


DOCS = "# sub(a, b)\n\nSubtracts b from a and returns the difference.\n"


def test_consecutive_commits_that_cover_the_episode_are_its_gold_together(tmp_path, repo):
    c1 = commit(repo, {"calc.py": FIXED}, "fix add", "2025-11-17T10:30:00+00:00")
    c2 = commit(repo, {"docs/sub.md": DOCS}, "docs for sub", "2025-11-17T10:31:00+00:00")
    [ep] = link(repo, two_file_session(tmp_path))
    assert ep.final.link.commits == [c1, c2] and ep.final.commit == c2
    assert ep.final.files == {"calc.py": FIXED, "docs/sub.md": DOCS}
    assert [e.status for e in ep.edits] == ["applied", "applied"]


def test_commits_with_another_between_them_split_the_episode(tmp_path, repo):
    c1 = commit(repo, {"calc.py": FIXED}, "fix add", "2025-11-17T10:30:00+00:00")
    commit(repo, {"README.md": "someone else\n"}, "readme", "2025-11-17T10:31:00+00:00")
    c2 = commit(repo, {"docs/sub.md": DOCS}, "docs for sub", "2025-11-17T10:32:00+00:00")
    stats, parts = ingest_stats(tmp_path, two_file_session(tmp_path), repo)
    assert [p.final.commit for p in parts] == [c1, c2]
    first, second = parts
    assert first.task == "fix add, then document sub" and second.task == "now write the docs"
    assert first.final.files == {"calc.py": FIXED} and second.final.files == {"docs/sub.md": DOCS}
    assert [e.call_id for e in first.edits] == ["toolu_e1"] and [e.call_id for e in second.edits] == [
        "toolu_w1"
    ]
    assert (
        first.final.link.split_from == second.final.link.split_from != first.episode_id != second.episode_id
    )
    assert stats["episodes"] == 2 and stats["episodes_split"] == 2 and stats["links"] == {"coverage": 2}


# ---------------------------------------------------------------------- Entire checkpoints


def checkpointed_session(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    """One session, four tasks split by /clear (the last never committed); returns the file and the
    transcript after each task."""
    log = Log("sess-entire")
    at = []
    steps = [
        ("fix add", "calc.py", CALC, "a - b\n\n\ndef sub", "a + b\n\n\ndef sub"),
        ("bump the version", "VERSION", "1.0.0\n", "1.0.0", "1.0.1"),
        ("say hi", "greet.py", "print('hello')\n", "hello", "hi"),
        ("retitle the notes", "notes.md", "# notes\n", "# notes", "# Release notes"),  # never committed
    ]
    for k, (ask, rel, before, old, new) in enumerate(steps):
        if k:
            log.user(
                "<command-name>/clear</command-name>\n<command-message>clear</command-message>", parent=None
            )
        log.user(ask)
        read_and_edit(log, k, rel, before, old, new)
        log.assistant(text("Done."))
        at.append(list(log.lines))
    path = tmp_path / "entire.jsonl"
    path.write_text("\n".join(log.lines) + "\n")
    return path, at


def test_a_session_over_three_checkpoints_links_each_episode_to_its_own_commit(tmp_path, repo):
    commit(repo, {"VERSION": "1.0.0\n", "greet.py": "print('hello')\n"}, "more files", DAY0)
    path, transcripts = checkpointed_session(tmp_path)
    ids = ["a1b2c3d4e5f6", "0a0b0c0d0e0f", "fedcba987654"]
    c1 = commit(
        repo, {"calc.py": FIXED}, f"fix add\n\nEntire-Checkpoint: {ids[0]}", "2025-11-17T10:30:00+00:00"
    )
    # the second commit is made on a branch, then rebased onto main: two commits carry its checkpoint
    git(repo, "checkout", "-q", "-b", "topic")
    c2_old = commit(
        repo, {"VERSION": "1.0.1\n"}, f"bump\n\nEntire-Checkpoint: {ids[1]}", "2025-11-17T10:31:00+00:00"
    )
    git(repo, "checkout", "-q", "main")
    commit(repo, {"README.md": "x\n"}, "readme", "2025-11-17T10:32:00+00:00")
    git(repo, "cherry-pick", c2_old, when="2025-11-17T10:33:00+00:00")
    c2 = git(repo, "rev-parse", "HEAD")
    c3 = commit(
        repo, {"greet.py": "print('hi')\n"}, f"hi\n\nEntire-Checkpoint: {ids[2]}", "2025-11-17T10:34:00+00:00"
    )
    # the checkpoints: cumulative transcripts; the second says where its part starts, the third does not
    git(repo, "checkout", "-q", "--orphan", "entire/checkpoints/v1")
    git(repo, "rm", "-rfq", ".")
    starts = [None, len(transcripts[0]), None]
    for cid, lines, start in zip(ids, transcripts[:3], starts):
        d = repo / cid[:2] / cid[2:]
        (d / "0").mkdir(parents=True)
        (d / "metadata.json").write_text(
            json.dumps(
                {"checkpoint_id": cid, "sessions": [{"metadata": f"/{cid[:2]}/{cid[2:]}/0/metadata.json"}]}
            )
        )
        meta = {"session_id": "sess-entire"} | ({"transcript_lines_at_start": start} if start else {})
        (d / "0" / "metadata.json").write_text(json.dumps(meta))
        (d / "0" / "full.jsonl").write_text("\n".join(lines) + "\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "checkpoints")
    git(repo, "checkout", "-q", "main")
    stats, episodes = ingest_stats(tmp_path, path, repo)
    assert [ep.task for ep in episodes] == ["fix add", "bump the version", "say hi", "retitle the notes"]
    linked, last = episodes[:3], episodes[3]
    assert [ep.final.commit for ep in linked] == [c1, c2, c3]  # the rebased copy on main, not c2_old
    assert [ep.final.link.checkpoint for ep in linked] == ids
    assert all(ep.final.link.method == "trailer" and ep.final.link.coverage == 1.0 for ep in linked)
    assert episodes[1].final.files == {"VERSION": "1.0.1\n"}
    # the session's last task is in no checkpoint: not given the newest commit that names the session
    assert last.final.link.method == "none" and last.final.source == "last_state"
    assert stats["links"] == {"trailer": 3, "none": 1}


# --------------------------------------------------------- rejected edits of partly known files


NOTES = "".join(f"line {k}\n" for k in range(1, 21))


def partly_known_session(tmp_path: Path) -> Path:
    log = Log("sess-window")
    log.user("tidy the notes and fix add")
    # a windowed Read (lines 5-8 of 20), then a rejected Edit inside the window
    log.assistant(tool("toolu_r1", "Read", file_path=abs_("notes.txt"), offset=5, limit=4))
    window = "".join(f"line {k}\n" for k in range(5, 9))
    numbered = "\n".join(f"{k:6}\u2192line {k}" for k in range(5, 9))
    tur = {
        "type": "text",
        "file": {
            "filePath": abs_("notes.txt"),
            "content": window,
            "numLines": 4,
            "startLine": 5,
            "totalLines": 20,
        },
    }
    log.result("toolu_r1", numbered, tur=tur)
    log.assistant(
        tool("toolu_x1", "Edit", file_path=abs_("notes.txt"), old_string="line 6\n", new_string="LINE SIX\n")
    )
    log.result("toolu_x1", REJECT, is_error=True, tur="Error: " + REJECT)
    # calc.py read whole, then changed outside the edit tools (a later window shows it), then a rejected Edit
    do_read(log, "toolu_r2", "calc.py", CALC)
    changed = "def add(a, b):\n    return a - b  # outside\n"
    tur = {
        "type": "text",
        "file": {
            "filePath": abs_("calc.py"),
            "content": changed,
            "numLines": 2,
            "startLine": 1,
            "totalLines": 6,
        },
    }
    log.assistant(tool("toolu_r3", "Read", file_path=abs_("calc.py"), limit=2))
    log.result("toolu_r3", "     1\u2192def add(a, b):\n     2\u2192    return a - b  # outside", tur=tur)
    log.assistant(
        tool(
            "toolu_x2",
            "Edit",
            file_path=abs_("calc.py"),
            old_string="a - b  # outside",
            new_string="a + b  # outside",
        )
    )
    log.result(
        "toolu_x2",
        REJECT.split(" STOP")[0] + " To tell you how to proceed, the user said:\nkeep the comment out",
        is_error=True,
        tur="Error: rejected",
    )
    path = tmp_path / "window.jsonl"
    path.write_text("\n".join(log.lines) + "\n")
    return path


def test_rejected_edits_of_partly_known_and_stale_files_are_kept_and_mapped(tmp_path, repo):
    commit(repo, {"notes.txt": NOTES}, "notes", DAY0)
    commit(
        repo,
        {"calc.py": "def add(a, b):\n    return a - b  # outside\n\n\ndef sub(a, b):\n    return a - b\n"},
        "comment",
        "2025-11-17T09:00:00+00:00",
    )
    stats, (ep,) = ingest_stats(tmp_path, partly_known_session(tmp_path), repo)
    notes, calc = ep.edits
    assert (notes.status, notes.confidence) == ("rejected", "located")
    # placed by the window (lines 5-8 of the file), with the window's lines as its context
    assert "@@ -5,4 +5,4 @@\n line 5\n-line 6\n+LINE SIX\n line 7\n line 8\n" in notes.diff
    assert (calc.status, calc.confidence, calc.reason) == ("rejected", "located", "keep the comment out")
    assert "-    return a - b  # outside\n+    return a + b  # outside\n" in calc.diff
    assert stats["rejected_edits"] == stats["rejections"] == stats["rejections_mapped"] == 2
    assert stats["negatives_by_confidence"] == {"located": 2}
    assert stats["rejections_unmapped"] == {} and stats["feedback"] == {"reject": 1, "reject_with_reason": 1}
    assert stats["links"] == {"none": 1}  # nothing was accepted, so nothing to link
