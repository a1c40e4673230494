"""Outbound: deliver a queued message through its channel's provider."""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from models import realtime
from models.config import Settings
from models.org import Channel, ChannelKind
from models.outbox import enqueue
from models.providers import sendgrid, twilio, whatsapp
from models.providers.base import ProviderError
from models.services.payloads import message_view, ticket_audience
from models.tickets import Contact, DeliveryStatus, Direction, Message, Ticket

log = logging.getLogger(__name__)


SEND_TASK = "outbound.send_message"


def queue_text(session: Session, ticket: Ticket, body: str, author_id: int | None, now: datetime,
               template: dict[str, Any] | None = None) -> Message:
    """Record an outbound text on the ticket and ask a worker to send it once this transaction commits.

    The idempotency key identifies this message to the sender: a retried task finds the same row, never a
    second one. `author_id` None means the bot wrote it.
    """
    message = Message(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                      direction=Direction.OUTBOUND, kind="template" if template else "text", body=body,
                      payload={"template": template} if template else {}, author_id=author_id,
                      idempotency_key=uuid.uuid4().hex, status=DeliveryStatus.QUEUED, created_at=now, attempts=0)
    session.add(message)
    session.flush()
    enqueue(session, ticket.tenant_id, SEND_TASK, message.id)
    realtime.emit(session, ticket.tenant_id, "message.created", message_view(message), ticket_audience(ticket))
    return message


def send_message(session: Session, message_id: int, now: datetime, settings: Settings,
                 http: requests.Session | None = None) -> str:
    """Send one queued message; a message already sent or failed is left alone (a redelivered task is a no-op).

    The row stays locked during the provider call, so a duplicate task waits and then sees `sent`. A retryable
    ProviderError propagates (the transaction rolls back, the message stays queued for the retry); a permanent
    one marks the message failed with the provider's code and reason.
    """
    message = session.scalars(select(Message).where(Message.id == message_id).with_for_update()).one_or_none()
    if message is None or message.status != DeliveryStatus.QUEUED:
        return "skipped"
    ticket = session.get_one(Ticket, message.ticket_id)
    channel = session.get_one(Channel, message.channel_id)
    contact = session.get_one(Contact, ticket.contact_id)
    message.attempts += 1
    try:
        provider_id = _send(session, channel, contact, ticket, message, settings, http)
    except ProviderError as exc:
        if exc.retryable:
            raise
        mark_failed(session, message, exc.code, exc.reason)
        return "failed"
    message.provider_message_id = provider_id
    message.status = DeliveryStatus.SENT
    message.sent_at = now
    _emit_status(session, message, ticket)
    return "sent"


def mark_failed(session: Session, message: Message, code: str, reason: str) -> None:
    """Give up on a message: record why and tell the agents following the ticket."""
    message.status = DeliveryStatus.FAILED
    message.error_code = code
    message.error_reason = reason[:1000]
    _emit_status(session, message, session.get_one(Ticket, message.ticket_id))


def _emit_status(session: Session, message: Message, ticket: Ticket) -> None:
    realtime.emit(session, ticket.tenant_id, "message.status",
                  {"message_id": message.id, "ticket_id": ticket.id, "status": message.status.value,
                   "error_code": message.error_code}, ticket_audience(ticket))


def _send(session: Session, channel: Channel, contact: Contact, ticket: Ticket, message: Message,
          settings: Settings, http: requests.Session | None) -> str:
    timeout = (settings.http_connect_timeout, settings.http_read_timeout)
    if channel.kind == ChannelKind.WHATSAPP:
        return whatsapp.send(
            base_url=settings.whatsapp_graph_base_url,
            version=settings.whatsapp_graph_version, phone_number_id=channel.external_id,
            token=str(channel.credentials.get("access_token", "")), to=contact.phone or "", body=message.body,
            template=message.payload.get("template"), timeout=timeout, session=http)
    creds = channel.credentials
    if channel.kind == ChannelKind.SMS:
        service = str(creds.get("messaging_service_sid") or "") or None
        return twilio.send_sms(
            base_url=settings.twilio_api_base_url, account_sid=str(creds.get("account_sid", "")),
            auth_token=str(creds.get("auth_token", "")), from_=None if service else channel.external_id,
            messaging_service_sid=service, to=f"+{contact.phone}" if contact.phone else "", body=message.body,
            status_callback=f"{settings.public_base_url}/webhooks/twilio/status", timeout=timeout, session=http)
    # Thread the reply under the customer's latest email, so their mail client shows one conversation.
    last_in = session.scalar(select(Message.payload["message_id"].as_string()).where(
        Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND).order_by(Message.id.desc()).limit(1))
    return sendgrid.send_mail(
        base_url=settings.sendgrid_api_base_url, api_key=str(creds.get("api_key", "")),
        from_email=channel.external_id, from_name=channel.name, to=contact.email or "",
        subject=f"Re: {ticket.subject}" if ticket.subject else "Re: your message", text=message.body,
        in_reply_to=last_in, references=[last_in] if last_in else [], timeout=timeout, session=http)
