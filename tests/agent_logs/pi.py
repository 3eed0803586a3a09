"""A writer of pi sessions (v3 JSONL tree) and of pi's numbered display diff."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

from agent_logs.common import split_diff

# -------------------------------------------------------------------------------------------- pi


class PiSession:
    """One pi session (v3): a header and entries in a tree by id/parentId."""

    def __init__(self, cwd: str = "/work/app", session: str = "5f0e2c1a-pi", parent: str | None = None):
        self.cwd, self.session = cwd, session
        self.files: dict[str, str | None] = {}
        head = {
            "type": "session",
            "version": 3,
            "id": session,
            "timestamp": "2026-07-09T21:27:45.067Z",
            "cwd": cwd,
        }
        if parent:
            head["parentSession"] = parent
        self.lines: list[dict] = [head]
        self.leaf: str | None = None
        self.n = 0

    def entry(self, t: str, **kw) -> str:
        self.n += 1
        eid = f"{self.session[:2]}{self.n:06x}"
        self.lines.append(
            {
                "type": t,
                "id": eid,
                "parentId": self.leaf,
                "timestamp": f"2026-07-09T21:{self.n // 60:02d}:{self.n % 60:02d}.000Z",
                **kw,
            }
        )
        self.leaf = eid
        return eid

    def user(self, text: str) -> str:
        return self.entry(
            "message",
            message={"role": "user", "content": [{"type": "text", "text": text}], "timestamp": 1783632479733},
        )

    def assistant(
        self, text: str = "", calls: list[tuple[str, str, dict]] = (), stop: str = "toolUse"
    ) -> str:
        content: list[dict] = [{"type": "text", "text": text}] if text else []
        content += [
            {"type": "toolCall", "id": cid, "name": name, "arguments": args} for cid, name, args in calls
        ]
        msg = {
            "role": "assistant",
            "content": content,
            "api": "anthropic-messages",
            "provider": "anthropic",
            "model": "claude-sonnet-4-5",
            "stopReason": stop if calls or stop != "toolUse" else "stop",
            "timestamp": 1,
        }
        return self.entry("message", message=msg)

    def result(self, cid: str, name: str, text: str, error: bool = False, details: dict | None = None) -> str:
        msg = {
            "role": "toolResult",
            "toolCallId": cid,
            "toolName": name,
            "content": [{"type": "text", "text": text}],
            "isError": error,
            "timestamp": 2,
        }
        if details is not None:
            msg["details"] = details
        return self.entry("message", message=msg)

    def read(self, rel: str) -> None:
        cid = f"call-{self.n}"
        self.assistant(calls=[(cid, "read", {"path": rel})])
        self.result(cid, "read", self.files[rel] or "")

    def edit(self, rel: str, old: str, new: str, outcome: str = "ok", patch: bool = True) -> str:
        cid = f"call-{self.n}"
        self.assistant(calls=[(cid, "edit", {"path": rel, "edits": [{"oldText": old, "newText": new}]})])
        if outcome == "ok":
            before = self.files.get(rel) or ""
            after = before.replace(old, new, 1)
            self.files[rel] = after
            details = {"diff": pi_display_diff(before, after)}
            if patch:
                details["patch"] = split_diff("/" + rel, before, after)
            self.result(cid, "edit", f"Successfully replaced 1 block(s) in {rel}.", details=details)
        elif outcome == "blocked":
            self.result(cid, "edit", "Blocked by user: do not touch the config", error=True)
        elif outcome == "aborted":
            self.result(cid, "edit", "Operation aborted", error=True)
        elif outcome == "failed":
            self.result(
                cid,
                "edit",
                f"Could not find the exact text in {rel}. The old text must match exactly.",
                error=True,
            )
        return cid

    def write(self, rel: str, content: str) -> None:
        cid = f"call-{self.n}"
        self.assistant(calls=[(cid, "write", {"path": rel, "content": content})])
        self.files[rel] = content
        self.result(cid, "write", f"Successfully wrote {len(content)} bytes to {rel}")

    def branch(self, to: str | None) -> None:
        """/tree: the next entry continues from `to` (None: from the root)."""
        self.leaf = to

    def dump(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.lines))
        return path


def pi_display_diff(before: str, after: str, context: int = 4) -> str:
    """pi's numbered display diff (`edit-diff.ts generateDiffString`): `+NN line`, `-NN line`, ` NN line`,
    with `...` between far-apart changes."""
    a, b = before.split("\n"), after.split("\n")
    if a and a[-1] == "":
        a.pop()
    if b and b[-1] == "":
        b.pop()
    width = len(str(max(len(a), len(b))))
    out = []
    for group in difflib.SequenceMatcher(None, a, b).get_grouped_opcodes(context):
        if out:
            out.append(f" {'':>{width}} ...")
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                out += [f" {i + 1:>{width}} {a[i]}" for i in range(i1, i2)]
                continue
            out += [f"-{i + 1:>{width}} {a[i]}" for i in range(i1, i2)]
            out += [f"+{j + 1:>{width}} {b[j]}" for j in range(j1, j2)]
    return "\n".join(out)
