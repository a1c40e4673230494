"""WhatsApp's 24-hour customer window: warn the assigned agent before it closes, once per window.

Free-form replies are allowed only within 24 hours of the customer's last message; after that only a template.
An agent told an hour ahead can still answer in plain words. The window is identified by its end (the
customer's last message + 24 h), so a new customer message opens a new window and a new warning.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.infra import realtime
from models.infra.db import insert_or_ignore
from models.notices import TicketNotice
from models.org import Channel, ChannelKind
from models.tickets import Ticket, TicketStatus

WINDOW = timedelta(hours=24)
KIND = "window.closing"


def warn_closing(session: Session, now: datetime, lead_seconds: float, limit: int = 500) -> int:
    """Warn about every assigned WhatsApp conversation whose window closes within `lead_seconds`. Returns how many.

    Safe to run twice at once: the notice row's unique key lets one transaction win per window.
    """
    soonest = now - WINDOW  # windows that end after now...
    latest = now - WINDOW + timedelta(seconds=lead_seconds)  # ...and before now + lead
    rows = session.execute(
        select(Ticket.id, Ticket.tenant_id, Ticket.agent_id, Ticket.last_customer_message_at)
        .join(Channel, Channel.id == Ticket.channel_id)
        .where(Ticket.status != TicketStatus.RESOLVED, Ticket.agent_id.is_not(None),
               Ticket.last_customer_message_at > soonest, Ticket.last_customer_message_at <= latest,
               Channel.kind == ChannelKind.WHATSAPP)
        .order_by(Ticket.last_customer_message_at)
        .limit(limit)
    ).all()
    warned = 0
    for ticket_id, tenant_id, agent_id, last in rows:
        closes_at = last + WINDOW
        if insert_or_ignore(session, TicketNotice, {"tenant_id": tenant_id, "ticket_id": ticket_id, "kind": KIND,
                                                    "at": closes_at, "created_at": now},
                            ["ticket_id", "kind", "at"]) is None:
            continue  # already warned about this window
        realtime.emit(session, tenant_id, KIND, {"ticket_id": ticket_id, "closes_at": closes_at.isoformat()},
                      [realtime.agent_room(tenant_id, agent_id), realtime.ticket_room(tenant_id, ticket_id)])
        warned += 1
    return warned
