"""Pending and snooze: a ticket waiting on the customer, or put aside until a time or the customer's next message.

Both are status `pending`, so the SLA clocks stand still (models/services/sla.py pauses on that status); a
snoozed ticket also has `snoozed_at` (and `snoozed_until` when it wakes at a time). It leaves `pending` when:

- the customer writes (triage calls `customer_replied` on its continuing-message path, under its ticket lock);
- beat's `wake_snoozed` finds its `snoozed_until` passed (rows taken FOR UPDATE SKIP LOCKED and re-checked in
  the same statement, so two beats, or a beat and a customer message, wake it once);
- an agent resumes it, assigns or transfers it (models/services/tickets.py clears the snooze there too).

It goes back to its agent (`assigned`), or to its queue's waiting line when it has no agent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime, tasks
from models.infra.outbox import enqueue
from models.org import Role, User
from models.services import sla
from models.services.payloads import ticket_audience, ticket_summary
from models.tickets import Contact, Ticket, TicketStatus

MAX_SNOOZE = timedelta(days=366)
WAKE_BATCH = 200


class SnoozeInPast(DomainError):
    """Snoozing until a time that has already come (answered 400)."""

    code = "snooze_in_past"


def ticket_view(session: Session, ticket: Ticket, change: str) -> dict[str, Any]:
    """The `ticket.updated` payload, with the snooze and what changed."""
    return {**ticket_summary(ticket, session.get(Contact, ticket.contact_id)), "change": change,
            "snoozed": ticket.snoozed_at is not None,
            "snoozed_until": ticket.snoozed_until.isoformat() if ticket.snoozed_until else None}


def _locked(session: Session, actor: User, ticket_id: int) -> Ticket:
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id, Ticket.tenant_id == actor.tenant_id)
                             .with_for_update()).one_or_none()
    if ticket is None:
        raise NotFound("ticket not found")
    if actor.role == Role.AGENT and ticket.agent_id != actor.id:
        raise Forbidden("ticket is assigned to someone else")
    if ticket.status == TicketStatus.RESOLVED:
        raise Conflict("ticket is resolved; reopen it first")
    return ticket


def _changed(session: Session, ticket: Ticket, actor_id: int | None, action: str, change: str, now: datetime,
             **data: Any) -> None:
    session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=actor_id, action=action, entity="ticket",
                           entity_id=ticket.id, data=data, created_at=now))
    realtime.emit(session, ticket.tenant_id, "ticket.updated", ticket_view(session, ticket, change),
                  ticket_audience(ticket))


def _enter_pending(session: Session, ticket: Ticket, now: datetime) -> None:
    if ticket.status != TicketStatus.PENDING:
        ticket.status = TicketStatus.PENDING
        sla.refresh(session, ticket, now)  # opens the SLA pause
    ticket.updated_at = now


def mark_pending(session: Session, actor: User, ticket_id: int, now: datetime) -> Ticket:
    """Waiting on the customer: the SLA clocks pause until they write (or someone resumes the ticket)."""
    ticket = _locked(session, actor, ticket_id)
    if ticket.status == TicketStatus.PENDING and ticket.snoozed_at is None:
        return ticket
    ticket.snoozed_at = ticket.snoozed_until = None
    _enter_pending(session, ticket, now)
    _changed(session, ticket, actor.id, "ticket.pending", "pending", now)
    return ticket


def snooze(session: Session, actor: User, ticket_id: int, now: datetime, until: datetime | None = None,
           until_customer_replies: bool = False) -> Ticket:
    """Put a ticket aside until `until`, or until the customer replies (a reply wakes either kind)."""
    if (until is None) == (not until_customer_replies):
        raise Invalid("give exactly one of until, until_customer_replies", field="until")
    if until is not None and until <= now:
        raise SnoozeInPast("cannot snooze into the past", field="until", now=now.isoformat())
    if until is not None and until - now > MAX_SNOOZE:
        raise Invalid("cannot snooze for more than a year", field="until")
    ticket = _locked(session, actor, ticket_id)
    ticket.snoozed_at, ticket.snoozed_until = now, until
    _enter_pending(session, ticket, now)
    _changed(session, ticket, actor.id, "ticket.snoozed", "snoozed", now,
             until=until.isoformat() if until else None, until_customer_replies=until is None)
    return ticket


def _leave_pending(session: Session, ticket: Ticket, now: datetime) -> None:
    """Back to the agent, or to the queue's waiting line; the caller keeps the SLA clocks."""
    ticket.snoozed_at = ticket.snoozed_until = None
    ticket.status = TicketStatus.ASSIGNED if ticket.agent_id is not None else TicketStatus.QUEUED
    ticket.updated_at = now
    if ticket.status == TicketStatus.QUEUED and ticket.queue_id is not None:
        enqueue(session, ticket.tenant_id, tasks.ASSIGN_QUEUE, ticket.queue_id)


def resume(session: Session, actor: User, ticket_id: int, now: datetime) -> Ticket:
    """An agent takes a pending or snoozed ticket back before the customer writes."""
    ticket = _locked(session, actor, ticket_id)
    if ticket.status != TicketStatus.PENDING:
        raise Conflict("ticket is neither pending nor snoozed")
    _leave_pending(session, ticket, now)
    sla.refresh(session, ticket, now)  # closes the pause
    _changed(session, ticket, actor.id, "ticket.resumed", "resumed", now, by="agent")
    return ticket


def customer_replied(session: Session, ticket: Ticket, now: datetime) -> None:
    """Triage: the customer wrote on a pending or snoozed ticket it holds locked. The SLA pause is closed by
    triage's own `sla.customer_wrote(..., resumed=True)` right after, so the clocks are not touched here."""
    _leave_pending(session, ticket, now)
    _changed(session, ticket, None, "ticket.resumed", "resumed", now, by="customer")


def wake_snoozed(session: Session, now: datetime, limit: int = WAKE_BATCH) -> list[int]:
    """Wake snoozed tickets whose time has come; idempotent, and safe with two beats at once.

    SKIP LOCKED lets a second run take other rows instead of waiting; a row another run (or triage) changed
    meanwhile no longer matches the WHERE when PostgreSQL re-checks it under the lock, so it is woken once.
    """
    due = session.scalars(select(Ticket).where(Ticket.status == TicketStatus.PENDING,
                                               Ticket.snoozed_until.is_not(None), Ticket.snoozed_until <= now)
                          .order_by(Ticket.snoozed_until).limit(limit).with_for_update(skip_locked=True)).all()
    for ticket in due:
        until = ticket.snoozed_until
        _leave_pending(session, ticket, now)
        sla.refresh(session, ticket, now)
        _changed(session, ticket, None, "ticket.woken", "woken", now, until=until.isoformat() if until else None)
    return [t.id for t in due]
