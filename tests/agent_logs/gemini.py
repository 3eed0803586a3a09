"""A writer of Gemini CLI chats: the legacy object and the JSONL record log."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from agent_logs.common import DENIED, split_diff

# ------------------------------------------------------------------------------------ Gemini CLI


class GeminiChat:
    """One Gemini CLI chat; `write_json` (the legacy object) or `write_jsonl` (the record log)."""

    def __init__(
        self,
        root: str = "/work/app",
        session: str = "0ab84937-9fe7-4284-986a-33c832af0b6a",
        kind: str = "main",
    ):
        self.root, self.session, self.kind = root, session, kind
        self.files: dict[str, str | None] = {}
        self.records: list[dict] = []  # message writes, $set and $rewindTo, in order
        self.n = 0

    def _ts(self) -> str:
        self.n += 1
        return f"2026-04-23T12:{self.n // 60:02d}:{self.n % 60:02d}.000Z"

    def _id(self) -> str:
        return f"m{self.n:04d}-{hashlib.sha1(f'{self.session}{self.n}'.encode()).hexdigest()[:8]}"

    def _write(self, msg: dict) -> dict:
        self.records.append(json.loads(json.dumps(msg)))
        self.records.append({"$set": {"lastUpdated": msg["timestamp"]}})
        return msg

    def user(self, text: str, display: str | None = None) -> str:
        msg = {"id": self._id(), "timestamp": self._ts(), "type": "user", "content": [{"text": text}]}
        if display is not None:
            msg["displayContent"] = [{"text": display}]
        return self._write(msg)["id"]

    def info(self, text: str) -> None:
        self._write({"id": self._id(), "timestamp": self._ts(), "type": "info", "content": text})

    def gemini(self, text: str, calls: list[dict] | None = None, thought: str | None = None) -> str:
        msg = {
            "id": self._id(),
            "timestamp": self._ts(),
            "type": "gemini",
            "content": text,
            "model": "gemini-3-flash-preview",
        }
        msg["thoughts"] = (
            [{"subject": "Planning", "description": thought, "timestamp": msg["timestamp"]}]
            if thought
            else []
        )
        msg["tokens"] = {"input": 100, "output": 10, "cached": 0, "thoughts": 0, "tool": 0, "total": 110}
        self._write(msg)
        if calls:  # the recorder writes the message again, whole, once its tool calls complete
            msg["toolCalls"] = calls
            self._write(msg)
        return msg["id"]

    def call(self, name: str, args: dict, output: str, status: str = "success", display: object = "") -> dict:
        cid = f"{name}_{1774499611304 + self.n}_0"
        key = "error" if status in ("error", "cancelled") else "output"
        result = [{"functionResponse": {"id": cid, "name": name, "response": {key: output}}}]
        return {
            "id": cid,
            "name": name,
            "args": args,
            "result": result,
            "status": status,
            "timestamp": self._ts(),
            "resultDisplay": display,
            "displayName": name,
            "description": "",
        }

    def _edit_display(self, rel: str, before: str | None, after: str) -> dict:
        return {
            "fileDiff": split_diff("/" + rel, before, after),
            "fileName": rel.rsplit("/", 1)[-1],
            "filePath": f"{self.root}/{rel}",
            "originalContent": before or "",
            "newContent": after,
            "isNewFile": before is None,
        }

    def write_file(self, rel: str, content: str, status: str = "success", reason: str = DENIED) -> dict:
        args = {"file_path": rel, "content": content}
        if status != "success":
            return self.call("write_file", args, reason if status == "cancelled" else "Error: EACCES", status)
        before = self.files.get(rel)
        self.files[rel] = content
        out = f"Successfully {'overwrote' if before is not None else 'created and wrote to new'} file: {self.root}/{rel}."
        return self.call("write_file", args, out, display=self._edit_display(rel, before, content))

    def replace(self, rel: str, old: str, new: str, status: str = "success", reason: str = DENIED) -> dict:
        args = {"file_path": rel, "old_string": old, "new_string": new, "instruction": f"change {old!r}"}
        if status != "success":
            out = reason if status == "cancelled" else "Failed to edit, could not find the string to replace."
            return self.call("replace", args, out, status)
        before = self.files[rel] or ""
        self.files[rel] = before.replace(old, new, 1)
        out = f"Successfully modified file: {self.root}/{rel} (1 replacements)."
        return self.call("replace", args, out, display=self._edit_display(rel, before, self.files[rel]))

    def read_file(self, rel: str) -> dict:
        return self.call("read_file", {"file_path": rel}, self.files[rel] or "")

    def shell(self, command: str, output: str = "") -> dict:
        return self.call(
            "run_shell_command",
            {"command": command},
            f"Output: {output}",
            display=output,
        ) | {"description": f"{command} [current working directory {self.root}]"}

    def rewind(self, to_id: str) -> None:
        self.records.append({"$rewindTo": to_id})

    def header(self) -> dict:
        return {
            "sessionId": self.session,
            "projectHash": hashlib.sha256(self.root.encode()).hexdigest(),
            "startTime": "2026-04-23T12:00:00.000Z",
            "lastUpdated": self._ts(),
            "kind": self.kind,
        }

    def messages(self) -> list[dict]:
        live: dict[str, dict] = {}
        for rec in self.records:
            if "id" in rec:
                live[rec["id"]] = rec
            elif "$rewindTo" in rec:
                ids = list(live)
                for mid in ids[ids.index(rec["$rewindTo"]) :]:
                    del live[mid]
        return list(live.values())

    def write_json(self, path: Path) -> Path:
        head = self.header()
        head.pop("kind")
        path.write_text(json.dumps({**head, "messages": self.messages()}, ensure_ascii=False, indent=2))
        return path

    def write_jsonl(self, path: Path) -> Path:
        lines = [self.header(), *self.records]
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in lines))
        return path
