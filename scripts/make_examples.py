"""Write the example session logs shipped in golddiff/examples/ (run again to regenerate them).

Two realistic sessions on small projects, in the real on-disk formats:
- Claude Code 2.0.x (`claude_code/-home-dev-shop/<session>.jsonl`): a request, a rejected Edit with the
  user's reason, the corrected edits, a rejected Bash call, an interrupt, a queued message, a `/clear`
  and a second task.
- Codex CLI (`codex/2025/11/20/rollout-...jsonl`): session_meta with the base commit, apply_patch as a
  custom tool call, as argv and as a heredoc, a patch that fails to apply, an aborted turn.

    .venv/bin/python scripts/make_examples.py
"""

from __future__ import annotations

import json
from pathlib import Path

from golddiff.traces.claude_code.patch import structured_patch

OUT = Path(__file__).resolve().parents[1] / "golddiff" / "examples"
REJECT = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
    "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
    "tell you how to proceed."
)
CANCEL = (
    "The user doesn't want to take this action right now. STOP what you are doing and wait for the user to "
    "tell you how to proceed."
)
CWD = "/home/dev/shop"
STOCK = '''"""Stock levels for a small shop."""


class Stock:
    def __init__(self):
        self.items = {}

    def add(self, name, qty):
        self.items[name] = self.items.get(name, 0) + qty

    def remove(self, name, qty):
        self.items[name] = self.items[name] - qty

    def level(self, name):
        return self.items.get(name, 0)
'''


class ClaudeSession:
    def __init__(self, session_id: str):
        self.session_id, self.parent, self.n, self.lines = session_id, None, 0, []
        self.files: dict[str, str] = {}

    def _rec(self, kind: str, **extra) -> str:
        self.n += 1
        uid = f"{self.session_id[:8]}-0000-4000-8000-{self.n:012d}"
        rec = {
            "parentUuid": self.parent,
            "isSidechain": False,
            "userType": "external",
            "cwd": CWD,
            "sessionId": self.session_id,
            "version": "2.0.42",
            "gitBranch": "main",
            "type": kind,
            "uuid": uid,
            "timestamp": f"2025-11-20T10:{self.n // 60:02d}:{self.n % 60:02d}.000Z",
            **extra,
        }
        self.parent = uid
        self.lines.append(json.dumps(rec))
        return uid

    def user(self, content) -> None:
        self._rec("user", message={"role": "user", "content": content})

    def say(self, text: str, thinking: str | None = None) -> None:
        blocks = ([{"type": "thinking", "thinking": thinking, "signature": "sig"}] if thinking else []) + [
            {"type": "text", "text": text}
        ]
        self._rec(
            "assistant",
            message={
                "id": f"msg_{self.n:04d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": blocks,
            },
        )

    def call(self, name: str, inp: dict, output: str, result=None, is_error: bool = False) -> None:
        call_id = f"toolu_{self.session_id[:4]}{self.n:04d}"
        self._rec(
            "assistant",
            message={
                "id": f"msg_{self.n:04d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "content": [{"type": "tool_use", "id": call_id, "name": name, "input": inp}],
            },
        )
        block = {
            "tool_use_id": call_id,
            "type": "tool_result",
            "content": output,
            **({"is_error": True} if is_error else {}),
        }
        self._rec(
            "user",
            message={"role": "user", "content": [block]},
            **({"toolUseResult": result} if result is not None else {}),
        )

    def read(self, rel: str) -> None:
        text = self.files[rel]
        numbered = "".join(f"{i + 1:6d}\u2192{ln}\n" for i, ln in enumerate(text.splitlines()))
        self.call(
            "Read",
            {"file_path": f"{CWD}/{rel}"},
            numbered,
            {"type": "text", "file": {"filePath": f"{CWD}/{rel}", "content": text}},
        )

    def edit(self, rel: str, old: str, new: str, reject: str | None = None) -> None:
        path, before = f"{CWD}/{rel}", self.files[rel]
        inp = {"file_path": path, "old_string": old, "new_string": new}
        if reject is not None:  # the 2.0.x wording of a rejection with the user's reason
            cut = REJECT.index(" STOP")
            text = REJECT[:cut] + f" The user provided the following reason for the rejection:  {reject}"
            self.call("Edit", inp, text, f"Error: {text}", is_error=True)
            return
        after = before.replace(old, new, 1)
        self.files[rel] = after
        self.call(
            "Edit",
            inp,
            f"The file {path} has been updated.",
            {
                "filePath": path,
                "oldString": old,
                "newString": new,
                "originalFile": before,
                "structuredPatch": structured_patch(before, after),
                "userModified": False,
                "replaceAll": False,
            },
        )

    def write(self, rel: str, content: str) -> None:
        path = f"{CWD}/{rel}"
        before = self.files.get(rel)
        self.files[rel] = content
        self.call(
            "Write",
            {"file_path": path, "content": content},
            f"File created successfully at: {path}",
            {
                "type": "create" if before is None else "update",
                "filePath": path,
                "content": content,
                "structuredPatch": structured_patch(before or "", content),
                "originalFile": before,
            },
        )


def claude_example() -> None:
    s = ClaudeSession("5f1c2a9e-3b7d-4c1e-9a2f-6d8e0b4c7a13")
    s.files["shop/stock.py"] = STOCK
    s.user(
        "remove() happily drives stock negative. Make it refuse to take more than we have, with a clear "
        "error, and add a low_stock(threshold) method that lists items at or below the threshold."
    )
    s.say(
        "I'll look at the stock module first.", thinking="The user wants a guard in remove() and a new query."
    )
    s.read("shop/stock.py")
    guard_v1 = (
        "    def remove(self, name, qty):\n        if qty > self.items.get(name, 0):\n"
        '            raise ValueError(f"not enough {name}")\n        self.items[name] = self.items[name] - qty\n'
    )
    s.edit(
        "shop/stock.py",
        "    def remove(self, name, qty):\n        self.items[name] = self.items[name] - qty\n",
        guard_v1,
        reject="Not ValueError: callers catch our own exception. Add an InsufficientStock error "
        "that says how many were asked for and how many we have.",
    )
    s.say("Understood: a dedicated InsufficientStock exception with both numbers.")
    s.edit(
        "shop/stock.py",
        '"""Stock levels for a small shop."""\n\n\nclass Stock:\n',
        '"""Stock levels for a small shop."""\n\n\nclass InsufficientStock(Exception):\n'
        "    def __init__(self, name, wanted, have):\n"
        '        super().__init__(f"cannot remove {wanted} {name}: only {have} in stock")\n'
        "        self.name, self.wanted, self.have = name, wanted, have\n\n\nclass Stock:\n",
    )
    s.edit(
        "shop/stock.py",
        "    def remove(self, name, qty):\n        self.items[name] = self.items[name] - qty\n",
        "    def remove(self, name, qty):\n        have = self.items.get(name, 0)\n        if qty > have:\n"
        "            raise InsufficientStock(name, qty, have)\n        self.items[name] = have - qty\n",
    )
    s.edit(
        "shop/stock.py",
        "    def level(self, name):\n        return self.items.get(name, 0)\n",
        "    def level(self, name):\n        return self.items.get(name, 0)\n\n"
        "    def low_stock(self, threshold):\n        return sorted(n for n, q in self.items.items() if q <= threshold)\n",
    )
    s.write(
        "tests/test_stock.py",
        "import pytest\n\nfrom shop.stock import InsufficientStock, Stock\n\n\n"
        'def test_remove_refuses_more_than_we_have():\n    s = Stock()\n    s.add("pear", 2)\n'
        '    with pytest.raises(InsufficientStock):\n        s.remove("pear", 3)\n    assert s.level("pear") == 2\n\n\n'
        'def test_low_stock_lists_items_at_or_below_threshold():\n    s = Stock()\n    s.add("pear", 2)\n'
        '    s.add("fig", 9)\n    assert s.low_stock(2) == ["pear"]\n',
    )
    s.call(
        "Bash",
        {"command": "python -m pytest", "description": "Run the whole test suite"},
        REJECT
        + "\n\nTo tell you how to proceed, the user said:\nonly run tests/test_stock.py, the rest needs a database",
        is_error=True,
    )
    s.call("Bash", {"command": "python -m pytest tests/test_stock.py -q"}, "..\n2 passed in 0.02s")
    s._rec("queue-operation", operation="enqueue", content="and mention it in the changelog")
    s.call(
        "Edit",
        {"file_path": f"{CWD}/README.md", "old_string": "# shop", "new_string": "# shop\n\nStock guard."},
        CANCEL,
        CANCEL,
        is_error=True,
    )
    s.user([{"type": "text", "text": "[Request interrupted by user for tool use]"}])
    s.user("leave the README alone; the changelog can wait too. Thanks, this is good.")
    s.say(
        "Leaving the README and changelog untouched. remove() now raises InsufficientStock and low_stock() is in."
    )
    s.user(
        "<command-name>/clear</command-name>\n<command-message>clear</command-message>\n<command-args></command-args>"
    )
    s.user("give Stock a __repr__ that shows the number of distinct items")
    s.read("shop/stock.py")
    s.edit(
        "shop/stock.py",
        "    def __init__(self):\n        self.items = {}\n",
        "    def __init__(self):\n        self.items = {}\n\n    def __repr__(self):\n"
        '        return f"Stock({len(self.items)} items)"\n',
    )
    s.say("Added __repr__.")
    out = OUT / "claude_code" / "-home-dev-shop"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{s.session_id}.jsonl").write_text("\n".join(s.lines) + "\n")


WORDS = """import re


def count_words(text):
    return len(text.split())


def top_words(text, n=3):
    counts = {}
    for word in text.split():
        counts[word] = counts.get(word, 0) + 1
    return sorted(counts, key=counts.get, reverse=True)[:n]
"""


def codex_example() -> None:
    lines: list[str] = []
    t = [0]

    def rec(kind: str, payload: dict) -> None:
        t[0] += 1
        lines.append(
            json.dumps({"timestamp": f"2025-11-20T14:00:{t[0]:02d}.000Z", "type": kind, "payload": payload})
        )

    def msg(role: str, text: str) -> None:
        kind = "input_text" if role == "user" else "output_text"
        rec("response_item", {"type": "message", "role": role, "content": [{"type": kind, "text": text}]})

    def call(name: str, args: dict, output: str, code: int = 0) -> None:
        cid = f"call_{t[0]:03d}"
        rec(
            "response_item",
            {"type": "function_call", "name": name, "arguments": json.dumps(args), "call_id": cid},
        )
        rec(
            "response_item",
            {
                "type": "function_call_output",
                "call_id": cid,
                "output": json.dumps(
                    {"output": output, "metadata": {"exit_code": code, "duration_seconds": 0.1}}
                ),
            },
        )

    rec(
        "session_meta",
        {
            "id": "0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b",
            "timestamp": "2025-11-20T14:00:00.000Z",
            "cwd": "/home/dev/textstats",
            "originator": "codex_cli_rs",
            "cli_version": "0.58.0",
            "instructions": None,
            "git": {
                "commit_hash": "4e1f0c2b9a8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f",
                "branch": "main",
                "repository_url": "git@example.com:dev/textstats.git",
            },
        },
    )
    msg(
        "user",
        "<environment_context>\n  <cwd>/home/dev/textstats</cwd>\n  <approval_policy>on-request</approval_policy>\n</environment_context>",
    )
    rec(
        "turn_context",
        {"cwd": "/home/dev/textstats", "approval_policy": "on-request", "model": "gpt-5-codex"},
    )
    msg(
        "user",
        "count_words and top_words should ignore punctuation and case: 'Hello, hello!' is two of the same word.",
    )
    rec(
        "response_item",
        {
            "type": "reasoning",
            "summary": [{"type": "summary_text", "text": "**Normalising words** with one regex."}],
            "content": None,
        },
    )
    call(
        "shell",
        {"command": ["bash", "-lc", "cat textstats/words.py"], "workdir": "/home/dev/textstats"},
        WORDS,
    )
    patch1 = (
        '*** Begin Patch\n*** Update File: textstats/words.py\n@@\n import re\n+\n+WORD = re.compile(r"[a-z0-9\']+")\n'
        "+\n+\n+def words(text):\n+    return WORD.findall(text.lower())\n \n \n def count_words(text):\n"
        "-    return len(text.split())\n+    return len(words(text))\n*** End Patch\n"
    )
    rec(
        "response_item",
        {
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "call_p1",
            "name": "apply_patch",
            "input": patch1,
        },
    )
    rec(
        "response_item",
        {
            "type": "custom_tool_call_output",
            "call_id": "call_p1",
            "output": json.dumps(
                {
                    "output": "Success. Updated the following files:\nM textstats/words.py\n",
                    "metadata": {"exit_code": 0},
                }
            ),
        },
    )
    bad = (
        "*** Begin Patch\n*** Update File: textstats/words.py\n@@ def top_words(text, n=3):\n"
        "-    for word in text.split(' '):\n+    for word in words(text):\n*** End Patch\n"
    )
    call(
        "shell",
        {"command": ["apply_patch", bad]},
        "Failed to find expected lines in textstats/words.py:\n    for word in text.split(' '):",
        1,
    )
    patch3 = (
        "*** Begin Patch\n*** Update File: textstats/words.py\n@@ def top_words(text, n=3):\n"
        "     counts = {}\n-    for word in text.split():\n+    for word in words(text):\n*** End Patch\n"
    )
    call(
        "shell",
        {"command": ["bash", "-lc", f"apply_patch <<'EOF'\n{patch3}EOF"]},
        "Success. Updated the following files:\nM textstats/words.py\n",
    )
    call("shell", {"command": ["bash", "-lc", "python -m pytest -q"]}, "...\n3 passed in 0.03s")
    msg("assistant", "Both functions now share a words() helper that lower-cases and strips punctuation.")
    rec("event_msg", {"type": "token_count", "info": None})
    msg("user", "also add a unique_words(text) helper")
    patch4 = (
        "*** Begin Patch\n*** Update File: textstats/words.py\n@@ def count_words(text):\n"
        "     return len(words(text))\n+\n+\n+def unique_words(text):\n+    return sorted(set(words(text)))\n*** End Patch\n"
    )
    rec(
        "response_item",
        {
            "type": "custom_tool_call",
            "status": "completed",
            "call_id": "call_p4",
            "name": "apply_patch",
            "input": patch4,
        },
    )
    rec("event_msg", {"type": "turn_aborted", "reason": "interrupted"})
    msg("user", "<turn_aborted>\nThe user interrupted the previous turn.\n</turn_aborted>")
    msg("user", "never mind the helper, we are done")
    out = OUT / "codex" / "2025" / "11" / "20"
    out.mkdir(parents=True, exist_ok=True)
    (out / "rollout-2025-11-20T14-00-00-0199a1b2-7c3d-7e4f-8a5b-6c7d8e9f0a1b.jsonl").write_text(
        "\n".join(lines) + "\n"
    )


if __name__ == "__main__":
    claude_example()
    codex_example()
    print(f"wrote examples under {OUT}")
