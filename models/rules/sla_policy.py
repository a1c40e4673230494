"""SLA policies: which one applies to a ticket, and when its clocks warn and breach.

Pure rules on top of ``models.rules.sla`` (the business-hours clock): no database, no clock of its own.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from models.rules.sla import Calendar, add_business_seconds, business_seconds

__all__ = ["MAX_PRIORITY", "PolicySpec", "choose_policy", "due_with_pauses", "escalated_priority"]

# Escalation raises a ticket's priority by one, never above this.
MAX_PRIORITY = 3

Pause = tuple[datetime, datetime | None]


@dataclass(frozen=True)
class PolicySpec:
    """What selection needs to know of a policy: its id and what it is scoped to (None = any)."""

    id: int
    queue_id: int | None = None
    priority: int | None = None


def choose_policy(policies: Iterable[PolicySpec], queue_id: int | None, priority: int) -> PolicySpec | None:
    """The most specific policy matching a ticket: queue+priority, then queue, then priority, then the default.

    A policy scoped to a queue or a priority matches only tickets with that queue or priority; two policies
    equally specific (which the unique key forbids) resolve to the lowest id, so the choice is deterministic.
    """
    best: tuple[int, int] | None = None
    chosen = None
    for policy in policies:
        if policy.queue_id is not None and policy.queue_id != queue_id:
            continue
        if policy.priority is not None and policy.priority != priority:
            continue
        rank = (-(2 * (policy.queue_id is not None) + (policy.priority is not None)), policy.id)
        if best is None or rank < best:
            best, chosen = rank, policy
    return chosen


def _merged(start: datetime, pauses: Sequence[Pause]) -> tuple[list[tuple[datetime, datetime]], datetime | None]:
    """Closed pauses clipped to begin at ``start``, sorted and merged; and where an open pause began, if any."""
    closed: list[tuple[datetime, datetime]] = []
    open_from: datetime | None = None
    for p0, p1 in pauses:
        if p1 is None:
            open_from = max(p0, start) if open_from is None else min(open_from, max(p0, start))
            continue
        if p1 < p0:
            raise ValueError("a pause ends before it starts")
        if p1 > start:
            closed.append((max(p0, start), p1))
    closed.sort()
    merged: list[tuple[datetime, datetime]] = []
    for p0, p1 in closed:
        if merged and p0 <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], p1))
        else:
            merged.append((p0, p1))
    return merged, open_from


def due_with_pauses(start: datetime, seconds: float, pauses: Sequence[Pause], cal: Calendar) -> datetime | None:
    """The earliest instant by which ``seconds`` business seconds have run since ``start``, paused spans excluded.

    The inverse of ``elapsed_with_pauses``: a clock paused for P business seconds is due P business seconds
    later. None when the time does not run out before a pause that has not ended yet (``end`` None): while the
    clock stands still, its due time is not known.
    """
    if seconds == 0:
        return add_business_seconds(start, 0, cal)
    closed, open_from = _merged(start, pauses)
    cursor, remaining = start, float(seconds)
    for p0, p1 in closed:
        if open_from is not None and open_from <= p0:
            break
        if p0 > cursor:
            run = business_seconds(cursor, p0, cal)
            if run >= remaining:
                return add_business_seconds(cursor, remaining, cal)
            remaining -= run
        cursor = max(cursor, p1)
    if open_from is not None:
        if open_from < cursor:  # the open pause began inside a closed one: the clock never resumed
            return None
        if business_seconds(cursor, open_from, cal) >= remaining:
            return add_business_seconds(cursor, remaining, cal)
        return None
    return add_business_seconds(cursor, remaining, cal)


def escalated_priority(priority: int) -> int:
    """One step more urgent, capped at MAX_PRIORITY (a ticket already above the cap keeps its priority)."""
    return max(priority, min(priority + 1, MAX_PRIORITY))
