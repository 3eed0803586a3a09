"""Linking episodes to the commits that followed: coverage match, the human's changes, Entire trailers."""

import json
import subprocess
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces.git.link import GitLinker
from golddiff.traces.git.repo import GitError, GitRepo
from golddiff.traces.session import IngestReport, SessionBuilder


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.com",
        "PATH": "/usr/bin:/bin",
    }
    return subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    ).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    r = tmp_path / "repo"
    r.mkdir()
    git(r, "init", "-q", "-b", "main")
    (r / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n")
    git(r, "add", ".")
    git(r, "commit", "-qm", "base")
    return r


def _episode(repo: Path, session_id: str = "s-1"):
    b = SessionBuilder(
        "claude_code", "/logs/x.jsonl", session_id, IngestReport(quiet=True), cwd=str(repo), branch="main"
    )
    b.user("fix add", "task")
    base = (repo / "calc.py").read_text()
    fixed = base.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")
    b.apply_edit("calc.py", base, fixed, "Edit")
    b.apply_edit("calc.py", fixed, fixed + "\n\ndef debug():\n    print('hi')\n", "Edit")
    [ep] = b.finish()
    return ep, base, fixed


def test_commit_that_covers_the_episode_becomes_the_gold(repo: Path):
    ep, base, fixed = _episode(repo)
    # the human keeps the fix, drops the debug helper, adds a docstring, and commits
    committed = fixed.replace("def add(a, b):\n", 'def add(a, b):\n    """Sum."""\n')
    (repo / "calc.py").write_text(committed)
    git(repo, "commit", "-qam", "fix add")
    sha = git(repo, "rev-parse", "HEAD").strip()
    report = IngestReport(quiet=True)
    linked = GitLinker(str(repo), report).link(ep)
    assert linked.final.source == "commit" and linked.final.commit == sha
    assert linked.final.files == {"calc.py": committed}
    assert apply_unified_diff(linked.repo.base_files, linked.final.diff) == {"calc.py": committed}
    assert '+    """Sum."""' in linked.final.human_diff and "-    print('hi')" in linked.final.human_diff
    assert [e.status for e in linked.edits] == ["applied", "not_in_gold"]
    assert report.counts["episodes_linked"] == 1


def test_unrelated_commit_is_not_linked(repo: Path):
    ep, _, _ = _episode(repo)
    (repo / "other.py").write_text("print('unrelated')\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "other")
    report = IngestReport(quiet=True)
    linked = GitLinker(str(repo), report).link(ep)
    assert linked.final.source == "last_state"
    assert report.counts["episodes_unlinked"] == 1


def test_entire_checkpoint_trailer_links_by_session(repo: Path):
    ep, _, _ = _episode(repo, session_id="abc-session")
    git(repo, "checkout", "-q", "--orphan", "entire/checkpoints/v1")
    git(repo, "rm", "-rfq", ".")
    d = repo / "ab" / "cdef012345"
    (d / "1").mkdir(parents=True)
    (d / "metadata.json").write_text(
        json.dumps({"files_touched": ["calc.py"], "sessions": [{"session_id": "abc-session"}]})
    )
    (d / "1" / "full.jsonl").write_text(json.dumps({"sessionId": "abc-session", "type": "user"}) + "\n")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "checkpoint")
    git(repo, "checkout", "-q", "main")
    # a commit that shares little with the episode but names its checkpoint
    (repo / "calc.py").write_text("def add(a, b):\n    return sum((a, b))\n")
    git(repo, "commit", "-qam", "rewrite add\n\nEntire-Checkpoint: abcdef012345")
    linked = GitLinker(str(repo), IngestReport(quiet=True)).link(ep)
    assert linked.final.source == "commit"
    assert any("Entire-Checkpoint abcdef012345" in w for w in linked.provenance.warnings)


def test_not_a_repository_is_a_clear_error(tmp_path: Path):
    with pytest.raises(GitError, match="not a git repository"):
        GitRepo(tmp_path)
