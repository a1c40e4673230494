"""SLA reports: volumes, response and resolution times (business seconds) and breach rates over [start, end).

What counts where:
- `opened`: tickets created in the range; `resolved`: tickets whose (current) resolution falls in the range.
- first response p50/p90: tickets whose first response happened in the range; resolution p50/p90: tickets
  resolved in the range. Both in business seconds with the waits on the customer excluded, as recorded when the
  clock stopped (`ticket_sla`).
- breach rates: among tickets opened in the range that had a target for a clock, the share that breached it.

Percentiles interpolate linearly between ranks, like PostgreSQL's percentile_cont, and are computed here in
Python so the embedded SQLite mode gives the same numbers.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from models.errors import Invalid
from models.org import Queue, Tenant, User
from models.sla import NoticeKind, SlaClock, SlaNotice, TicketSla
from models.tickets import Ticket, TicketStatus

GROUPS = ("tenant", "queue", "agent")
CLOCKS = tuple(c.value for c in SlaClock)


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) with linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class _Group:
    opened: int = 0
    resolved: int = 0
    first_response: list[float] = field(default_factory=list)
    resolution: list[float] = field(default_factory=list)
    with_clock: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOCKS, 0))
    breached: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLOCKS, 0))
    any_clock: int = 0
    any_breach: int = 0


def _times(values: list[float]) -> dict[str, Any]:
    return {"count": len(values), "p50": percentile(values, 0.5), "p90": percentile(values, 0.9)}


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def sla_report(session: Session, tenant_id: int, start: datetime, end: datetime,
               group_by: str = "tenant") -> list[dict[str, Any]]:
    """One row per group (the tenant, each queue, or each agent; tickets without one form a `null` group)."""
    if group_by not in GROUPS:
        raise Invalid(f"group_by must be one of {', '.join(GROUPS)}", field="group_by")
    if not start < end:
        raise Invalid("from must be before to", field="from")

    def within(column: Any) -> Any:
        return and_(column >= start, column < end)

    rows = session.execute(
        select(Ticket.id, Ticket.queue_id, Ticket.agent_id, Ticket.status, Ticket.created_at, Ticket.resolved_at,
               Ticket.first_response_at, Ticket.first_response_due_at, Ticket.resolution_due_at,
               TicketSla.first_response_seconds, TicketSla.resolution_seconds, TicketSla.next_response_clocks)
        .outerjoin(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(Ticket.tenant_id == tenant_id,
               or_(within(Ticket.created_at), within(Ticket.resolved_at), within(Ticket.first_response_at)))
    ).all()
    breaches: dict[int, set[str]] = defaultdict(set)
    cohort = select(Ticket.id).where(Ticket.tenant_id == tenant_id, within(Ticket.created_at))
    for ticket_id, clock in session.execute(
            select(SlaNotice.ticket_id, SlaNotice.clock).distinct()
            .where(SlaNotice.tenant_id == tenant_id, SlaNotice.kind == NoticeKind.BREACH,
                   SlaNotice.ticket_id.in_(cohort))):
        breaches[ticket_id].add(SlaClock(clock).value)

    groups: dict[int | None, _Group] = defaultdict(_Group)
    for row in rows:
        key = None if group_by == "tenant" else row.queue_id if group_by == "queue" else row.agent_id
        group = groups[key]
        if start <= row.created_at < end:
            group.opened += 1
            clocks = {SlaClock.FIRST_RESPONSE.value: row.first_response_due_at is not None,
                      SlaClock.NEXT_RESPONSE.value: bool(row.next_response_clocks),
                      SlaClock.RESOLUTION.value: row.resolution_due_at is not None}
            broken = breaches.get(row.id, set())
            for clock, has in clocks.items():
                if has:
                    group.with_clock[clock] += 1
                    group.breached[clock] += clock in broken
            if any(clocks.values()):
                group.any_clock += 1
                group.any_breach += bool(broken)
        if row.status == TicketStatus.RESOLVED and row.resolved_at is not None and start <= row.resolved_at < end:
            group.resolved += 1
            if row.resolution_seconds is not None:
                group.resolution.append(row.resolution_seconds)
        if row.first_response_at is not None and start <= row.first_response_at < end \
                and row.first_response_seconds is not None:
            group.first_response.append(row.first_response_seconds)
    if group_by == "tenant" and not groups:
        groups[None] = _Group()
    names = _names(session, tenant_id, group_by, [k for k in groups if k is not None])
    out = []
    for key in sorted(groups, key=lambda k: (k is None, k or 0)):
        g = groups[key]
        out.append({
            "key": tenant_id if group_by == "tenant" else key, "name": names.get(key),
            "opened": g.opened, "resolved": g.resolved,
            "first_response": _times(g.first_response), "resolution": _times(g.resolution),
            "breaches": dict(g.breached), "tickets_with_clock": dict(g.with_clock),
            "breach_rate": {**{c: _rate(g.breached[c], g.with_clock[c]) for c in CLOCKS},
                            "any": _rate(g.any_breach, g.any_clock)},
        })
    return out


def _names(session: Session, tenant_id: int, group_by: str, ids: list[int]) -> dict[int | None, str]:
    if group_by == "tenant":
        return {None: session.get_one(Tenant, tenant_id).name}
    if group_by == "queue":
        return dict(session.execute(select(Queue.id, Queue.name).where(Queue.tenant_id == tenant_id,
                                                                        Queue.id.in_(ids))).tuples().all())
    if group_by == "agent":
        return dict(session.execute(select(User.id, User.name).where(User.tenant_id == tenant_id,
                                                                      User.id.in_(ids))).tuples().all())
    return {}
