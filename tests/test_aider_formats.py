"""Aider's fences and edit formats: architect mode with its editor (a real git repository built in a temp
dir), and each edit format's reply read in every fence Aider writes (aider/fences.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_aider import _commit, _git  # the repository helpers test_aider owns

from golddiff.diffs import apply_unified_diff
from golddiff.traces import aider
from golddiff.traces.aider.fences import name_above, whole_listings
from golddiff.traces.aider.log import reply_blocks
from golddiff.traces.session import IngestReport, ReadOptions

APP0 = 'def greet():\n    return "hi"\n'
APP1 = 'def greet():\n    return "hi"\n\n\ndef bye():\n    return "bye"\n'
README0 = "# Demo\n"
README1 = "# Demo\n\n## Usage\n\n```python\nfrom app import bye\n```\n"
UTIL1 = "def shout(s):\n    return s.upper()\n"

PLAN = """I'll add `bye()` to `app.py` and a usage section to `README.md`:

1. In app.py, after greet, add:

```python
def bye():
    return "bye"
```

2. In README.md add a "Usage" section showing the import."""


def _as_user_input(text: str) -> str:
    """How aider logs a message it sends as the user's (io.user_input): every line behind `#### `."""
    return "#### " + "  \n#### ".join(text.splitlines())


def _architect_log(sha1: str, sha2: str) -> str:
    s1, s2 = sha1[:7], sha2[:7]
    return f"""
# aider chat started at 2025-07-01 10:00:00

> /home/u/.local/bin/aider --architect --editor-edit-format editor-whole
> Aider v0.85.1
> Main model: anthropic/claude-sonnet-4-20250514 with architect edit format, infinite output
> Editor model: anthropic/claude-sonnet-4-20250514 with editor-whole edit format
> Weak model: anthropic/claude-3-5-haiku-20241022
> Git repo: .git with 2 files
> Repo-map: using 4096 tokens, auto refresh

#### add a bye() function next to greet and document it in the README

{PLAN}

> Tokens: 2.1k sent, 120 received. Cost: $0.01 message, $0.01 session.

{_as_user_input(PLAN)}

app.py
<source>python
{APP1}</source>

README.md
````markdown
{README1}````

> Tokens: 3.0k sent, 200 received. Cost: $0.02 message, $0.03 session.
> Applied edit to app.py
> Applied edit to README.md
> Commit {s1} feat: add bye() and document usage

#### now a shout helper

Add `shout(s)` to app.py returning `s.upper()`.

> Tokens: 1.0k sent, 30 received.
> Edit the files? (Y)es/(N)o [Yes]: n

#### put it in lib/util.py instead

Create `lib/util.py` with `shout(s)` returning `s.upper()`.

> Tokens: 1.0k sent, 30 received.
> Edit the files? (Y)es/(N)o [Yes]: y

#### Create `lib/util.py` with `shout(s)` returning `s.upper()`.

~~~python
lib/util.py
{UTIL1}~~~

> Applied edit to lib/util.py
> Commit {s2} feat: shout helper

#### thanks
"""


@pytest.fixture
def architect(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    repo = tmp_path / "proj"
    repo.mkdir()
    _git(repo, "init", "-q")
    _git(repo, "config", "user.email", "t@example.com")
    _git(repo, "config", "user.name", "T")
    init = _commit(repo, {"app.py": APP0, "README.md": README0}, "init")
    sha1 = _commit(repo, {"app.py": APP1, "README.md": README1}, "feat: add bye() and document usage")
    sha2 = _commit(repo, {"lib/util.py": UTIL1}, "feat: shout helper")
    log = tmp_path / ".aider.chat.history.md"
    log.write_text(_architect_log(sha1, sha2))
    return repo, log, [init, sha1, sha2]


def _read(log: Path, repo: Path | None) -> tuple[list, IngestReport]:
    report = IngestReport(quiet=True)
    return list(aider.read(log, report, ReadOptions(repo=str(repo) if repo else None))), report


def test_architect_mode_edits_come_from_the_editor_reply_in_any_fence(architect):
    repo, log, (init, sha1, sha2) = architect
    episodes, report = _read(log, repo)
    assert [ep.task for ep in episodes] == [
        "add a bye() function next to greet and document it in the README",
        "now a shout helper",
    ]
    first, second = episodes
    # the plan handed to the editor is not a request, and the plan's own code is not an edit
    assert [t.user for t in first.turns] == [first.task]
    assert first.final.source == "commit" and first.final.commit == sha1 and first.repo.base_commit == init
    assert first.final.files == {"app.py": APP1, "README.md": README1}
    assert first.repo.base_files == {"app.py": APP0, "README.md": README0}
    assert second.final.commit == sha2 and second.final.files == {"lib/util.py": UTIL1}
    assert report.counts["aider/unapplied_blocks"] == 0
    assert not report.problems


def test_architect_mode_without_the_repository_rebuilds_the_whole_files(architect):
    _, log, _ = architect
    episodes, _ = _read(log, None)
    first, second = episodes[:2]
    assert [(e.path, e.tool, e.status) for e in first.edits] == [
        ("app.py", "whole", "applied"),
        ("README.md", "whole", "applied"),
    ]
    assert first.final.files == {"app.py": APP1, "README.md": README1}  # ```` kept the inner ``` lines
    assert second.final.files == {"lib/util.py": UTIL1}  # the path line inside the ~~~ fence is no content
    for ep in (first, second):
        assert apply_unified_diff(ep.repo.base_files, ep.final.diff) == {
            **ep.repo.base_files,
            **ep.final.files,
        }


def test_the_user_declining_the_architects_plan_is_feedback_on_the_same_task(architect):
    repo, log, _ = architect
    second = _read(log, repo)[0][1]
    assert [t.user for t in second.turns] == ["now a shout helper", "put it in lib/util.py instead"]
    assert [f.kind for t in second.turns for f in t.feedback] == ["plan_rejected"]


# ------------------------------------------------------------------------------ one reply, each format

FENCES = [("```", "```"), ("````", "````"), ("~~~", "~~~"), ("<source>", "</source>"), ("<code>", "</code>")]


@pytest.mark.parametrize(("open_", "close"), FENCES)
def test_whole_listing_in_every_fence(open_, close):
    reply = f"Here it is:\n\napp.py\n{open_}python\n{APP1}{close}\n"
    assert [(b.path, b.replace) for b in reply_blocks(reply, "whole")] == [("app.py", APP1)]
    assert [(b.path, b.replace) for b in reply_blocks(reply, "editor-whole")] == [("app.py", APP1)]


@pytest.mark.parametrize(("open_", "close"), FENCES)
def test_search_replace_in_every_fence_and_the_fenced_variant(open_, close):
    block = '<<<<<<< SEARCH\n    return "hi"\n=======\n    return "hello"\n>>>>>>> REPLACE\n'
    diff = f"app.py\n{open_}python\n{block}{close}\n"  # diff, editor-diff
    fenced = f"{open_}python\napp.py\n{block}{close}\n"  # diff-fenced, editor-diff-fenced
    for fmt, reply in (("diff", diff), ("editor-diff", diff), ("diff-fenced", fenced)):
        (b,) = reply_blocks(reply, fmt)
        assert (b.path, b.search, b.replace) == ("app.py", '    return "hi"\n', '    return "hello"\n'), fmt


@pytest.mark.parametrize(("open_", "close"), FENCES)
def test_udiff_in_every_fence(open_, close):
    reply = f'{open_}diff\n--- app.py\n+++ app.py\n@@ ... @@\n def greet():\n-    return "hi"\n+    return "hey"\n{close}\n'
    (b,) = reply_blocks(reply, "udiff")
    assert (b.path, b.search, b.replace) == ("app.py", APP0, APP0.replace("hi", "hey"))


def test_a_path_on_the_fence_line_and_a_fence_inside_a_listing():
    assert [(x.path, x.content) for x in whole_listings("```python lib/a.py\nz = 1\n```\n")] == [
        ("lib/a.py", "z = 1\n")
    ]
    text = "README.md\n````\n# T\n```sh\nmake\n```\n````\n"
    assert [(x.path, x.content) for x in whole_listings(text)] == [("README.md", "# T\n```sh\nmake\n```\n")]
    assert name_above(["**app.py**", "<source>python", "<<<<<<< SEARCH"], 2) == "app.py"
