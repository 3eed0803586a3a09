"""Scrubbing secrets and personal details out of episodes before anything is written.

    from golddiff.traces.scrub import Scrubber
    clean = Scrubber().scrub_episode(episode.model_dump())

One concept in four modules: `rules` (the rule table: provider key formats and what logs hold, with
examples), `scan` (the table compiled into one scan: Hyperscan, or Python's `re` where Hyperscan has no
wheel), `checks` (how each candidate is decided), `scrubber` (`Scrubber`: spans, placeholders, whole
episodes; `scrub_message` for what is printed).
"""

from golddiff.traces.scrub.checks import placeholder, shannon_entropy
from golddiff.traces.scrub.scrubber import SCRUBBER_VERSION, Scrubber, scrub_message

__all__ = ["SCRUBBER_VERSION", "Scrubber", "placeholder", "scrub_message", "shannon_entropy"]
