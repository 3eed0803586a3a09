"""A git repository's commits as episodes, on real repositories built in a temp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from golddiff.diffs import apply_unified_diff
from golddiff.traces.git.history import GitError, read_repo
from golddiff.traces.session import IngestReport


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _commit(repo: Path, message: str, files: dict[str, str | bytes | None]) -> str:
    for name, content in files.items():
        path = repo / name
        if content is None:
            path.unlink()
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """init -> change (with a binary file) -> a merged branch -> a huge diff -> too many files -> delete."""
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "T")
    shas = {
        "init": _commit(repo, "Add calc\n\nFirst version.", {"calc.py": "def add(a, b):\n    return a + b\n"})
    }
    shas["change"] = _commit(
        repo,
        "Subtract too",
        {
            "calc.py": "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n",
            "NOTES.md": "sub added\n",
            "logo.png": b"\x89PNG\x00\x01\x02",
        },
    )
    _git(repo, "checkout", "-q", "-b", "side")
    shas["side"] = _commit(repo, "Side work", {"side.py": "x = 1\n"})
    _git(repo, "checkout", "-q", "main")
    shas["main"] = _commit(repo, "Main work", {"main.py": "y = 2\n"})
    _git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    shas["merge"] = _git(repo, "rev-parse", "HEAD")
    shas["huge"] = _commit(
        repo, "Generated table", {"table.py": "".join(f"T{i} = {i}\n" for i in range(5000))}
    )
    shas["many"] = _commit(repo, "Many files", {f"pkg/m{i}.py": f"v = {i}\n" for i in range(30)})
    shas["delete"] = _commit(repo, "Drop main.py", {"main.py": None})
    return repo, shas


def _read(repo: Path, **kwargs) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(read_repo(repo, report, **kwargs)), report


def test_each_non_merge_commit_within_limits_is_an_episode(repo):
    path, shas = repo
    episodes, report = _read(path)
    assert [ep.final.commit for ep in episodes] == [
        shas["init"],
        shas["change"],
        shas["side"],
        shas["main"],
        shas["delete"],
    ]
    assert shas["merge"] not in {ep.final.commit for ep in episodes}
    assert report.counts["git/skipped_too_large"] == 1  # the 5000-line table
    assert report.counts["git/skipped_too_many_files"] == 1  # the 30 new files
    for ep in episodes:
        assert ep.final.source == "commit" and ep.repo.base_state_confidence == "git"
        assert apply_unified_diff(ep.repo.base_files, ep.final.diff) == {
            **ep.repo.base_files,
            **ep.final.files,
        }
        assert ep.labels.gold_edits == [e.edit_id for e in ep.edits]


def test_an_episode_is_the_commit_message_the_parent_and_the_diff(repo):
    path, shas = repo
    episodes, _ = _read(path)
    init, change = episodes[0], episodes[1]
    assert init.task == "Add calc\n\nFirst version."
    assert init.repo.base_commit is None and init.repo.base_files == {"calc.py": None}
    assert change.task == "Subtract too" and change.repo.base_commit == shas["init"]
    assert change.repo.base_files == {"calc.py": "def add(a, b):\n    return a + b\n", "NOTES.md": None}
    assert "logo.png" not in change.final.files  # binary
    assert "+def sub(a, b):\n" in change.final.diff
    assert episodes[-1].final.files == {"main.py": None}  # a deletion


def test_globs_pick_the_files(repo):
    path, shas = repo
    py_only, _ = _read(path, include_globs=["*.py"])
    change = next(ep for ep in py_only if ep.final.commit == shas["change"])
    assert list(change.final.files) == ["calc.py"]
    no_md, report = _read(path, exclude_globs=["*.md", "calc.py"])
    assert shas["init"] not in {ep.final.commit for ep in no_md}  # nothing left of it
    assert report.counts["git/skipped_no_files"] == 2  # init, and `change` without calc.py and NOTES.md


def test_size_limits_are_settings(repo):
    path, shas = repo
    episodes, _ = _read(path, max_files=50, max_diff_chars=500_000)
    assert {shas["huge"], shas["many"]} <= {ep.final.commit for ep in episodes}
    tight, report = _read(path, max_files=1)
    assert shas["change"] not in {ep.final.commit for ep in tight}  # calc.py and NOTES.md


def test_rev_range(repo):
    path, shas = repo
    episodes, _ = _read(path, rev_range=f"{shas['many']}..main")
    assert [ep.final.commit for ep in episodes] == [shas["delete"]]


def test_ids_are_stable_and_do_not_depend_on_where_the_clone_lives(repo, tmp_path):
    path, _ = repo
    first, _ = _read(path)
    again, _ = _read(path)
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(path), str(clone)], check=True)
    cloned, _ = _read(clone)
    assert (
        [ep.episode_id for ep in first] == [ep.episode_id for ep in again] == [ep.episode_id for ep in cloned]
    )
    assert len({ep.episode_id for ep in first}) == len(first)


def test_a_folder_that_is_not_a_repository_is_a_clear_error(tmp_path):
    with pytest.raises(GitError, match="not a git repository"):
        _read(tmp_path)
    with pytest.raises(GitError, match="no such directory"):
        _read(tmp_path / "missing")
