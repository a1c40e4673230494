"""The supervisor's live board: per queue, who waits and for how long, who serves and how loaded, what is late.

Two aggregate statements whatever the number of queues, tickets or agents (no query per row):

1. the tenant's queues, each with its open tickets counted in SQL: waiting (queued) and since when, assigned,
   pending, and SLA at risk or breached;
2. the online and away members of those queues, each with their open load (assigned + pending, every queue:
   capacity is the agent's, not the queue's).

SLA: only the clocks still running count (first response until the first reply, next response while a customer
message waits for an answer, resolution while open). A clock is breached when its due time has passed, at risk
when its warning instant has passed and it is not breached yet. A ticket waiting on the customer (pending) has
its clocks stopped at the start of that pause, so it is judged at that instant, as the periodic check does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from models.org import AgentStatus, Queue, QueueMember, User
from models.services.assignment import ASSIGNED_STATUSES
from models.sla import SlaPause, TicketSla
from models.tickets import OPEN_STATUSES, Ticket, TicketStatus

PRESENT = (AgentStatus.ONLINE, AgentStatus.AWAY)


def _sla_columns(now: datetime) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """(breached, at risk) of one open ticket row joined with its SLA state and its open pause, if any."""
    cutoff = func.coalesce(SlaPause.started_at, now)
    first_runs = Ticket.first_response_at.is_(None)
    next_runs = TicketSla.next_response_started_at.is_not(None)
    breached = or_(and_(first_runs, Ticket.first_response_due_at <= cutoff),
                   and_(next_runs, Ticket.next_response_due_at <= cutoff),
                   Ticket.resolution_due_at <= cutoff)
    warned = or_(and_(first_runs, TicketSla.first_response_warning_at <= cutoff),
                 and_(next_runs, TicketSla.next_response_warning_at <= cutoff),
                 TicketSla.resolution_warning_at <= cutoff)
    return breached, and_(warned, ~breached)


def live_board(session: Session, tenant_id: int, now: datetime) -> list[dict[str, Any]]:
    """One row per queue of the tenant (by name): waiting tickets and the oldest wait, assigned and pending
    tickets, SLA at risk and breached, and the online and away members with their load.

    A ticket waits since it was opened or last reopened (the customer's wait, whatever bounced it back to the
    queue in between); `oldest_wait_seconds` is measured to `now`.
    """
    breached, at_risk = _sla_columns(now)
    queued = Ticket.status == TicketStatus.QUEUED
    since = func.coalesce(Ticket.reopened_at, Ticket.created_at)
    queues = session.execute(
        select(Queue.id, Queue.name,
               func.count(Ticket.id).filter(queued).label("waiting"),
               func.min(since).filter(queued).label("oldest"),
               func.count(Ticket.id).filter(Ticket.status == TicketStatus.ASSIGNED).label("assigned"),
               func.count(Ticket.id).filter(Ticket.status == TicketStatus.PENDING).label("pending"),
               func.count(Ticket.id).filter(at_risk).label("at_risk"),
               func.count(Ticket.id).filter(breached).label("breached"))
        .outerjoin(Ticket, and_(Ticket.queue_id == Queue.id, Ticket.tenant_id == tenant_id,
                                Ticket.status.in_(OPEN_STATUSES)))
        .outerjoin(TicketSla, TicketSla.ticket_id == Ticket.id)
        .outerjoin(SlaPause, and_(SlaPause.ticket_id == Ticket.id, SlaPause.ended_at.is_(None)))
        .where(Queue.tenant_id == tenant_id)
        .group_by(Queue.id, Queue.name)
        .order_by(Queue.name, Queue.id)
    ).all()
    load = (select(Ticket.agent_id, func.count().label("open"))
            .where(Ticket.tenant_id == tenant_id, Ticket.status.in_(ASSIGNED_STATUSES), Ticket.agent_id.is_not(None))
            .group_by(Ticket.agent_id).subquery())
    members = session.execute(
        select(QueueMember.queue_id, User.id, User.name, User.status, User.max_tickets,
               func.coalesce(load.c.open, 0))
        .join(User, and_(User.id == QueueMember.user_id, User.tenant_id == tenant_id))
        .outerjoin(load, load.c.agent_id == User.id)
        .where(QueueMember.tenant_id == tenant_id, User.active.is_(True), User.status.in_(PRESENT))
        .order_by(User.name, User.id)
    ).all()
    agents: dict[int, list[dict[str, Any]]] = {}
    for queue_id, user_id, name, status, max_tickets, open_tickets in members:
        agents.setdefault(queue_id, []).append({"id": user_id, "name": name, "status": status.value,
                                                "open_tickets": open_tickets, "max_tickets": max_tickets})
    return [{"id": q.id, "name": q.name, "waiting": q.waiting, "oldest_waiting_since": q.oldest,
             "oldest_wait_seconds": max(0.0, (now - q.oldest).total_seconds()) if q.oldest else None,
             "assigned": q.assigned, "pending": q.pending, "sla_at_risk": q.at_risk, "sla_breached": q.breached,
             "agents": agents.get(q.id, [])} for q in queues]
