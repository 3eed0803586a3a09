"""Diffs and patches, in memory: unified diff, Codex `apply_patch` (V4A) and SEARCH/REPLACE blocks.

Everything here works on a mapping `path -> content` (None = the file does not exist) and returns a
new mapping; nothing touches the disk. Paths are checked: absolute paths, `..` and (when a set of
allowed paths is given) paths outside it are refused with `PatchError`.

    files = {"a.py": "x = 1\\n"}
    diff = unified_diff("a.py", files["a.py"], "x = 2\\n")
    assert apply_unified_diff(files, diff) == {"a.py": "x = 2\\n"}
"""

from golddiff.diffs.apply_patch import PatchOp, apply_patch, apply_patch_ops, parse_apply_patch
from golddiff.diffs.core import Files, PatchError, check_path
from golddiff.diffs.search_replace import (
    SearchReplace,
    answer_from_diff,
    apply_answer,
    apply_search_replace,
    parse_answer,
    parse_search_replace,
    render_search_replace,
)
from golddiff.diffs.unified import (
    FilePatch,
    Hunk,
    apply_hunks,
    apply_unified_diff,
    bare_diff,
    changed_paths,
    files_diff,
    line_diff,
    normalize_text,
    parse_unified_diff,
    shift_hunks,
    split_lines,
    unified_diff,
)

__all__ = [
    "FilePatch",
    "Files",
    "Hunk",
    "PatchError",
    "PatchOp",
    "SearchReplace",
    "answer_from_diff",
    "apply_answer",
    "apply_hunks",
    "apply_patch",
    "apply_patch_ops",
    "apply_search_replace",
    "apply_unified_diff",
    "bare_diff",
    "changed_paths",
    "check_path",
    "files_diff",
    "line_diff",
    "normalize_text",
    "parse_answer",
    "parse_apply_patch",
    "parse_search_replace",
    "parse_unified_diff",
    "render_search_replace",
    "shift_hunks",
    "split_lines",
    "unified_diff",
]
