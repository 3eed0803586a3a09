"""Opening log files the way readers need: bad bytes cost one record, never the file.

`jsonl`: a JSONL log's lines as bytes, parsed with orjson; a line that is not UTF-8 or holds a NUL byte
is one skipped record; `json_log`: a log that is either JSON lines or one JSON object (Gemini CLI and
Copilot wrote one layout, then the other), told apart and loaded with its errors reported; `sqlite_ro`:
an agent's SQLite database (Cursor, OpenCode 2.x) opened read-only, copied first when it is locked.
"""
