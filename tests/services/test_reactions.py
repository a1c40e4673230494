"""Reactions annotate a message: set, replaced, removed, one per reactor, pushed live; concurrent changes settle."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Message, Reaction, Ticket
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.reactions import CUSTOMER, user_reactor
from models.services.reactions import react
from models.tickets import DeliveryStatus, Direction


def _message(sessions: sessionmaker[Session]) -> int:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000009")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id)
        s.add(ticket)
        s.flush()
        message = Message(tenant_id=channel.tenant_id, ticket_id=ticket.id, channel_id=channel.id,
                          direction=Direction.OUTBOUND, body="Seu pedido saiu", status=DeliveryStatus.SENT)
        s.add(message)
        s.flush()
        return message.id


def _reactions(sessions: sessionmaker[Session], message_id: int) -> list[tuple[str, str]]:
    with sessions() as s:
        return [(r.reactor, r.emoji) for r in s.scalars(select(Reaction).where(Reaction.message_id == message_id)
                                                        .order_by(Reaction.reactor))]


def _react(sessions: sessionmaker[Session], message_id: int, reactor: str, emoji: str) -> bool:
    with sessions() as s, s.begin():
        return react(s, s.get_one(Message, message_id), reactor, emoji, utcnow())


def test_set_replace_remove(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    message_id = _message(sessions)
    ana = tenants["users"]["ana"]
    assert _react(sessions, message_id, CUSTOMER, "👍")
    assert _react(sessions, message_id, user_reactor(ana.id), "❤️")
    assert not _react(sessions, message_id, CUSTOMER, "👍")  # the same again changes nothing
    assert _react(sessions, message_id, CUSTOMER, "😮")
    assert _reactions(sessions, message_id) == [("customer", "😮"), (f"user:{ana.id}", "❤️")]
    assert _react(sessions, message_id, CUSTOMER, "")
    assert not _react(sessions, message_id, CUSTOMER, "")
    assert _reactions(sessions, message_id) == [(f"user:{ana.id}", "❤️")]
    live = [e[1]["data"]["emoji"] for e in bus.events if e[0] == "message.reaction" and ":supervisors" in e[2]]
    assert live == ["👍", "❤️", "😮", None]


def test_concurrent_changes_leave_one_reaction(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    message_id = _message(sessions)
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def change(emoji: str) -> None:
        barrier.wait()
        try:
            _react(sessions, message_id, CUSTOMER, emoji)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=change, args=(e,)) for e in ("👍", "😂", "🙏", "👏")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    assert len(_reactions(sessions, message_id)) == 1
