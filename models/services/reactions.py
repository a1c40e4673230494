"""Put, replace or remove a reaction on a message, and tell everyone watching the ticket.

A customer's reaction (WhatsApp `type: reaction`) is applied by triage to the message it names, never stored as
a message of its own: no ticket is opened or reopened, no SLA clock moves. An agent's reaction is recorded the
same way and sent to WhatsApp as a reaction send through the outbound path (a hidden outbound row of kind
"reaction": exactly once, behind the breaker, dead-lettered like any send). WhatsApp keeps one reaction per
sender, and the business number is one sender: the customer sees the latest agent's emoji.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from models.errors import Forbidden, Invalid, NotFound
from models.infra import realtime
from models.org import Channel, ChannelKind, Role, User
from models.providers.base import ParsedMessage
from models.reactions import CUSTOMER, Reaction, user_reactor
from models.rules.phones import normalize_phone
from models.services.conversation import WHATSAPP_WINDOW, get_ticket
from models.services.outbound import queue_text
from models.services.payloads import ticket_audience
from models.tickets import Contact, Direction, Message, Ticket

REACTING_KINDS = frozenset({ChannelKind.WHATSAPP, ChannelKind.SANDBOX})

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


def customer_reacted(session: Session, channel: Channel, parsed: ParsedMessage, now: datetime) -> bool:
    """Apply a customer's reaction to the message of theirs or ours it names; one naming a message of another
    conversation, or none we know, changes nothing. Returns whether anything changed."""
    if parsed.reaction is None:
        return False
    target = session.scalars(
        select(Message).join(Ticket, Ticket.id == Message.ticket_id).join(Contact, Contact.id == Ticket.contact_id)
        .where(Message.channel_id == channel.id, Message.provider_message_id == parsed.reaction.message_id,
               Contact.phone == normalize_phone(parsed.sender))).one_or_none()
    if target is None:
        return False
    return react(session, target, CUSTOMER, parsed.reaction.emoji, now)


def agent_react(session: Session, user: User, ticket_id: int, message_id: int, emoji: str,
                now: datetime) -> Message:
    """Set (or, with "", remove) the user's reaction on a message of the ticket and send it to the customer."""
    ticket = get_ticket(session, user, ticket_id)
    message = session.scalars(select(Message).where(Message.id == message_id, Message.ticket_id == ticket.id,
                                                    Message.kind != "reaction")).one_or_none()
    if message is None:
        raise NotFound("message not found")
    channel = session.get_one(Channel, ticket.channel_id)
    if channel.kind not in REACTING_KINDS:
        raise Invalid(f"{channel.kind.value} has no reactions", field="emoji", code="reactions_unsupported")
    if message.direction == Direction.NOTE or not message.provider_message_id:
        raise Invalid("only a message the customer has (sent or received) can be reacted to", field="message_id",
                      code="message_not_sent")
    if user.role == Role.AGENT and ticket.agent_id != user.id:
        raise Forbidden("ticket is assigned to someone else")
    last = ticket.last_customer_message_at
    if channel.kind == ChannelKind.WHATSAPP and (last is None or now - last > WHATSAPP_WINDOW):
        raise Invalid("outside WhatsApp's 24-hour customer window: reactions cannot be sent", field="emoji",
                      code="window_closed")
    emoji = emoji.strip()[:MAX_EMOJI]
    if react(session, message, user_reactor(user.id), emoji, now):
        queue_text(session, ticket, emoji, user.id, now, kind="reaction",
                   payload={"reaction": {"message_id": message.provider_message_id, "emoji": emoji}})
    return message
