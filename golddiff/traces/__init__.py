"""Session logs in, Episodes out: one reader per log format, format detection, git linking, scrubbing.

    golddiff/traces/
      ingest.py      walk paths, detect formats, read, link to git, scrub, append to episodes.jsonl
      detect.py      which reader reads a file (READERS: format name -> module), from its content
      scrub.py       secrets, e-mails and home-directory user names replaced by stable placeholders
      session/       the SessionBuilder every reader shares (events in, Episodes out), ReadOptions,
                     IngestReport
      claude_code/   Claude Code     codex/  Codex CLI     aider/  Aider     swe_agent/  SWE-agent
      openhands.py   OpenHands (v0 and v1 event streams)
      git/           a repository through `git`, linking episodes to commits, history as episodes
      stdlib_bugs.py bug fixes mined from Python's standard library (the demo's data), as Episodes

Every reader (a module, or a package whose `__init__` exports them) has the same four names:

    FORMAT: str                                    # "claude_code", "codex", ...
    def sniff(path: Path, head: str) -> bool       # is this file in my format? (head: its first ~16 KB)
    def is_attached(path: Path) -> bool            # read as part of another file (a subagent transcript)?
    def read(path: Path, report: IngestReport, opts: ReadOptions) -> Iterator[Episode]

`read` streams episodes; a malformed record is reported through `report.skip(path, line, what)` and
skipped, never raised. Readers import `session/` and `git/`, never each other (an import-linter contract
in pyproject.toml). A new format: docs/architecture.md, "Add a log format".
"""
