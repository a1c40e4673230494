"""Gauges read from the database (queue depth, online agents, open tickets, backlogs), refreshed by beat.

Gauges are set rather than collected on scrape because Prometheus multiprocess mode cannot run custom
collectors; every queue and tenant is set, zeros included, so a drained queue does not keep its old value.
"""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.events import InboxEvent, OutboxTask
from models.infra.metrics import (
    INBOX_BACKLOG,
    INBOX_DEAD_LETTERS,
    ONLINE_AGENTS,
    OPEN_TICKETS,
    OUTBOX_BACKLOG,
    QUEUE_DEPTH,
)
from models.org import AgentStatus, Queue, Tenant, User
from models.tickets import Ticket, TicketStatus


def refresh_gauges(session: Session) -> None:
    depth = dict(session.execute(select(Ticket.queue_id, func.count()).where(
        Ticket.status == TicketStatus.QUEUED, Ticket.queue_id.is_not(None)).group_by(Ticket.queue_id)).tuples().all())
    for queue_id, tenant_id, name in session.execute(select(Queue.id, Queue.tenant_id, Queue.name)):
        QUEUE_DEPTH.labels(tenant=str(tenant_id), queue=name).set(depth.get(queue_id, 0))
    online = dict(session.execute(select(User.tenant_id, func.count()).where(
        User.status == AgentStatus.ONLINE).group_by(User.tenant_id)).tuples().all())
    open_ = dict(session.execute(select(Ticket.tenant_id, func.count()).where(
        Ticket.status != TicketStatus.RESOLVED).group_by(Ticket.tenant_id)).tuples().all())
    for tenant_id in session.scalars(select(Tenant.id)):
        ONLINE_AGENTS.labels(tenant=str(tenant_id)).set(online.get(tenant_id, 0))
        OPEN_TICKETS.labels(tenant=str(tenant_id)).set(open_.get(tenant_id, 0))
    INBOX_BACKLOG.set(session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.processed_at.is_(None), InboxEvent.dead_at.is_(None))) or 0)
    INBOX_DEAD_LETTERS.set(session.scalar(select(func.count()).select_from(InboxEvent).where(
        InboxEvent.dead_at.is_not(None))) or 0)
    OUTBOX_BACKLOG.set(session.scalar(select(func.count()).select_from(OutboxTask).where(
        OutboxTask.dispatched_at.is_(None))) or 0)
