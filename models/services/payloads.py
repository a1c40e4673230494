"""The shapes of tickets and messages in Socket.IO events, and who hears about a ticket."""

from __future__ import annotations

from typing import Any

from models.infra import realtime
from models.tickets import Contact, Message, Ticket


def ticket_audience(ticket: Ticket) -> list[str]:
    """Rooms that follow a ticket: its own, the supervisors', and its agent's (or its queue's while waiting)."""
    rooms = [realtime.ticket_room(ticket.tenant_id, ticket.id), realtime.supervisors_room(ticket.tenant_id)]
    if ticket.agent_id is not None:
        rooms.append(realtime.agent_room(ticket.tenant_id, ticket.agent_id))
    elif ticket.queue_id is not None:
        rooms.append(realtime.queue_room(ticket.tenant_id, ticket.queue_id))
    return rooms


def ticket_summary(ticket: Ticket, contact: Contact | None = None) -> dict[str, Any]:
    return {
        "id": ticket.id, "status": ticket.status.value, "priority": ticket.priority, "queue_id": ticket.queue_id,
        "agent_id": ticket.agent_id, "channel_id": ticket.channel_id, "channel_kind": ticket.channel.kind.value,
        "contact_id": ticket.contact_id,
        "contact_name": contact.name if contact else None, "contact_phone": contact.phone if contact else None,
        "created_at": ticket.created_at.isoformat(),
        "unread": is_unread(ticket),
    }


def message_view(message: Message) -> dict[str, Any]:
    return {
        "id": message.id, "ticket_id": message.ticket_id, "direction": message.direction.value,
        "kind": message.kind, "body": message.body, "status": message.status.value,
        "author_id": message.author_id, "created_at": message.created_at.isoformat(),
        **structured(message),
        "mentions": mentions_of(message),
    }


def structured(message: Message) -> dict[str, Any]:
    """What a message carries besides its text, as the API's message JSON and `message.created` both show it:
    the quoted message, a shared location, contact cards, our buttons or list (or the customer's choice)."""
    payload = message.payload or {}
    found = payload.get("content")
    content: dict[str, Any] = found if isinstance(found, dict) else {}
    return {"reply_to": payload.get("reply_to_id"), "location": content.get("location"),
            "contacts": content.get("contacts"),
            "interactive": content.get("interactive") or payload.get("interactive")}


def mentions_of(message: Message) -> list[int]:
    """The ids of the users a note mentions (stored with it, in its payload)."""
    found = (message.payload or {}).get("mentions")
    return [int(i) for i in found] if isinstance(found, list) else []


def is_unread(ticket: Ticket) -> bool:
    """The customer wrote after the agent last marked the ticket read."""
    last = ticket.last_customer_message_at
    return last is not None and (ticket.read_at is None or last > ticket.read_at)
