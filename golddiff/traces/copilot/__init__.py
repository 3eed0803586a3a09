"""GitHub Copilot sessions: the Copilot CLI and VS Code's Copilot Chat.

    golddiff.traces.copilot.cli      # format "copilot_cli": ~/.copilot/session-state/<id>/events.jsonl,
                                     # and the older ~/.copilot/history-session-state/session_<id>.json
    golddiff.traces.copilot.vscode   # format "copilot_vscode": .../workspaceStorage/<hash>/chatSessions/
                                     # <id>.json and <id>.jsonl (a mutation log), and "Export Chat" JSON
    golddiff.traces.copilot.edits    # the edit tools of both, replayed on the session's files

Both agents edit through tools that name a file and the text to replace (`str_replace_editor`, `edit`,
`create`, `replace_string_in_file`, `create_file`, `apply_patch`); `edits` turns a call into file changes
on a `file_book.FileBook` whatever the agent. Pure Python, CPU only.
"""
