"""The 24-hour window warning: once per window, only for assigned WhatsApp conversations, even with two beats."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Ticket, TicketNotice
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.services import window
from models.tickets import TicketStatus
from tests.fakes import twilio as tw

HOUR = 3600.0


def _ticket(sessions: sessionmaker[Session], tenants: dict[str, Any], written_ago: timedelta, *,
            channel_ref: str = "106540352242922", assigned: bool = True, phone: str = "5511900000003") -> int:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == channel_ref)).one()
        contact = Contact(tenant_id=channel.tenant_id, phone=phone)
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id,
                        agent_id=tenants["users"]["ana"].id if assigned else None,
                        status=TicketStatus.ASSIGNED if assigned else TicketStatus.QUEUED,
                        last_customer_message_at=utcnow() - written_ago)
        s.add(ticket)
        s.flush()
        return ticket.id


def test_warns_once_per_window_and_only_when_it_is_near(sessions: sessionmaker[Session], bus: RecordingBus,
                                                       tenants: dict[str, Any]) -> None:
    closing = _ticket(sessions, tenants, timedelta(hours=23, minutes=30))
    _ticket(sessions, tenants, timedelta(hours=2), phone="5511900000004")  # far from closing
    _ticket(sessions, tenants, timedelta(hours=25), phone="5511900000005")  # already closed
    _ticket(sessions, tenants, timedelta(hours=23, minutes=30), assigned=False, phone="5511900000006")  # nobody's
    _ticket(sessions, tenants, timedelta(hours=23, minutes=30), channel_ref=tw.OUR_NUMBER, phone="5511900000007")
    for _ in range(2):
        with sessions() as s, s.begin():
            window.warn_closing(s, utcnow(), HOUR)
    warnings = [(name, data["data"]["ticket_id"], room) for name, data, room in bus.events if name == "window.closing"]
    ana = tenants["users"]["ana"]
    assert sorted(room for *_, room in warnings) == [f"t{ana.tenant_id}:agent:{ana.id}",
                                                     f"t{ana.tenant_id}:ticket:{closing}"]
    assert {ticket for _, ticket, _ in warnings} == {closing}


def test_two_beats_at_once_warn_once(sessions: sessionmaker[Session], bus: RecordingBus,
                                     tenants: dict[str, Any]) -> None:
    for i in range(20):
        _ticket(sessions, tenants, timedelta(hours=23, minutes=10), phone=f"55119000010{i:02d}")
    barrier, counts = threading.Barrier(2), []

    def beat() -> None:
        barrier.wait()
        with sessions() as s, s.begin():
            counts.append(window.warn_closing(s, utcnow(), HOUR))

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sum(counts) == 20
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(TicketNotice)) == 20
    assert len([1 for name, _, room in bus.events if name == "window.closing" and ":agent:" in room]) == 20
