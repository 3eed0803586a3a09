"""The Aider reader on its own fixtures and on a real git repository built in a temp dir."""

from __future__ import annotations

import subprocess
from pathlib import Path

from golddiff.diffs import apply_unified_diff
from golddiff.traces import aider
from golddiff.traces.session import IngestReport, ReadOptions

FIXTURES = Path(__file__).parent / "fixtures" / "aider"


def _read(path: Path, repo: Path | None = None) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    opts = ReadOptions(repo=str(repo) if repo else None)
    return list(aider.read(path, report, opts)), report


def _consistent(ep) -> bool:
    """The gold diff takes the base files to the final files."""
    return apply_unified_diff(ep.repo.base_files, ep.final.diff) == {
        **ep.repo.base_files,
        **ep.final.files,
    }


def test_sniff_is_content_based(tmp_path):
    head = (FIXTURES / "blocks.aider.chat.history.md").read_text()[:2000]
    assert aider.sniff(tmp_path / "anything.md", head)
    assert not aider.sniff(tmp_path / ".aider.chat.history.md", "# some notes\n\n#### heading\n")


def test_undo_failed_block_and_retry_form_one_episode():
    episodes, report = _read(FIXTURES / "blocks.aider.chat.history.md")
    ep = episodes[0]
    assert ep.task == "make greet say hello"
    assert [t.user for t in ep.turns] == [
        "make greet say hello",
        "/undo",
        "say hello, but keep the old constant",
    ]
    assert ep.turns[1].user_kind == "command"
    assert [f.kind for f in ep.turns[1].feedback] == ["undo"]
    statuses = {e.edit_id: (e.status, e.reason) for e in ep.edits}
    assert statuses["e0"] == ("failed", "failed to match")
    assert statuses["e1"][0] == statuses["e2"][0] == "reverted"
    assert "1111111" in statuses["e1"][1]
    assert statuses["e3"] == ("applied", None)
    assert ep.labels.gold_edits == ["e3"]
    assert set(ep.labels.negative_edits) == {"e0", "e1", "e2"}
    # no repository: the base is rebuilt from the SEARCH texts, and the episode says so
    assert ep.repo.base_state_confidence == "reconstructed"
    assert ep.repo.base_files == {
        "app/greet.py": 'def greet(name):\n    return "hi " + name\nGREETING = "hi"\n'
    }
    assert ep.final.files == {
        "app/greet.py": 'def greet(name):\n    return "hello " + name\nGREETING = "hi"\n'
    }
    assert ep.final.commit == "2222222" and ep.final.source == "last_state"
    assert _consistent(ep)
    assert report.counts["records"] > 0


def test_declined_file_is_a_rejected_edit_and_a_question_is_not_a_task():
    episodes, _ = _read(FIXTURES / "blocks.aider.chat.history.md")
    ep = episodes[1]
    assert ep.task == "add a farewell module"  # the question before it made no change
    rejected = [e for e in ep.edits if e.status == "rejected"]
    assert [e.path for e in rejected] == ["secrets/keys.py"]
    assert [f.kind for f in ep.turns[0].feedback] == ["reject"]
    assert ep.final.files == {"notes/farewell.py": 'def bye():\n    return "bye"\n'}
    assert ep.repo.base_files == {"notes/farewell.py": None}
    assert _consistent(ep)


def test_unterminated_block_is_reported_with_its_line_and_reading_goes_on():
    episodes, report = _read(FIXTURES / "blocks.aider.chat.history.md")
    assert len(episodes) == 2
    assert report.counts["skipped/bad_edit_block"] == 1
    log_line = (
        (FIXTURES / "blocks.aider.chat.history.md").read_text().split("\n").index("#### break the parser  ")
    )
    assert report.problems[0].startswith(f"{FIXTURES / 'blocks.aider.chat.history.md'}:{log_line + 3}:")


def test_whole_udiff_and_patch_formats_follow_the_session_header():
    episodes, _ = _read(FIXTURES / "formats.aider.chat.history.md")
    assert [ep.edits[0].tool for ep in episodes] == ["whole", "udiff", "apply_patch", "whole"]
    whole, udiff, patch = episodes[:3]
    assert whole.final.files == {"config.py": "DEBUG = False\nPORT = 8080\n"}
    assert udiff.repo.base_files == {"config.py": "DEBUG = False\nPORT = 8080\n"}
    assert udiff.final.files == {"config.py": "DEBUG = False\nPORT = 9090\n"}
    assert patch.final.files == {"config.py": "DEBUG = True\nPORT = 9090\n", "README.md": "# Demo\n"}
    assert len({ep.source.session_id for ep in episodes}) == 4
    assert all(_consistent(ep) for ep in episodes)


def test_a_heading_in_a_reply_is_not_a_user_line_and_an_unreadable_reply_fails_its_edits():
    episodes, _ = _read(FIXTURES / "formats.aider.chat.history.md")
    ep = episodes[3]
    assert ep.task == "What's wrong? Fix"
    assert [t.user for t in ep.turns] == ["What's wrong? Fix"]  # `#### main.py` was the file's name
    assert [(e.path, e.status) for e in ep.edits] == [("main.py", "failed"), ("main.py", "applied")]
    assert ep.edits[0].reason == "aider could not read the reply's edits"
    assert ep.final.files == {"main.py": "import torch\n\nprint(torch.__version__)\n"}
    assert [f.kind for f in ep.turns[0].feedback] == ["interrupt"]


def test_work_undone_at_the_end_is_an_episode_of_negatives(tmp_path):
    log = tmp_path / ".aider.chat.history.md"
    log.write_text(
        "# aider chat started at 2024-08-01 08:00:00\n\n#### rename x\n\n"
        + "a.py\n```python\n<<<<<<< SEARCH\nx = 1\n=======\ny = 1\n>>>>>>> REPLACE\n```\n\n"
        + "> Applied edit to a.py\n> Commit 4444444 rename x\n\n#### /undo\n> Removed: 4444444 rename x\n"
    )
    (ep,), _ = _read(log)
    assert [(e.status, e.reason) for e in ep.edits] == [("reverted", "undone with /undo (commit 4444444)")]
    assert ep.final.diff == "" and ep.final.commit is None
    assert ep.provenance.warnings == ["no_gold: nothing this episode changed was kept"]
    assert not ep.final.accepted


def test_ids_are_stable_across_reads():
    first, _ = _read(FIXTURES / "blocks.aider.chat.history.md")
    second, _ = _read(FIXTURES / "blocks.aider.chat.history.md")
    assert [e.episode_id for e in first] == [e.episode_id for e in second]
    assert len({e.episode_id for e in first}) == len(first)


# ------------------------------------------------------------------------------------ a real repository


def _git(repo: Path, *args: str) -> str:
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str) -> str:
    for name, text in files.items():
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "proj"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "T")
    return repo


MAIN0 = "def main():\n    pass\n"
MAIN1 = 'def greet():\n    return "hi"\n\n\ndef main():\n    pass\n'
MAIN2 = "def greet(name):\n    return name\n\n\ndef main():\n    pass\n"
MAIN3 = 'def greet(name):\n    """Say hi."""\n    return name\n\n\ndef main():\n    pass\n'


def _sr(path: str, search: str, replace: str) -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n```\n"


ADD_GREET = _sr("app.py", "def main():\n", 'def greet():\n    return "hi"\n\n\ndef main():\n')
NAME_GREET = _sr("app.py", "def main():\n", "def greet(name):\n    return name\n\n\ndef main():\n")
BAD_BLOCK = _sr("app.py", "def nope():\n", "def yes():\n")
DOCSTRING = _sr("app.py", "def greet(name):\n", 'def greet(name):\n    """Say hi."""\n')
RENAME = _sr("app.py", 'def greet():\n    return "hi"\n', "def greet(name):\n    return name\n")


def _aider_log(sha1: str, sha2: str, sha3: str) -> str:
    s1, s2, s3 = sha1[:7], sha2[:7], sha3[:7]
    return f"""
# aider chat started at 2025-01-02 09:00:00

> Aider v0.70.0
> Main model: claude-3-5-sonnet with diff edit format, infinite output
> Git repo: .git with 1 files

#### add a greet function

{ADD_GREET}
> Tokens: 1k sent, 50 received.
> Applied edit to app.py
> Commit {s1} feat: add greet
> You can use /undo to undo and discard each aider commit.

#### /undo
> Removed: {s1} feat: add greet
> Now at:  0000000 init

#### greet should take a name

{NAME_GREET}
{BAD_BLOCK}
> Tokens: 1k sent, 50 received.
> # 1 SEARCH/REPLACE block failed to match!

## SearchReplaceNoExactMatch: This SEARCH block failed to exactly match lines in app.py
<<<<<<< SEARCH
def nope():
=======
def yes():
>>>>>>> REPLACE

The SEARCH section must exactly match an existing block of lines including all white space, comments, indentation, docstrings, etc

# The other 1 SEARCH/REPLACE block were applied successfully.
Don't re-send them.
Just reply with fixed versions of the block above that failed to match.

> Commit {s2} feat: greet takes a name

#### add a docstring to greet

{DOCSTRING}
> Applied edit to app.py
> Commit {s3} docs: greet
"""


def test_git_linked_turns_take_their_gold_from_the_commits(tmp_path):
    repo = _repo(tmp_path)
    init = _commit(repo, {"app.py": MAIN0}, "init")
    sha1 = _commit(repo, {"app.py": MAIN1}, "feat: add greet")
    _git(repo, "reset", "-q", "--hard", "HEAD~1")  # what /undo does; the commit object stays
    sha2 = _commit(repo, {"app.py": MAIN2}, "feat: greet takes a name")
    sha3 = _commit(repo, {"app.py": MAIN3}, "docs: greet")
    log = repo / ".aider.chat.history.md"
    log.write_text(_aider_log(sha1, sha2, sha3))

    episodes, report = _read(log, repo)
    assert [ep.task for ep in episodes] == ["add a greet function", "add a docstring to greet"]
    first, second = episodes
    # the first request, its undo and the retry: gold = the surviving commit, base = its parent
    assert first.final.source == "commit" and first.final.commit == sha2
    assert first.repo.base_commit == init
    assert first.repo.base_state_confidence == "git"
    assert first.repo.base_files == {"app.py": MAIN0}
    assert first.final.files == {"app.py": MAIN2}
    assert _consistent(first)
    undone = [e for e in first.edits if e.status == "reverted"]
    assert len(undone) == 1 and sha1[:7] in (undone[0].reason or "")
    assert '+    return "hi"' in undone[0].diff  # the undone commit's own change, from git
    assert [e.status for e in first.edits if e.tool == "SEARCH/REPLACE"] == ["failed"]
    assert [e.tool for e in first.gold_edits()] == ["commit"]
    assert [f.kind for t in first.turns for f in t.feedback] == ["undo"]
    # the next request: its own commit
    assert second.final.commit == sha3 and second.repo.base_commit == sha2
    assert second.repo.base_files == {"app.py": MAIN2} and second.final.files == {"app.py": MAIN3}
    assert _consistent(second)
    assert not report.problems


def test_missing_commit_is_a_warning_on_its_episode(tmp_path):
    repo = _repo(tmp_path)
    _commit(repo, {"app.py": MAIN0}, "init")
    sha1 = _commit(repo, {"app.py": MAIN1}, "feat: add greet")
    log = repo / ".aider.chat.history.md"
    log.write_text(
        f"""# aider chat started at 2025-01-03 09:00:00

#### add a greet function

{ADD_GREET}
> Applied edit to app.py
> Commit {sha1[:7]} feat: add greet

#### greet should take a name

{RENAME}
> Applied edit to app.py
> Commit 0123456 feat: greet takes a name
"""
    )
    episodes, report = _read(log, repo)
    assert len(episodes) == 2
    found, missing = episodes
    assert found.final.commit == sha1 and found.repo.base_state_confidence == "git"
    assert any("0123456" in w and "not in" in w for w in missing.provenance.warnings)
    assert missing.repo.base_state_confidence == "reconstructed"
    assert missing.repo.file_confidence == {"app.py": "git"}  # the edit was rebuilt; its base is the repo's
    assert found.final.accepted and missing.final.accepted
    assert missing.final.source == "last_state"
    assert missing.repo.base_files == {"app.py": MAIN1}  # the last real commit stands for the base
    assert missing.final.files == {"app.py": MAIN2}  # rebuilt from the reply's block
    assert not report.problems
