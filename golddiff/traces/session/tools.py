"""What agents' tool calls share, whatever the agent: JSON arguments, paths, shell commands.

    args = json_args(raw)                           # a JSON string decoded, anything else as it is
    rel = quiet_rel("/w/app/a.py", "/w/app")        # "a.py"; None outside the working directory
    full = tool_path("a.py", "sub", "/w/app")       # "/w/app/sub/a.py": as the tool saw it
    cmd = shell_command({"command": ["bash", "-lc", "sed -i s/a/b/ a.py"]})
    may_write_files(cmd)                            # True: the log cannot show what it wrote

Pure functions, CPU only; used by the Codex, Gemini CLI, Copilot and pi readers and `file_book`.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass

# ------------------------------------------------------------------------------------ arguments


def json_args(raw: object) -> object:
    if isinstance(raw, str):
        try:
            return json.loads(raw)
        except ValueError:
            return raw
    return raw


# ------------------------------------------------------------------------------------------- paths


def quiet_rel(path: str, cwd: str | None) -> str | None:
    """`path` relative to `cwd`, or None when it is outside (unreported: reads may look anywhere)."""
    path = path.replace("\\", "/")
    cwd = (cwd or "").replace("\\", "/").rstrip("/")
    if path.startswith("/"):
        if not cwd or not path.startswith(cwd + "/"):
            return None
        path = path[len(cwd) + 1 :]
    norm = posixpath.normpath(path)
    return None if norm in (".", "..") or norm.startswith("../") else norm


def tool_path(path: str, workdir: str | None, cwd: str) -> str:
    """`path` as a tool saw it: a relative path is under the call's `workdir`, itself under `cwd`."""
    path = path.replace("\\", "/")
    if path.startswith("/") or (len(path) > 1 and path[1] == ":"):
        return path
    base = cwd
    if workdir:
        workdir = workdir.replace("\\", "/")
        base = workdir if workdir.startswith("/") or not base else posixpath.join(base, workdir)
    return posixpath.join(base, path) if base else path


# ------------------------------------------------------------------------------------ shell commands


@dataclass
class ShellCommand:
    argv: list[str] | None  # the exec'd argv, when the tool takes one
    script: str | None  # the shell script, when there is one (`bash -lc <script>`, `cmd`, `command`)
    workdir: str | None


SHELLS = frozenset({"bash", "sh", "zsh", "/bin/bash", "/bin/sh", "/bin/zsh", "/usr/bin/bash", "/usr/bin/zsh"})


def shell_command(args: object) -> ShellCommand | None:
    """The command of a shell-like call: `shell {command: [argv]}`, `shell_command {command: str}`,
    `exec_command {cmd}`, a `local_shell_call` action `{command: [argv], working_directory}`."""
    if isinstance(args, str):
        return ShellCommand(None, args, None)
    if not isinstance(args, dict):
        return None
    workdir = args.get("workdir") or args.get("working_directory")
    workdir = workdir if isinstance(workdir, str) else None
    cmd = args.get("command", args.get("cmd"))
    if isinstance(cmd, str):
        return ShellCommand(None, cmd, workdir)
    if isinstance(cmd, list) and cmd and all(isinstance(a, str) for a in cmd):
        script = cmd[-1] if len(cmd) >= 3 and cmd[0] in SHELLS and cmd[1] in ("-lc", "-c", "-l") else None
        return ShellCommand(list(cmd), script, workdir)
    return None


_WRITES = re.compile(
    r"(\bsed\s+-i|\bperl\s+-[a-z]*i|\btee\b|\brm\s|\bmv\s|\bcp\s|\bgit\s+(apply|checkout|restore|reset|stash)\b"
    r"|\btouch\s|\bpatch\s|(?<![0-9&=<>-])>>?\s*(?!/dev/null|&)[\w./\"'-])"
)


def may_write_files(cmd: ShellCommand) -> bool:
    """A rough guess that a command changes files without apply_patch (the log cannot show how)."""
    script = cmd.script if cmd.script is not None else " ".join(cmd.argv or [])
    return bool(_WRITES.search(script))
