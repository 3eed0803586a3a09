"""Generated corpora of Cursor, OpenCode and Cline / Roo Code logs for `bench/ingest.py --format ...`.

Each corpus is real code from Python's standard library as file contents, read by the agent, then edited
(most edits applied, some rejected with the user's words, some cancelled), written in the format's own
shape:
  cursor       a global `state.vscdb` with agent composers split over `composerData:*` / `bubbleId:*`
               keys (tool calls with `originalFileStates`), plus workspace databases of 0.42-style inline
               composers with suggested code blocks;
  opencode     OpenCode 1.x storage folders (`storage/session|message|part/`), edit tool parts with
               `filediff` before/after and `summary.diffs`;
  opencode-db  the same sessions in OpenCode 2.x's SQLite database;
  cline        Cline task folders (`api_conversation_history.json` with XML tool calls and results,
               `ui_messages.json`), and Roo Code ones with native tool calls.
Each comes with its baseline: a script that opens every file of the corpus and parses every JSON value
in it (the floor for any reader of the format). Used by bench/ingest.py (its CORPORA); not run on its own.
"""

from __future__ import annotations

import json
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

from agent_corpus import pick_edit, stdlib_files  # real code to edit, and one plausible edit of it


def _fill(root: Path, mb: int, write_one: Callable[[random.Random, int], int], seed: int) -> None:
    rng, total, i, t0 = random.Random(seed), 0, 0, time.time()
    while total < mb * 1_000_000:
        total += write_one(rng, i)
        i += 1
        if i % 50 == 0:
            print(
                f"  generating: {total / 1e6:.0f}/{mb} MB, {i} sessions ({time.time() - t0:.0f} s)",
                file=sys.stderr,
            )


def _cached(root: Path, name: str, mb: int, seed: int, build: Callable[[Path], None]) -> Path:
    corpus = root / f"{name}_{mb}mb_s{seed}"
    if not (corpus / ".complete").exists():
        corpus.mkdir(parents=True, exist_ok=True)
        build(corpus)
        (corpus / ".complete").write_text("ok")
    return corpus


# ------------------------------------------------------------------------------------------- Cursor

KV = "CREATE TABLE IF NOT EXISTS {} (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)"


def _cursor_agent(rng: random.Random, i: int, con: sqlite3.Connection) -> int:
    cid, root = f"c{i:06d}", f"/home/dev/p{i % 30}"
    files = stdlib_files(rng, rng.randint(2, 4))
    bubbles = [{"type": 1, "bubbleId": "u0", "text": f"harden the error handling in {files[0][0]}"}]
    original, state = {}, {}
    for name, content in files:
        original[f"file://{root}/{name}"] = {"content": content, "isNewlyCreated": False}
        state[name] = content
        bubbles.append(
            {
                "type": 2,
                "bubbleId": f"r{len(bubbles)}",
                "text": "",
                "toolFormerData": {
                    "name": "read_file",
                    "status": "completed",
                    "params": json.dumps({"target_file": name}),
                    "result": json.dumps({"contents": content}),
                },
            }
        )
    for _ in range(rng.randint(4, 12)):
        name = rng.choice(list(state))
        change = pick_edit(rng, state[name])
        if change is None:
            continue
        old, new = change
        decision = "rejected" if rng.random() < 0.08 else "accepted"
        status = "cancelled" if rng.random() < 0.03 else "completed"
        params = {"file_path": name, "old_string": old, "new_string": new}
        bubbles.append(
            {
                "type": 2,
                "bubbleId": f"e{len(bubbles)}",
                "text": "Editing.",
                "toolFormerData": {
                    "name": "search_replace",
                    "status": status,
                    "params": json.dumps(params),
                    "result": json.dumps({"diff": {}}),
                    "userDecision": decision,
                },
            }
        )
        if decision == "accepted" and status == "completed":
            state[name] = state[name].replace(old, new, 1)
        if rng.random() < 0.1:
            bubbles.append(
                {"type": 1, "bubbleId": f"u{len(bubbles)}", "text": "keep going, but leave the tests alone"}
            )
    composer = {
        "_v": 10,
        "composerId": cid,
        "createdAt": 1_748_000_000_000 + i,
        "status": "completed",
        "fullConversationHeadersOnly": [{"bubbleId": b["bubbleId"], "type": b["type"]} for b in bubbles],
        "originalFileStates": original,
        "codeBlockData": {},
    }
    rows = [(f"composerData:{cid}", json.dumps(composer))]
    rows += [(f"bubbleId:{cid}:{b['bubbleId']}", json.dumps(b)) for b in bubbles]
    con.executemany("INSERT INTO cursorDiskKV VALUES (?, ?)", rows)
    return sum(len(k) + len(v) for k, v in rows)


def _cursor_legacy(rng: random.Random, i: int) -> dict:
    files = stdlib_files(rng, rng.randint(1, 3))
    conversation, data, answers = [{"type": 1, "bubbleId": "u0", "text": "clean these up"}], {}, []
    for k, (name, content) in enumerate(files):
        change = pick_edit(rng, content)
        new = content.replace(*change, 1) if change else content + "\n# reviewed\n"
        status = rng.choice(["accepted", "accepted", "accepted", "rejected", "completed"])
        uri = {"fsPath": f"/home/dev/ws{i % 9}/{name}", "path": f"/home/dev/ws{i % 9}/{name}"}
        data[f"file:///home/dev/ws{i % 9}/{name}"] = [
            {"uri": uri, "version": 0, "content": new, "status": status}
        ]
        conversation.append(
            {
                "type": 2,
                "bubbleId": f"a{k}",
                "text": f"```py:{name}\n{new}```",
                "codeBlocks": [{"uri": uri, "version": 0, "codeBlockIdx": 0}],
            }
        )
        answers.append({"filePath": name, "userResponseType": 1 if status == "accepted" else 2})
    return {
        "composerId": f"w{i:06d}",
        "createdAt": i,
        "conversation": conversation,
        "codeBlockData": data,
        "userResponsesToSuggestedCodeBlocks": answers,
    }


def make_cursor(root: Path, mb: int, seed: int = 0) -> Path:
    def build(corpus: Path) -> None:
        user = corpus / "User"
        (user / "globalStorage").mkdir(parents=True)
        con = sqlite3.connect(user / "globalStorage" / "state.vscdb")
        con.execute(KV.format("ItemTable"))
        con.execute(KV.format("cursorDiskKV"))
        legacy: dict[int, list] = {}

        def one(rng: random.Random, i: int) -> int:
            if i % 5 == 4:  # a fifth of the composers: 0.42-style, in workspace databases
                c = _cursor_legacy(rng, i)
                legacy.setdefault(i % 9, []).append(c)
                return len(json.dumps(c))
            return _cursor_agent(rng, i, con)

        _fill(corpus, mb, one, seed)
        con.commit()
        con.close()
        for ws, composers in legacy.items():
            folder = user / "workspaceStorage" / f"ws{ws:04d}"
            folder.mkdir(parents=True)
            wcon = sqlite3.connect(folder / "state.vscdb")
            wcon.execute(KV.format("ItemTable"))
            wcon.execute(
                "INSERT INTO ItemTable VALUES (?, ?)",
                ("composer.composerData", json.dumps({"allComposers": composers})),
            )
            wcon.commit()
            wcon.close()
            (folder / "workspace.json").write_text(json.dumps({"folder": f"file:///home/dev/ws{ws}"}))

    return _cached(root, "cursor", mb, seed, build)


# ------------------------------------------------------------------------------------------ OpenCode


def _opencode_session(rng: random.Random, i: int) -> tuple[dict, list[tuple[dict, list[dict]]]]:
    sid, cwd = f"ses_{i:08d}bench", f"/home/dev/p{i % 30}"
    files = stdlib_files(rng, rng.randint(2, 4))
    info = {
        "id": sid,
        "projectID": "p",
        "directory": cwd,
        "title": "bench",
        "version": "1.2.5",
        "time": {"created": i, "updated": i},
    }
    n = [0]

    def pid(prefix: str) -> str:
        n[0] += 1
        return f"{prefix}_{i:08d}{n[0]:05d}"

    state = {name: content for name, content in files}
    diffs, parts = [], []
    for name, content in files:
        numbered = "".join(f"{k}: {ln}\n" for k, ln in enumerate(content.splitlines(), 1))
        out = f"<path>{cwd}/{name}</path>\n<type>file</type>\n<content>{numbered}\n(End of file - total 1 lines)\n</content>"
        parts.append(
            {
                "type": "tool",
                "callID": pid("call"),
                "tool": "read",
                "state": {
                    "status": "completed",
                    "input": {"filePath": f"{cwd}/{name}"},
                    "output": out,
                    "title": name,
                    "metadata": {},
                    "time": {"start": 0, "end": 1},
                },
            }
        )
    for _ in range(rng.randint(4, 12)):
        name = rng.choice(list(state))
        change = pick_edit(rng, state[name])
        if change is None:
            continue
        old, new = change
        inp = {"filePath": f"{cwd}/{name}", "oldString": old, "newString": new}
        if rng.random() < 0.08:
            state_ = {
                "status": "error",
                "input": inp,
                "time": {"start": 0, "end": 1},
                "error": "The user rejected permission to use this specific tool call with the following feedback: not like this",
            }
        else:
            after = state[name].replace(old, new, 1)
            state_ = {
                "status": "completed",
                "input": inp,
                "output": "Edit applied successfully.",
                "title": name,
                "time": {"start": 0, "end": 1},
                "metadata": {"filediff": {"file": f"{cwd}/{name}", "before": state[name], "after": after}},
            }
            state[name] = after
        parts.append({"type": "tool", "callID": pid("call"), "tool": "edit", "state": state_})
    for name, content in files:
        diffs.append({"file": name, "before": content, "after": state[name], "status": "modified"})
    umid, amid = pid("msg"), pid("msg")
    user = (
        {"id": umid, "sessionID": sid, "role": "user", "time": {"created": i}, "summary": {"diffs": diffs}},
        [
            {
                "id": pid("prt"),
                "sessionID": sid,
                "messageID": umid,
                "type": "text",
                "text": "harden the error handling",
            }
        ],
    )
    body = [
        {"type": "step-start"},
        *parts,
        {"type": "text", "text": "Done."},
        {"type": "step-finish", "reason": "stop"},
    ]
    assistant = (
        {"id": amid, "sessionID": sid, "role": "assistant", "parentID": umid, "time": {"created": i}},
        [{**p, "id": pid("prt"), "sessionID": sid, "messageID": amid} for p in body],
    )
    return info, [user, assistant]


def make_opencode(root: Path, mb: int, seed: int = 0) -> Path:
    def build(corpus: Path) -> None:
        storage = corpus / "storage"

        def one(rng: random.Random, i: int) -> int:
            info, messages = _opencode_session(rng, i)
            size = 0
            (storage / "session" / "p").mkdir(parents=True, exist_ok=True)
            f = storage / "session" / "p" / f"{info['id']}.json"
            f.write_text(json.dumps(info, indent=2))
            size += f.stat().st_size
            for m, parts in messages:
                (storage / "message" / info["id"]).mkdir(parents=True, exist_ok=True)
                (storage / "message" / info["id"] / f"{m['id']}.json").write_text(json.dumps(m, indent=2))
                (storage / "part" / m["id"]).mkdir(parents=True, exist_ok=True)
                for p in parts:
                    pf = storage / "part" / m["id"] / f"{p['id']}.json"
                    pf.write_text(json.dumps(p, indent=2))
                    size += pf.stat().st_size
            return size

        _fill(corpus, mb, one, seed)

    return _cached(root, "opencode", mb, seed, build)


def make_opencode_db(root: Path, mb: int, seed: int = 0) -> Path:
    def build(corpus: Path) -> None:
        con = sqlite3.connect(corpus / "opencode.db")
        con.executescript(
            "CREATE TABLE session (id TEXT PRIMARY KEY, project_id TEXT, parent_id TEXT, slug TEXT, directory TEXT,"
            " title TEXT, version TEXT, revert TEXT, summary_diffs TEXT, time_created INTEGER, time_updated INTEGER);"
            "CREATE TABLE message (id TEXT PRIMARY KEY, session_id TEXT, time_created INTEGER, time_updated INTEGER, data TEXT);"
            "CREATE TABLE part (id TEXT PRIMARY KEY, message_id TEXT, session_id TEXT, time_created INTEGER,"
            " time_updated INTEGER, data TEXT);"
            "CREATE INDEX part_session_idx ON part(session_id); CREATE INDEX message_session_idx ON message(session_id);"
        )

        def one(rng: random.Random, i: int) -> int:
            info, messages = _opencode_session(rng, i)
            con.execute(
                "INSERT INTO session (id, project_id, slug, directory, title, version, time_created, time_updated)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (info["id"], "p", "b", info["directory"], "bench", "2.0.0", i, i),
            )
            size = 0
            for m, parts in messages:
                data = json.dumps({k: v for k, v in m.items() if k not in ("id", "sessionID")})
                con.execute("INSERT INTO message VALUES (?,?,?,?,?)", (m["id"], info["id"], i, i, data))
                size += len(data)
                for p in parts:
                    body = json.dumps(
                        {k: v for k, v in p.items() if k not in ("id", "sessionID", "messageID")}
                    )
                    con.execute(
                        "INSERT INTO part VALUES (?,?,?,?,?,?)", (p["id"], m["id"], info["id"], i, i, body)
                    )
                    size += len(body)
            return size

        _fill(corpus, mb, one, seed)
        con.commit()
        con.close()

    return _cached(root, "opencode_db", mb, seed, build)


# -------------------------------------------------------------------------------------------- Cline

ENV = "<environment_details>\n# Current Working Directory ({cwd}) Files\n</environment_details>"


def _cline_task(rng: random.Random, i: int, folder: Path) -> int:
    cwd = f"/home/dev/p{i % 30}"
    env = ENV.format(cwd=cwd)
    files = stdlib_files(rng, rng.randint(2, 4))
    history = [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "<task>\nharden the error handling\n</task>"},
                {"type": "text", "text": env},
            ],
        }
    ]
    ui = [{"ts": 0, "type": "say", "say": "text", "text": "harden the error handling"}]

    def turn(assistant: str, result: str, tool: str, path: str) -> None:
        history.append({"role": "assistant", "content": [{"type": "text", "text": assistant}]})
        history.append(
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"[{tool} for '{path}'] Result:"},
                    {"type": "text", "text": result},
                    {"type": "text", "text": env},
                ],
            }
        )
        ui.append(
            {
                "ts": len(ui),
                "type": "say",
                "say": "api_req_started",
                "text": json.dumps({"request": result[:200]}),
            }
        )

    state = {}
    for name, content in files:
        turn(f"<read_file>\n<path>{name}</path>\n</read_file>", content, "read_file", name)
        state[name] = content
    for _ in range(rng.randint(4, 12)):
        name = rng.choice(list(state))
        change = pick_edit(rng, state[name])
        if change is None:
            continue
        old, new = change
        diff = f"------- SEARCH\n{old}=======\n{new}+++++++ REPLACE"
        call = f"<replace_in_file>\n<path>{name}</path>\n<diff>\n{diff}\n</diff>\n</replace_in_file>"
        if rng.random() < 0.08:
            turn(call, "The user denied this operation.", "replace_in_file", name)
            continue
        state[name] = state[name].replace(old, new, 1)
        saved = (
            f"The content was successfully saved to {name}.\n\nHere is the full, updated content of the file that was saved:"
            f'\n\n<final_file_content path="{name}">\n{state[name]}\n</final_file_content>\n\n'
        )
        turn(call, saved, "replace_in_file", name)
    folder.mkdir(parents=True)
    (folder / "api_conversation_history.json").write_text(json.dumps(history))
    (folder / "ui_messages.json").write_text(json.dumps(ui))
    return sum(f.stat().st_size for f in folder.iterdir())


def make_cline(root: Path, mb: int, seed: int = 0) -> Path:
    def build(corpus: Path) -> None:
        def one(rng: random.Random, i: int) -> int:
            ext = "rooveterinaryinc.roo-cline" if i % 4 == 3 else "saoudrizwan.claude-dev"
            return _cline_task(rng, i, corpus / ext / "tasks" / f"{1_733_000_000_000 + i}")

        _fill(corpus, mb, one, seed)

    return _cached(root, "cline", mb, seed, build)


# the floor for any reader of these formats: open every file and parse every JSON value in it
BASELINE = """
import json, os, sqlite3, sys
TABLES = {".vscdb": ("ItemTable", "cursorDiskKV"), ".db": ("message", "part")}
n = 0
for root, _, files in os.walk(sys.argv[1]):
    for name in files:
        path, ext = os.path.join(root, name), os.path.splitext(name)[1]
        if ext == ".json":
            with open(path, encoding="utf-8") as f:
                json.load(f)
            n += 1
        elif ext in TABLES:
            con = sqlite3.connect("file:" + path + "?mode=ro", uri=True)
            have = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
            for table in TABLES[ext]:
                if table in have:
                    for (value,) in con.execute(f"SELECT {'value' if ext == '.vscdb' else 'data'} FROM {table}"):
                        json.loads(value)
                        n += 1
            con.close()
print(n)
"""

# format -> (corpus generator(root, mb, seed) -> folder, baseline script, suffixes of the files that make
# its size, the folder inside the corpus that `golddiff ingest` is given: where the tool keeps its logs)
FORMATS = {
    "cursor": (make_cursor, BASELINE, (".vscdb", ".json"), "."),
    "opencode": (make_opencode, BASELINE, (".json",), "storage/session"),
    "opencode-db": (make_opencode_db, BASELINE, (".db",), "."),
    "cline": (make_cline, BASELINE, (".json",), "."),
}
