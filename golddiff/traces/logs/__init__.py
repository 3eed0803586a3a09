"""Opening log files the way readers need: bad bytes cost one record, never the file.

`jsonl`: a JSONL log's lines as bytes, parsed with orjson; a line that is not UTF-8 or holds a NUL byte
is one skipped record.
"""
