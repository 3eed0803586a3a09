"""Every code fence Aider writes, and the file listings and edit-block file names inside a reply.

Aider picks the first fence that no line of the files in the chat starts with (`base_coder.all_fences`):
triple backticks, quadruple backticks, then `<source>`...`</source>`, `<code>`, `<pre>`, `<codeblock>`,
`<sourcecode>`; models also answer with tildes (`~~~`) and add a language tag after any of them
(`<source>python`). A whole-file listing (`whole`, `editor-whole`, architect mode's editor) is a path line
then a fence (`wholefile_prompts`); models also put the path on the fence line (```` ```python app.py ````)
or as the first line inside it. A SEARCH/REPLACE block's file name is the nearest line above its marker
that is not a fence (`editblock_coder.find_filename`; inside the fence in `diff-fenced`).

    listings = whole_listings("app.py\\n<source>python\\nprint(1)\\n</source>\\n")
    assert [(x.path, x.content) for x in listings] == [("app.py", "print(1)\\n")]

Pure string functions, no I/O; used by `aider_log`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

TAG_FENCES = ("source", "code", "pre", "codeblock", "sourcecode")
_MARK_OPEN = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`]*?)\s*$")
_TAG_OPEN = re.compile(r"^\s*<(" + "|".join(TAG_FENCES) + r")>\s*(.*?)\s*$")
_PATHLIKE = re.compile(r"^[\w.@+\-/\\]+$")


@dataclass
class Fence:
    """An opened fence: what closes it, and the text after its opening mark (a language tag, a path)."""

    closes: Callable[[str], bool]
    info: str


def opening(line: str) -> Fence | None:
    """The fence `line` opens, or None."""
    m = _MARK_OPEN.match(line)
    if m:
        char, n = m[1][0], len(m[1])
        closer = re.compile(rf"^ {{0,3}}{re.escape(char)}{{{n},}}\s*$")
        return Fence(lambda s: closer.match(s) is not None, m[2])
    m = _TAG_OPEN.match(line)
    if m:
        end = f"</{m[1]}>"
        return Fence(lambda s: s.strip().startswith(end), m[2])
    return None


def is_fence_line(line: str) -> bool:
    """An opening or closing fence line of any kind."""
    s = line.strip()
    return opening(line) is not None or any(s.startswith(f"</{t}>") for t in TAG_FENCES)


def clean_name(line: str) -> str:
    """A file name as models write it above a block (`**app.py**`, `#### app.py`, `` `app.py`: ``)."""
    name = line.strip().rstrip(":").strip().lstrip("#").strip().strip("`*").strip().rstrip(":")
    return name.replace("\\_", "_")


def path_like(name: str) -> bool:
    """A file path as a name line holds one: no spaces, a dot or a slash (not a bare language tag)."""
    return bool(name) and _PATHLIKE.match(name) is not None and ("." in name or "/" in name)


def name_above(lines: list[str], i: int) -> str | None:
    """The file name of a SEARCH/REPLACE marker at `lines[i]`: the nearest line above it that is neither
    blank nor a fence (at most three lines up, past fences only), or None."""
    j, looked = i - 1, 0
    while j >= 0 and looked < 3:
        line = lines[j]
        if line.strip() and not is_fence_line(line):
            name = clean_name(line)
            return name if path_like(name) else None
        fence = opening(line)
        if fence is not None:
            info_name = _info_path(fence.info)
            if info_name:
                return info_name
        looked += bool(line.strip())
        j -= 1
    return None


@dataclass
class Listing:
    """A whole file written inside a fence; `path` is "" when nothing names it (aider then takes the one
    file in the chat, and its `Applied edit to` line names it)."""

    path: str
    content: str
    line: int  # 0-based line of the opening fence in the reply


def whole_listings(text: str) -> list[Listing]:
    """Every fenced block of a reply, as the whole-file listing the whole formats make of it: aider writes
    each fence of such a reply to a file (see the module docstring for where its name comes from)."""
    lines = text.split("\n")
    out: list[Listing] = []
    i = 0
    while i < len(lines):
        fence = opening(lines[i])
        if fence is None:
            i += 1
            continue
        end = next((j for j in range(i + 1, len(lines)) if fence.closes(lines[j])), len(lines))
        body = lines[i + 1 : end]
        above = clean_name(lines[i - 1]) if i > 0 else ""
        path = above if path_like(above) else _info_path(fence.info)
        first = clean_name(body[0]) if body else ""
        if path_like(first) and (first == path or (not path and len(body) > 1)):
            path, body = first, body[1:]  # the path as the listing's first line
        out.append(Listing(path, "".join(ln + "\n" for ln in body), i))
        i = end + 1
    return out


def _info_path(info: str) -> str:
    """A path written on the fence line after the language tag (```` ```python app.py ````, ``py:app.py``)."""
    for word in reversed(re.split(r"[\s:]+", info.strip())):
        if path_like(word):
            return word
    return ""
