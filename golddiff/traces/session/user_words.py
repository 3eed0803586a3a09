"""The user's verdicts on tool calls, and the words they give for them in their next message.

Most agents log a rejection or a cancel as a tool result, and the user's reason, if any, as the next thing
they type. `UserWords` records the verdict as feedback in the current turn, keeps it waiting, and makes the
user's next typed message its words (`SessionBuilder.explain`: a plain "reject" becomes
"reject_with_reason", and the text is added to each rejected edit's reason).

    words = UserWords(builder)
    words.verdict("reject", call_id, [edit])     # a rejected edit
    words.user("no, keep the old name", ts)      # the next message: a turn of kind "feedback"

Pure Python, CPU only; used by the Gemini CLI, GitHub Copilot and pi readers.
"""

from __future__ import annotations

from collections.abc import Iterable

from golddiff.episodes import Edit, Feedback, FeedbackKind
from golddiff.traces.session.builder import SessionBuilder


class UserWords:
    """Feedback waiting for the user's words (module doc)."""

    def __init__(self, builder: SessionBuilder):
        self.b = builder
        self.waiting: list[tuple[Feedback, list[Edit]]] = []

    def verdict(
        self,
        kind: FeedbackKind,
        call_id: str | None = None,
        edits: Iterable[Edit | None] = (),
        text: str | None = None,
    ) -> Feedback:
        """The user's verdict in the current turn; without `text`, their next message gives it words."""
        fb = self.b.feedback(kind, text, call_id)
        if text is None:
            self.waiting.append((fb, [e for e in edits if e is not None]))
        return fb

    def has_verdict(self, kind: FeedbackKind) -> bool:
        """Whether the current turn already holds feedback of this kind."""
        return bool(self.b.turns) and any(f.kind == kind for f in self.b.turns[-1].feedback)

    def user(self, text: str, timestamp: str | None = None) -> None:
        """A message the user typed: their words for the verdicts waiting, else a follow-up."""
        self.b.user(text, "feedback" if self.waiting else "followup", timestamp)
        for fb, edits in self.waiting:
            self.b.explain(text, fb, [e.edit_id for e in edits])
        self.waiting = []
