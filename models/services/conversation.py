"""What an agent does on a ticket: read it, reply."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import realtime
from models.errors import Forbidden, Invalid, NotFound
from models.org import Role, User
from models.outbox import enqueue
from models.services.payloads import message_view, ticket_audience
from models.tickets import DeliveryStatus, Direction, Message, Ticket, TicketStatus

SEND_TASK = "outbound.send_message"
MAX_BODY = 4096  # WhatsApp's text limit


def get_ticket(session: Session, user: User, ticket_id: int) -> Ticket:
    """A ticket the user may see: same tenant, and for agents, assigned to them or waiting in the queue."""
    ticket = session.scalars(select(Ticket).where(Ticket.id == ticket_id, Ticket.tenant_id == user.tenant_id)
                             ).one_or_none()
    if ticket is None:
        raise NotFound("ticket not found")
    return ticket


def list_messages(session: Session, user: User, ticket_id: int, limit: int = 50) -> list[Message]:
    ticket = get_ticket(session, user, ticket_id)
    rows = session.scalars(select(Message).where(Message.ticket_id == ticket.id)
                           .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit)).all()
    return list(reversed(rows))


def reply(session: Session, user: User, ticket_id: int, body: str, now: datetime) -> Message:
    """Queue a text reply to the customer; a worker sends it once this transaction commits."""
    body = body.strip()
    if not body:
        raise Invalid("body must not be empty", field="body")
    if len(body) > MAX_BODY:
        raise Invalid(f"body is longer than {MAX_BODY} characters", field="body")
    ticket = get_ticket(session, user, ticket_id)
    if ticket.status == TicketStatus.RESOLVED:
        raise Invalid("ticket is resolved; reopen it to reply", field="ticket")
    if user.role == Role.AGENT and ticket.agent_id != user.id:
        raise Forbidden("ticket is assigned to someone else")
    message = Message(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                      direction=Direction.OUTBOUND, kind="text", body=body, payload={}, author_id=user.id,
                      idempotency_key=uuid.uuid4().hex, status=DeliveryStatus.QUEUED, created_at=now, attempts=0)
    session.add(message)
    if ticket.first_response_at is None:
        ticket.first_response_at = now
    ticket.updated_at = now
    session.flush()
    enqueue(session, ticket.tenant_id, SEND_TASK, message.id)
    realtime.emit(session, ticket.tenant_id, "message.created", message_view(message), ticket_audience(ticket))
    return message


def list_tickets(session: Session, user: User, status: str | None = None, limit: int = 50) -> list[Ticket]:
    """Agents see their own tickets; supervisors and admins see the whole tenant's."""
    query = select(Ticket).where(Ticket.tenant_id == user.tenant_id)
    if user.role == Role.AGENT:
        query = query.where(Ticket.agent_id == user.id)
    if status:
        query = query.where(Ticket.status == TicketStatus(status))
    return list(session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(limit)))
