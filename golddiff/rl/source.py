"""The prompt source: hands prompts to actors under the lag budget and knows which actor holds which.

Admission (docs/architecture.md, "lag is bounded by admission"), in two parts:
- here, a budget in prompts (PipelineRL's): with version L published, at most (L + K + 1)·P prompts may
  have been handed out in all, counting those the learner already consumed (P prompts per step, K =
  max_off_policy_steps). The driver publishes L here only once every actor holds the weights of L, so a
  prompt handed out now starts with version ≥ L and is trained at a learner version ≤ L + K: lag ≤ K.
  K = 0 is the sync loop (exactly P prompts per version, none until the new weights are in place);
- in the actor: it starts a ticket only while its own weights are at most K versions behind the latest
  version it knows of (a `Grant` carries L; a restarted actor may be behind until the weights arrive).
Stragglers can still exceed K by the time they are trained: the learner counts them and masks, drops or
keeps them (`rl.stale`).

Bookkeeping for exact resume and actor failures: every ticket is held by an (actor, incarnation) until the
driver reports its group consumed. An actor that restarts announces its new incarnation (`actor_started`);
whatever the old one held goes back to the front of the line (`attempt` + 1). Positions consumed before a
resume are never handed out again; positions handed out but not consumed before a resume are re-issued
first. Runs as a Ray actor (num_cpus=0), pure Python.
"""

from __future__ import annotations

import heapq

from golddiff.rl.data import PromptOrder
from golddiff.rl.messages import Grant, PromptTicket, WeightsMessage


class PromptSource:
    def __init__(
        self,
        order: PromptOrder,
        prompts_per_step: int,
        max_lag: int,
        version: int = 0,
        consumed: set[int] | None = None,
        skipped: int = 0,
    ) -> None:
        self.order, self.per_step, self.max_lag = order, prompts_per_step, max_lag
        self.version = version
        self.consumed: set[int] = set(consumed or ())
        self.skipped = skipped  # consumed positions that could not be trained (they use no budget)
        top = max(self.consumed, default=-1) + 1
        self.requeue: list[int] = sorted(set(range(top)) - self.consumed)  # a heap: lowest first
        self.attempts: dict[int, int] = {p: 1 for p in self.requeue}
        self.next_position = top
        self.held: dict[int, tuple[int, str]] = {}  # position -> (actor, incarnation)
        self.incarnations: dict[int, str] = {}
        self.latest: WeightsMessage | None = None

    # ---- actors ---------------------------------------------------------------------------------------
    def budget(self) -> int:
        """How many more prompts may be handed out now."""
        used = len(self.consumed) - self.skipped + len(self.held)
        return (self.version + self.max_lag + 1) * self.per_step - used

    def take(self, actor: int, incarnation: str, n: int) -> Grant:
        """Up to `n` tickets for `actor`, within the budget; re-issued positions first."""
        if self.incarnations.get(actor) != incarnation:
            self.actor_started(actor, incarnation)
        tickets = []
        for _ in range(max(0, min(n, self.budget()))):
            if self.requeue:
                position = heapq.heappop(self.requeue)
            else:
                position, self.next_position = self.next_position, self.next_position + 1
            self.held[position] = (actor, incarnation)
            tickets.append(self.order.ticket(position, self.attempts.get(position, 0)))
        return Grant(tuple(tickets), self.version)

    def actor_started(self, actor: int, incarnation: str) -> WeightsMessage | None:
        """A (re)started actor: what an earlier incarnation held is re-issued; returns the latest weights."""
        self.incarnations[actor] = incarnation
        for position, (holder, inc) in list(self.held.items()):
            if holder == actor and inc != incarnation:
                del self.held[position]
                self.attempts[position] = self.attempts.get(position, 0) + 1
                heapq.heappush(self.requeue, position)
        return self.latest

    # ---- driver ---------------------------------------------------------------------------------------
    def mark_consumed(self, positions: list[int], skipped: tuple[int, ...] | list[int] = ()) -> None:
        """The driver took these groups (`skipped`: consumed but untrainable)."""
        for position in list(positions) + list(skipped):
            self.held.pop(position, None)
            if position in self.requeue:
                self.requeue.remove(position)
                heapq.heapify(self.requeue)
            if position not in self.consumed:
                self.consumed.add(position)
                self.skipped += position in skipped

    def publish(self, message: WeightsMessage) -> None:
        """New weights exist: the budget grows by P; restarted actors start from these."""
        self.version = max(self.version, message.version)
        self.latest = message

    def holding(self, actor: int | None = None) -> list[int]:
        return sorted(p for p, (a, _) in self.held.items() if actor is None or a == actor)

    def snapshot(self) -> dict:
        return {
            "version": self.version,
            "next_position": self.next_position,
            "consumed": len(self.consumed),
            "held": len(self.held),
            "requeued": len(self.requeue),
            "budget": self.budget(),
        }

    def ticket(self, position: int) -> PromptTicket:
        return self.order.ticket(position)
