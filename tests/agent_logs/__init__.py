"""Writers of Gemini CLI, GitHub Copilot (CLI and VS Code Chat) and pi session logs, record for record as
those agents write them (see the readers' docstrings and docs/formats/), for the unit tests and for
bench/ingest.py's corpus. Each writer keeps the files' contents as the session changes them, so that the
edits it logs (contents before and after, diffs with context) agree with each other.

    chat = GeminiChat(root="/work/app")
    chat.files = {"app.py": APP}
    chat.user("rename main")
    chat.gemini("", [chat.replace("app.py", "def main():", "def run():")])
    chat.write_json(tmp / "session-2026-01-01T10-00-abcd1234.json")
"""

from agent_logs.common import APP, CANCELLED, DENIED, UTIL, split_diff, view_diff
from agent_logs.copilot import CopilotEvents, CopilotLegacy, VscodeChat
from agent_logs.gemini import GeminiChat
from agent_logs.pi import PiSession, pi_display_diff

__all__ = [
    "APP",
    "CANCELLED",
    "DENIED",
    "UTIL",
    "CopilotEvents",
    "CopilotLegacy",
    "GeminiChat",
    "PiSession",
    "VscodeChat",
    "pi_display_diff",
    "split_diff",
    "view_diff",
]
