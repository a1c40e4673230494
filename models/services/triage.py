"""Triage: turn a stored inbound event into a message on the contact's open ticket, or a status update."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models import realtime
from models.db import insert_or_ignore
from models.events import InboxEvent
from models.org import Channel
from models.outbox import enqueue
from models.providers import whatsapp
from models.providers.base import ParsedMessage
from models.rules.phones import normalize_phone
from models.services.payloads import message_view, ticket_audience, ticket_summary
from models.tickets import OPEN_STATUSES, Contact, DeliveryStatus, Direction, Message, Ticket, TicketStatus

log = logging.getLogger(__name__)

ASSIGN_TASK = "assignment.assign_queue"
PARSERS: dict[str, Callable[[dict[str, Any]], ParsedMessage]] = {whatsapp.PROVIDER: whatsapp.parse_message}

# Statuses only move forward: a late `delivered` after `read` changes nothing.
_RANK = {DeliveryStatus.QUEUED: 0, DeliveryStatus.SENT: 1, DeliveryStatus.DELIVERED: 2, DeliveryStatus.READ: 3,
         DeliveryStatus.FAILED: 4}


class StatusBeforeMessage(Exception):
    """A status callback for a message whose send has not been recorded yet: try again later."""


def process_event(session: Session, inbox_id: int, now: datetime) -> str:
    """Apply one inbox event; running it again for the same event changes nothing."""
    event = session.scalars(select(InboxEvent).where(InboxEvent.id == inbox_id).with_for_update()).one_or_none()
    if event is None or event.processed_at is not None:
        return "skipped"
    event.attempts += 1
    channel = session.get_one(Channel, event.channel_id)
    if event.kind == "message":
        receive_message(session, channel, PARSERS[event.provider](event.payload), now)
    else:
        apply_status(session, channel, event.payload["status"], now)
    event.processed_at = now
    return "processed"


def _contact_for(session: Session, channel: Channel, parsed: ParsedMessage, now: datetime) -> Contact:
    phone = normalize_phone(parsed.sender)
    insert_or_ignore(session, Contact, {"tenant_id": channel.tenant_id, "phone": phone, "name": parsed.sender_name,
                                        "created_at": now}, conflict=["tenant_id", "phone"])
    # The contact row lock serialises everything one customer sends: two messages processed at once
    # cannot open two tickets.
    return session.scalars(select(Contact).where(Contact.tenant_id == channel.tenant_id, Contact.phone == phone)
                           .with_for_update()).one()


def receive_message(session: Session, channel: Channel, parsed: ParsedMessage, now: datetime) -> Message | None:
    """Append a customer message to the contact's open ticket on this channel, opening one if needed."""
    contact = _contact_for(session, channel, parsed, now)
    if parsed.sender_name and not contact.name:
        contact.name = parsed.sender_name
    ticket = session.scalars(select(Ticket).where(Ticket.contact_id == contact.id, Ticket.channel_id == channel.id,
                                                  Ticket.status.in_(OPEN_STATUSES))).one_or_none()
    created = ticket is None
    if ticket is None:
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, status=TicketStatus.QUEUED, created_at=now,
                        updated_at=now)
        session.add(ticket)
        session.flush()
    message_id = insert_or_ignore(session, Message, {
        "tenant_id": channel.tenant_id, "ticket_id": ticket.id, "channel_id": channel.id,
        "direction": Direction.INBOUND.value, "kind": parsed.kind, "body": parsed.body, "payload": parsed.extra,
        "provider_message_id": parsed.provider_message_id, "status": DeliveryStatus.RECEIVED.value,
        "created_at": now, "attempts": 0,
    }, conflict=["channel_id", "provider_message_id"])
    if message_id is None:
        return None
    message = session.get_one(Message, message_id)
    ticket.last_customer_message_at = now
    if ticket.status == TicketStatus.PENDING:
        ticket.status = TicketStatus.ASSIGNED
    tid = channel.tenant_id
    if created:
        realtime.emit(session, tid, "ticket.created", ticket_summary(ticket, contact),
                      ticket_audience(ticket))
        if ticket.queue_id is not None:
            enqueue(session, tid, ASSIGN_TASK, ticket.queue_id)
    realtime.emit(session, tid, "message.created", message_view(message), ticket_audience(ticket))
    return message


def apply_status(session: Session, channel: Channel, status: dict[str, Any], now: datetime) -> None:
    """Move an outbound message's delivery status forward (never backwards)."""
    message = session.scalars(select(Message).where(Message.channel_id == channel.id,
                                                    Message.provider_message_id == status["id"])
                              .with_for_update()).one_or_none()
    if message is None:
        raise StatusBeforeMessage(status["id"])
    try:
        new = DeliveryStatus(status["status"])
    except ValueError:
        log.info("ignoring unknown WhatsApp status %r", status["status"])
        return
    if _RANK.get(new, -1) <= _RANK.get(message.status, -1):
        return
    message.status = new
    if new == DeliveryStatus.DELIVERED:
        message.delivered_at = now
    elif new == DeliveryStatus.READ:
        message.read_at = now
    elif new == DeliveryStatus.FAILED:
        errors = status.get("errors") or [{}]
        message.error_code = str(errors[0].get("code", ""))
        message.error_reason = errors[0].get("title") or errors[0].get("message")
    ticket = session.get_one(Ticket, message.ticket_id)
    realtime.emit(session, channel.tenant_id, "message.status",
                  {"message_id": message.id, "ticket_id": ticket.id, "status": message.status.value},
                  ticket_audience(ticket))
