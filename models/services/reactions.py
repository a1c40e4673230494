"""Put, replace or remove a reaction on a message, and tell everyone watching the ticket."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.infra import realtime
from models.reactions import Reaction
from models.services.payloads import ticket_audience
from models.tickets import Message, Ticket

MAX_EMOJI = 32


def react(session: Session, message: Message, reactor: str, emoji: str, now: datetime) -> bool:
    """Set `reactor`'s reaction on `message` to `emoji` ("" removes it). Returns whether anything changed.

    The message row is locked, so a customer's quick change of emoji (two deliveries processed at once) ends
    with the last one applied, not with two rows or a lost removal.
    """
    session.execute(select(Message.id).where(Message.id == message.id).with_for_update())
    current = session.scalars(select(Reaction).where(Reaction.message_id == message.id,
                                                     Reaction.reactor == reactor)).one_or_none()
    emoji = emoji.strip()[:MAX_EMOJI]
    if not emoji:
        if current is None:
            return False
        session.execute(delete(Reaction).where(Reaction.id == current.id))
    elif current is None:
        session.add(Reaction(tenant_id=message.tenant_id, message_id=message.id, reactor=reactor, emoji=emoji,
                             created_at=now))
    elif current.emoji == emoji:
        return False
    else:
        current.emoji, current.created_at = emoji, now
    ticket = session.get_one(Ticket, message.ticket_id)
    realtime.emit(session, message.tenant_id, "message.reaction",
                  {"ticket_id": ticket.id, "message_id": message.id, "reactor": reactor, "emoji": emoji or None},
                  ticket_audience(ticket))
    return True
