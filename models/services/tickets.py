"""Moving tickets by hand: accept, transfer, force-assign, resolve, reopen, notes. Each move is audited and emitted.

Every change that frees capacity (resolve, transfer away) asks the agent's queues to assign again, so a waiting
ticket never waits while someone could take it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.errors import Conflict, Forbidden, Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime, tasks
from models.infra.availability import availability_of
from models.infra.outbox import enqueue
from models.org import AgentStatus, Queue, QueueMember, Role, User
from models.rules.sla_policy import MAX_PRIORITY
from models.services import csat, facts, mentions, sla
from models.services.conversation import get_ticket
from models.services.payloads import message_view, ticket_audience, ticket_summary
from models.tickets import Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus

ASSIGNED = (TicketStatus.ASSIGNED, TicketStatus.PENDING)


def _locked(session: Session, user: User, ticket_id: int) -> Ticket:
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id, Ticket.tenant_id == user.tenant_id)
                             .with_for_update()).one_or_none()
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket


def _supervises(user: User) -> bool:
    return user.role in (Role.SUPERVISOR, Role.ADMIN)


def _audit(session: Session, ticket: Ticket, actor: User, action: str, now: datetime, **data: Any) -> None:
    session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=actor.id, action=action, entity="ticket",
                           entity_id=ticket.id, data=data, created_at=now))


def _emit(session: Session, ticket: Ticket, name: str, extra_rooms: Sequence[str] = ()) -> None:
    contact = session.get(Contact, ticket.contact_id)
    realtime.emit(session, ticket.tenant_id, name, ticket_summary(ticket, contact),
                  [*ticket_audience(ticket), *extra_rooms])


def capacity_freed(session: Session, tenant_id: int, agent_id: int | None) -> None:
    """An agent has room again: every queue of theirs assigns at once (event-driven, not the sweep)."""
    if agent_id is None:
        return
    queue_ids = sorted(session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == agent_id)))
    availability_of(session).invalidate_after_commit(session, queue_ids)
    for queue_id in queue_ids:
        enqueue(session, tenant_id, tasks.ASSIGN_QUEUE, queue_id)


def open_load(session: Session, agent_id: int) -> int:
    return session.scalar(select(func.count()).select_from(Ticket).where(
        Ticket.agent_id == agent_id, Ticket.status.in_(ASSIGNED))) or 0


def assign_to(session: Session, actor: User, ticket_id: int, agent_id: int, now: datetime, reason: str = "") -> Ticket:
    """Give a ticket to an agent: agents may take waiting tickets of their queues within capacity;
    supervisors may assign anyone of the tenant, over capacity too."""
    ticket = _locked(session, actor, ticket_id)
    if ticket.status == TicketStatus.RESOLVED:
        raise Conflict("ticket is resolved; reopen it first")
    agent = session.scalars(select(User).where(User.id == agent_id, User.tenant_id == actor.tenant_id,
                                               User.active.is_(True)).with_for_update()).one_or_none()
    if agent is None:
        raise NotFound("agent not found", field="agent_id")
    if not _supervises(actor):
        if agent.id != actor.id:
            raise Forbidden("agents may only take tickets for themselves")
        if ticket.agent_id not in (None, actor.id):
            raise Conflict("ticket is already assigned")
        member = session.get(QueueMember, (ticket.queue_id, actor.id)) if ticket.queue_id else None
        if member is None:
            raise Forbidden("ticket is not in one of your queues")
        if open_load(session, actor.id) >= actor.max_tickets:
            raise Conflict("you are at capacity")
    previous = ticket.agent_id
    ticket.agent_id, ticket.status, ticket.assigned_at, ticket.updated_at = agent.id, TicketStatus.ASSIGNED, now, now
    ticket.snoozed_at = ticket.snoozed_until = None
    sla.refresh(session, ticket, now)  # a pending ticket stops waiting
    _audit(session, ticket, actor, "ticket.assigned", now, agent_id=agent.id, previous=previous, reason=reason,
           over_capacity=open_load(session, agent.id) > agent.max_tickets)
    # The queue hears it too (as from the assignment worker): its other members see the waiting ticket taken.
    rooms = [realtime.queue_room(ticket.tenant_id, ticket.queue_id)] if ticket.queue_id is not None else []
    if previous and previous != agent.id:
        rooms.append(realtime.agent_room(ticket.tenant_id, previous))
    _emit(session, ticket, "ticket.assigned", rooms)
    if previous and previous != agent.id:
        capacity_freed(session, ticket.tenant_id, previous)
    return ticket


def transfer_to_queue(session: Session, actor: User, ticket_id: int, queue_id: int, now: datetime,
                      reason: str = "") -> Ticket:
    """Put a ticket back in line, in this or another queue of the tenant."""
    ticket = _locked(session, actor, ticket_id)
    if not _supervises(actor) and ticket.agent_id != actor.id:
        raise Forbidden("ticket is assigned to someone else")
    if ticket.status == TicketStatus.RESOLVED:
        raise Conflict("ticket is resolved; reopen it first")
    queue = session.scalars(select(Queue).where(Queue.id == queue_id, Queue.tenant_id == actor.tenant_id)
                            ).one_or_none()
    if queue is None:
        raise NotFound("queue not found", field="queue_id")
    previous = ticket.agent_id
    ticket.queue_id, ticket.agent_id, ticket.status, ticket.updated_at = queue.id, None, TicketStatus.QUEUED, now
    ticket.snoozed_at = ticket.snoozed_until = None
    ticket.triage_state = {}
    sla.refresh(session, ticket, now)  # another queue may have another policy; a pending ticket stops waiting
    _audit(session, ticket, actor, "ticket.transferred", now, queue_id=queue.id, previous_agent=previous,
           reason=reason)
    _emit(session, ticket, "ticket.updated",
          [realtime.agent_room(ticket.tenant_id, previous)] if previous else [])
    enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, queue.id)
    capacity_freed(session, ticket.tenant_id, previous)
    return ticket


def set_priority(session: Session, actor: User, ticket_id: int, priority: int, now: datetime) -> Ticket:
    """Set a ticket's priority (0 normal .. MAX_PRIORITY, the cap SLA escalation stops at): the waiting line and
    the SLA policy follow it. Unchanged is a no-op: no audit entry, no event."""
    if not 0 <= priority <= MAX_PRIORITY:
        raise Invalid(f"priority is between 0 and {MAX_PRIORITY}", field="priority")
    ticket = _locked(session, actor, ticket_id)
    if not _supervises(actor) and ticket.agent_id != actor.id:
        raise Forbidden("ticket is assigned to someone else")
    if ticket.status == TicketStatus.RESOLVED:
        raise Conflict("ticket is resolved; reopen it first")
    if ticket.priority == priority:
        return ticket
    previous, ticket.priority, ticket.updated_at = ticket.priority, priority, now
    sla.refresh(session, ticket, now)  # a policy may be scoped to the new priority
    _audit(session, ticket, actor, "ticket.priority", now, priority=priority, previous=previous)
    _emit(session, ticket, "ticket.updated")
    return ticket


def resolve(session: Session, actor: User, ticket_id: int, now: datetime) -> Ticket:
    ticket = _locked(session, actor, ticket_id)
    if not _supervises(actor) and ticket.agent_id != actor.id:
        raise Forbidden("ticket is assigned to someone else")
    if ticket.status == TicketStatus.RESOLVED:
        return ticket
    agent_id = ticket.agent_id
    ticket.status, ticket.resolved_at, ticket.updated_at = TicketStatus.RESOLVED, now, now
    ticket.snoozed_at = ticket.snoozed_until = None
    sla.resolved(session, ticket, now)
    facts.resolved(session, ticket, now)  # reports: the cycle's resolution
    _audit(session, ticket, actor, "ticket.resolved", now)
    _emit(session, ticket, "ticket.updated")
    csat.ask_on_resolve(session, ticket, now)  # when the queue opted in: the rating question goes out
    capacity_freed(session, ticket.tenant_id, agent_id)
    return ticket


def reopen(session: Session, actor: User, ticket_id: int, now: datetime) -> Ticket:
    """A resolved ticket goes back to its queue (unless the contact already has another open one)."""
    ticket = _locked(session, actor, ticket_id)
    if ticket.status != TicketStatus.RESOLVED:
        raise Conflict("ticket is not resolved")
    other = session.scalar(select(Ticket.id).where(Ticket.contact_id == ticket.contact_id,
                                                   Ticket.channel_id == ticket.channel_id,
                                                   Ticket.status != TicketStatus.RESOLVED))
    if other is not None:
        raise Conflict("the contact already has an open ticket on this channel", ticket_id=other)
    ticket.status, ticket.agent_id, ticket.resolved_at = TicketStatus.QUEUED, None, None
    ticket.reopened_at = ticket.updated_at = now
    sla.reopened(session, ticket, now)
    facts.routed(session, ticket, now)  # reports: a new cycle
    _audit(session, ticket, actor, "ticket.reopened", now)
    _emit(session, ticket, "ticket.updated")
    if ticket.queue_id is not None:
        enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, ticket.queue_id)
    return ticket


def mark_read(session: Session, actor: User, ticket_id: int, now: datetime) -> Ticket:
    """The agent has read the conversation up to now (clears the unread badge on every device)."""
    ticket = _locked(session, actor, ticket_id)
    if not _supervises(actor) and ticket.agent_id != actor.id:
        raise Forbidden("ticket is assigned to someone else")
    ticket.read_at = now
    _emit(session, ticket, "ticket.updated")
    return ticket


def add_note(session: Session, actor: User, ticket_id: int, body: str, now: datetime,
             mention_ids: Sequence[int] = ()) -> Message:
    """An internal note: visible to agents, never sent to the customer. Each colleague it mentions is told."""
    ticket = get_ticket(session, actor, ticket_id)
    if not body.strip():
        raise Invalid("body must not be empty", field="body")
    mentioned = mentions.mentioned_users(session, actor, mention_ids)  # checked before anything is written
    note = Message(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                   direction=Direction.NOTE, kind="note", body=body.strip(),
                   payload={"mentions": [u.id for u in mentioned]} if mentioned else {}, author_id=actor.id,
                   status=DeliveryStatus.RECEIVED, created_at=now, attempts=0)
    session.add(note)
    session.flush()
    realtime.emit(session, ticket.tenant_id, "message.created", message_view(note), ticket_audience(ticket))
    mentions.notify_mentioned(session, actor, ticket, note, mentioned)
    return note


def return_unanswered(session: Session, now: datetime) -> int:
    """Tickets of agents offline (or away) past their queue's grace period, not yet answered, go back in line."""
    rows = session.execute(
        select(Ticket, Queue, User)
        .join(Queue, Queue.id == Ticket.queue_id)
        .join(User, User.id == Ticket.agent_id)
        .where(Ticket.status == TicketStatus.ASSIGNED, Ticket.first_response_at.is_(None),
               User.status != AgentStatus.ONLINE, Queue.return_on_offline.is_(True))
        .with_for_update(of=Ticket, skip_locked=True)
    ).all()
    moved = 0
    for ticket, queue, user in rows:
        if (now - user.status_changed_at).total_seconds() < queue.offline_grace_seconds:
            continue
        ticket.agent_id, ticket.status, ticket.updated_at = None, TicketStatus.QUEUED, now
        session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=None, action="ticket.returned",
                               entity="ticket", entity_id=ticket.id,
                               data={"agent_id": user.id, "reason": f"agent {user.status.value}"}, created_at=now))
        _emit(session, ticket, "ticket.updated", [realtime.agent_room(ticket.tenant_id, user.id)])
        enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, queue.id)
        moved += 1
    return moved
