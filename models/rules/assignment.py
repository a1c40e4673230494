"""Which agent gets a ticket: a pure choice over candidates, no database, no clock of its own."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Candidate:
    """An online agent of the queue as the assigner sees them at decision time."""

    agent_id: int
    open_tickets: int
    capacity: int
    last_assigned_at: datetime | None = None
    skills: frozenset[str] = frozenset()

    @property
    def has_room(self) -> bool:
        return self.open_tickets < self.capacity


_EPOCH_KEY = (0, 0.0)


def _last_key(c: Candidate) -> tuple[int, float]:
    # Never-assigned agents first, then the one who waited longest.
    return _EPOCH_KEY if c.last_assigned_at is None else (1, c.last_assigned_at.timestamp())


def choose_agent(candidates: Iterable[Candidate], strategy: str,
                 required_skills: Sequence[str] = ()) -> Candidate | None:
    """The agent who should take the next ticket, or None when nobody online has room.

    least_busy: fewest open tickets, ties to whoever waited longest since their last ticket.
    round_robin: whoever waited longest since their last ticket of this queue.
    skills: like least_busy, among agents holding every required skill.
    priority: the queue order is by priority; the agent choice is least_busy.
    """
    pool = [c for c in candidates if c.has_room]
    if strategy == "skills" and required_skills:
        need = set(required_skills)
        pool = [c for c in pool if need <= c.skills]
    if not pool:
        return None
    if strategy == "round_robin":
        return min(pool, key=lambda c: (_last_key(c), c.agent_id))
    return min(pool, key=lambda c: (c.open_tickets, _last_key(c), c.agent_id))
