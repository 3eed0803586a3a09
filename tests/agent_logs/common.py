"""File contents and diffs the writers share."""

from __future__ import annotations

import difflib

APP = "import sys\n\n\ndef main():\n    print('start')\n    return 0\n"
UTIL = "def add(a, b):\n    return a + b\n\n\ndef sub(a, b):\n    return a - b\n"
DENIED = "[Operation Cancelled] Reason: User denied execution."
CANCELLED = "[Operation Cancelled] Reason: User cancelled the operation."


def split_diff(path: str, before: str | None, after: str, n: int = 3) -> str:
    """A git diff as Copilot and Gemini write it: files split on "\\n" (a final newline shows as an empty
    last line), `n` lines of context."""
    a = before.split("\n") if before is not None else []
    lines = difflib.unified_diff(a, after.split("\n"), lineterm="", n=n)
    body = [ln for ln in lines if not ln.startswith(("---", "+++"))]
    src = "/dev/null" if before is None else f"a{path}"
    return (
        "\n".join(
            [
                f"diff --git a{path} b{path}",
                "index 0000000..0000000 100644",
                f"--- {src}",
                f"+++ b{path}",
                *body,
            ]
        )
        + "\n"
    )


def view_diff(path: str, text: str) -> str:
    """How Copilot logs a `view` of a whole file: every line as context of a diff against itself."""
    lines = text.split("\n")
    head = [f"diff --git a{path} b{path}", "index 0000000..0000000 100644", f"--- a{path}", f"+++ b{path}"]
    return "\n".join([*head, f"@@ -1,{len(lines)} +1,{len(lines)} @@", *(" " + ln for ln in lines)]) + "\n"
