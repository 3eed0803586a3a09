"""The prompt of a task: the answer format, the user's request and the base content of the task's files,
trimmed around the regions that matter when the files do not fit the token budget (the trimming is said).

    messages, trimmed = build_prompt(request, base_files, prompt_regions(base_files, golds, negatives), settings)

Pure Python; no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from golddiff.diffs import PatchError, line_diff, normalize_text, parse_unified_diff, split_lines

if TYPE_CHECKING:
    from golddiff.tasks.model import Gold, Negative, TaskSettings

SYSTEM_PROMPT = """\
You are an expert software engineer. You make the change the user asks for by answering with \
SEARCH/REPLACE blocks.

Answer format:
1. You may reason first, in plain text. Only the blocks are applied.
2. Then write one block per change. Each block is: the file's path alone on a line, then
<<<<<<< SEARCH
the exact lines to replace, copied from the file (indentation included)
=======
the lines that replace them
>>>>>>> REPLACE

Rules:
- The line right above `<<<<<<< SEARCH` is the path, exactly as the request shows it (a ``` fence line \
may sit between the path and the block).
- SEARCH must match whole lines of the current file; its first match is replaced. Include just enough \
lines to make it unique. Blocks apply in order, each seeing the changes before it.
- To create a file, leave SEARCH empty; REPLACE is the whole new file. To delete lines, leave REPLACE empty.
- Change only the files the request shows. Markers are exactly seven characters; a malformed block, a \
SEARCH that does not match, or any other path fails the whole answer.

Example:
The loop starts at 1, so the first item is skipped; start at 0.

src/count.py
<<<<<<< SEARCH
    for i in range(1, len(items)):
=======
    for i in range(len(items)):
>>>>>>> REPLACE
"""

OMITTED = "⋯ {n} lines omitted ⋯\n"


def changed_ranges(before: str | None, after: str | None) -> list[tuple[int, int]]:
    """Base line ranges [start, end) that change from before to after (an insertion is one line)."""
    return [(i1, max(i2, i1 + 1)) for i1, i2, _, _ in line_diff(split_lines(before), split_lines(after))]


def _fence(content: str) -> str:
    longest = max((len(ln) - len(ln.lstrip("`")) for ln in content.split("\n")), default=0)
    return "`" * max(3, longest + 1)


def _excerpt(lines: list[str], windows: list[tuple[int, int]]) -> str:
    out, pos = [], 0
    for s, e in windows:
        if s > pos:
            out.append(OMITTED.format(n=s - pos))
        out.extend(lines[s:e])
        pos = e
    if pos < len(lines):
        out.append(OMITTED.format(n=len(lines) - pos))
    text = "".join(out)
    return text if text.endswith("\n") else text + "\n"


def _windows(ranges: list[tuple[int, int]], n_lines: int, around: int, cap: int) -> list[tuple[int, int]]:
    """Merged windows of `around` lines each side of each range, each at most `cap` lines long."""
    merged: list[tuple[int, int]] = []
    for s, e in sorted(ranges):
        s, e = max(0, s - around), min(n_lines, e + around)
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return [(s, min(e, s + cap)) for s, e in merged]


def _file_section(path: str, content: str | None, windows: list[tuple[int, int]] | None) -> str:
    if content is None:
        return f"{path}\n(this file does not exist yet; you may create it)\n"
    body = normalize_text(content) if windows is None else _excerpt(split_lines(content), windows)
    fence = _fence(body)
    return f"{path}\n{fence}\n{body}{fence}\n"


def _files_text(
    base: Mapping[str, str | None], regions: Mapping[str, list[tuple[int, int]]], budget: int
) -> tuple[str, bool]:
    """The files section within `budget` characters: whole files, else windows as wide as fit."""
    paths = sorted(base)
    full = "\n".join(_file_section(p, base[p], None) for p in paths)
    if len(full) <= budget:
        return full, False
    lines = {p: split_lines(base[p]) for p in paths}

    def render(around: int, cap: int) -> str:
        parts = []
        for p in paths:
            wins = None if base[p] is None else _windows(regions.get(p, []), len(lines[p]), around, cap)
            parts.append(_file_section(p, base[p], wins))
        return "\n".join(parts)

    longest = max((len(v) for v in lines.values()), default=0)
    fits = lambda around, cap: len(render(around, cap)) <= budget  # noqa: E731
    if fits(0, longest):
        around = _largest(lambda k: fits(k, longest), longest)
        return render(around, longest), True
    cap = _largest(lambda k: fits(0, k), longest)
    return render(0, cap), True


def _largest(ok, hi: int) -> int:
    """The largest k in [0, hi] with ok(k), for ok monotone (true up to a point); 0 if none."""
    lo = 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


def _trim_note(trimmed: bool, tokens: int) -> str:
    if not trimmed:
        return "Files (the current content of every file you may change; all are shown in full):"
    return (
        f"Files (the current content of every file you may change). They do not fit this prompt's budget "
        f"of about {tokens} tokens, so they are trimmed: only the lines around the places that matter are "
        f"shown, and a line `{OMITTED.format(n='N').strip()}` stands for each cut. Copy SEARCH text only "
        "from the lines shown."
    )


def build_prompt(
    request: str,
    base: Mapping[str, str | None],
    regions: Mapping[str, list[tuple[int, int]]],
    settings: TaskSettings,
) -> tuple[list[dict[str, str]], bool]:
    """The chat messages of a task, and whether anything was trimmed to fit the token budget."""
    budget = int(settings.max_prompt_tokens * settings.chars_per_token) - len(SYSTEM_PROMPT) - 600
    trimmed = False
    if len(request) > budget // 2:
        cut = len(request) - budget // 2
        request, trimmed = request[: budget // 2] + f"\n[... {cut} characters of the request cut ...]", True
    files, files_trimmed = _files_text(base, regions, budget - len(request))
    note = _trim_note(files_trimmed, settings.max_prompt_tokens)
    user = f"{request.strip()}\n\n{note}\n\n{files}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}], (
        trimmed or files_trimmed
    )


def prompt_regions(
    base: Mapping[str, str | None], golds: list[Gold], negatives: list[Negative]
) -> dict[str, list[tuple[int, int]]]:
    """Per task file, the base line ranges a gold or a rejected attempt changes: what a trimmed prompt shows."""
    regions: dict[str, list[tuple[int, int]]] = {p: [] for p in base}
    for g in golds:
        for p in base:
            regions[p] += changed_ranges(base[p], g.files.get(p, base[p]))
    for n in negatives:
        if n.files is not None:
            regions[n.path] += changed_ranges(base[n.path], n.files[n.path])
        else:
            try:
                hunks = [h for fp in parse_unified_diff(n.diff) for h in fp.hunks]
            except PatchError:
                hunks = []
            regions[n.path] += [(h.old_start - 1, h.old_start - 1 + max(h.old_len, 1)) for h in hunks]
    return regions
