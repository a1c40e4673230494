"""The periodic SLA check (beat, every SLA_CHECK_INTERVAL seconds) and the escalation of breaches.

Exactly once, by construction: a warning or breach is emitted only by the transaction whose INSERT ... ON CONFLICT
DO NOTHING created its `sla_notices` row (see `models.services.sla.notify`), in the same transaction as the
realtime event row and the escalation. Runs also take their tickets FOR UPDATE SKIP LOCKED, so concurrent runs
share the work; the unique key is what makes a duplicate impossible even when two runs do meet on one ticket.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.events import AuditEntry
from models.infra import realtime, tasks
from models.infra.outbox import enqueue
from models.org import Queue, User
from models.rules.sla_policy import escalated_priority
from models.services import sla
from models.services.payloads import ticket_audience, ticket_summary
from models.sla import NoticeKind, SlaClock, SlaPolicy, TicketSla
from models.tickets import Contact, Ticket, TicketStatus

CHECK_BATCH = 200


def check_due(session: Session, now: datetime, limit: int = CHECK_BATCH) -> int:
    """Emit the warnings and breaches that have come due (and escalate breaches). Returns how many were emitted.

    Tickets are taken FOR UPDATE SKIP LOCKED (ticket and SLA row together): concurrent runs split the work, and a
    ticket being changed by a request right now is picked up by the next run.
    """
    rows = session.execute(
        select(Ticket, TicketSla).join(TicketSla, TicketSla.ticket_id == Ticket.id)
        .where(TicketSla.next_check_at <= now)
        .order_by(TicketSla.next_check_at)
        .limit(limit)
        .with_for_update(of=(Ticket, TicketSla), skip_locked=True)
    ).all()
    return sum(check_ticket(session, ticket, state, now) for ticket, state in rows)


def check_ticket(session: Session, ticket: Ticket, state: TicketSla, now: datetime) -> int:
    """Handle every instant of a (locked) ticket that has come; returns how many notices were emitted."""
    if ticket.status == TicketStatus.RESOLVED:
        state.next_check_at = None
        return 0
    # A status change that bypassed the hooks: pause or resume now rather than warn about a waiting ticket.
    if (ticket.status == TicketStatus.PENDING) != (sla.open_pause(session, ticket.id) is not None):
        sla.refresh(session, ticket, now)
    pause = sla.open_pause(session, ticket.id)
    cutoff = pause.started_at if pause else now
    emitted, breached = 0, []
    due_now = sorted((x for x in sla.instants(ticket, state) if x[2] <= cutoff),
                     key=lambda x: (x[2], x[1] == NoticeKind.BREACH))
    for clock, kind, at in due_now:
        if sla.notify(session, ticket, state, clock, kind, at, now):
            emitted += 1
            if kind == NoticeKind.BREACH:
                breached.append(clock)
    if breached:
        escalate(session, ticket, state, breached, now)
    later = [x for _c, _k, x in sla.instants(ticket, state) if x > cutoff]
    state.next_check_at = None if pause else min(later, default=None)
    return emitted


def escalate(session: Session, ticket: Ticket, state: TicketSla, clocks: list[SlaClock], now: datetime) -> None:
    """Apply the policy's escalation once for this run's breaches: priority +1 (capped), then an optional move to
    another queue and/or agent. Audited; `ticket.updated` goes out when anything changed.

    The policy is not re-selected afterwards: the escalation must not make the ticket breach again by itself.
    """
    policy = session.get(SlaPolicy, state.policy_id) if state.policy_id else None
    if policy is None:
        return
    changes: dict[str, list[Any]] = {}
    previous_agent = ticket.agent_id
    if policy.escalate_priority and escalated_priority(ticket.priority) != ticket.priority:
        changes["priority"] = [ticket.priority, escalated_priority(ticket.priority)]
        ticket.priority = changes["priority"][1]
    queue = session.scalar(select(Queue).where(Queue.id == policy.escalate_queue_id,
                                               Queue.tenant_id == ticket.tenant_id)) \
        if policy.escalate_queue_id else None
    agent = session.scalar(select(User).where(User.id == policy.escalate_agent_id, User.tenant_id == ticket.tenant_id,
                                              User.active.is_(True))) if policy.escalate_agent_id else None
    if queue is not None and queue.id != ticket.queue_id:
        changes["queue_id"] = [ticket.queue_id, queue.id]
        ticket.queue_id = queue.id
        if agent is None:
            ticket.agent_id, ticket.status = None, TicketStatus.QUEUED
    if agent is not None and agent.id != previous_agent:
        ticket.agent_id, ticket.status, ticket.assigned_at = agent.id, TicketStatus.ASSIGNED, now
    if ticket.agent_id != previous_agent:
        changes["agent_id"] = [previous_agent, ticket.agent_id]
    session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=None, action="sla.escalated", entity="ticket",
                           entity_id=ticket.id, created_at=now,
                           data={"clocks": [c.value for c in clocks], "policy_id": policy.id, **changes}))
    if not changes:
        return
    ticket.updated_at = now
    rooms = list(ticket_audience(ticket))
    if previous_agent is not None and previous_agent != ticket.agent_id:
        rooms.append(realtime.agent_room(ticket.tenant_id, previous_agent))
    realtime.emit(session, ticket.tenant_id, "ticket.updated",
                  ticket_summary(ticket, session.get(Contact, ticket.contact_id)), rooms)
    if ticket.status == TicketStatus.QUEUED and ticket.queue_id is not None:
        enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, ticket.queue_id)
    if previous_agent is not None and previous_agent != ticket.agent_id:
        from models.services.tickets import capacity_freed  # tickets.py imports sla, which this module imports

        capacity_freed(session, ticket.tenant_id, previous_agent)
