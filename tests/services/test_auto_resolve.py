"""Auto-resolve on the real PostgreSQL: idle tickets resolved once with their closing message, never while an
agent reply is queued, and two beats at once resolve (and close) each ticket once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, AutoResolveSetting, Channel, Contact, Message, Tenant, Ticket, User
from models.infra.bus import RecordingBus
from models.services import auto_resolve
from models.tickets import DeliveryStatus, Direction, TicketStatus
from tests.fakes.whatsapp import PHONE_NUMBER_ID

T0 = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # Friday 17:00 in São Paulo: the agent's last reply
IDLE = 2 * 3600
TEMPLATE = {"name": "encerramento", "language": {"code": "pt_BR"}, "components": []}


def setup(sessions: sessionmaker[Session], n: int = 1, closing: str | None = "Encerramos por falta de resposta.",
          reply_status: DeliveryStatus = DeliveryStatus.SENT, customer_at: datetime = T0 - timedelta(minutes=5),
          template: dict[str, Any] | None = None) -> list[int]:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
        ana = s.scalars(select(User).where(User.email == "ana@acme.example")).one()
        s.add(AutoResolveSetting(tenant_id=channel.tenant_id, queue_id=channel.default_queue_id, idle_seconds=IDLE,
                                 closing_message=closing, closing_template=template, updated_at=T0))
        ids = []
        for i in range(n):
            contact = Contact(tenant_id=channel.tenant_id, phone=f"55119{i:08d}", name="Maria")
            s.add(contact)
            s.flush()
            ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                            queue_id=channel.default_queue_id, agent_id=ana.id, status=TicketStatus.ASSIGNED,
                            created_at=T0 - timedelta(hours=1), updated_at=T0, required_skills=[], triage_state={},
                            first_response_at=T0 - timedelta(minutes=30), last_customer_message_at=customer_at)
            s.add(ticket)
            s.flush()
            s.add(Message(tenant_id=channel.tenant_id, ticket_id=ticket.id, channel_id=channel.id,
                          direction=Direction.OUTBOUND, body="Conseguiu resolver?", payload={}, author_id=ana.id,
                          status=reply_status, created_at=T0, attempts=1))
            ids.append(ticket.id)
        return ids


def closings(sessions: sessionmaker[Session]) -> list[Message]:
    with sessions() as s:
        return list(s.scalars(select(Message).where(Message.author_id.is_(None),
                                                    Message.direction == Direction.OUTBOUND).order_by(Message.id)))


def run(sessions: sessionmaker[Session], now: datetime) -> list[int]:
    with sessions() as s, s.begin():
        return auto_resolve.resolve_idle(s, now)


def test_an_idle_ticket_is_resolved_once_with_its_closing_message(sessions: sessionmaker[Session],
                                                                  bus: RecordingBus, tenants: dict[str, Any]) -> None:
    (ticket_id,) = setup(sessions)
    assert run(sessions, T0 + timedelta(seconds=IDLE - 1)) == []
    assert run(sessions, T0 + timedelta(seconds=IDLE)) == [ticket_id]
    assert run(sessions, T0 + timedelta(days=1)) == []  # idempotent
    with sessions() as s:
        ticket = s.get_one(Ticket, ticket_id)
        assert (ticket.status, ticket.resolved_at) == (TicketStatus.RESOLVED, T0 + timedelta(seconds=IDLE))
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.auto_resolved")).one()
        assert (entry.actor_id, entry.data["closing"]) == (None, "text")
    (closing,) = closings(sessions)
    assert (closing.body, closing.status, closing.kind) == ("Encerramos por falta de resposta.",
                                                            DeliveryStatus.QUEUED, "text")
    assert ("outbound.send_message", [closing.id]) in bus.tasks  # the normal outbound path sends it


def test_business_hours_decide_when_idle(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    (ticket_id,) = setup(sessions)
    with sessions() as s, s.begin():
        tenant = s.get_one(Tenant, tenants["users"]["ana"].tenant_id)
        weekdays = ("mon", "tue", "wed", "thu", "fri")
        tenant.settings = {**tenant.settings, "business_hours": {
            "tz": "America/Sao_Paulo", "weekly": {d: [["09:00", "18:00"]] for d in weekdays}}}
    assert run(sessions, T0 + timedelta(hours=40)) == []  # Sunday: one business hour so far
    assert run(sessions, T0 + timedelta(days=3, hours=-7)) == [ticket_id]  # Monday 10:00


def test_never_while_an_agent_reply_is_queued_nor_after_the_customer_wrote(sessions: sessionmaker[Session],
                                                                           tenants: dict[str, Any]) -> None:
    (queued,) = setup(sessions, reply_status=DeliveryStatus.QUEUED)
    assert run(sessions, T0 + timedelta(days=2)) == []
    with sessions() as s, s.begin():  # the worker sends it: from then on the ticket may go idle
        s.scalars(select(Message).where(Message.ticket_id == queued)).one().status = DeliveryStatus.SENT
    assert run(sessions, T0 + timedelta(days=2)) == [queued]


def test_customer_spoke_last(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    setup(sessions, customer_at=T0 + timedelta(minutes=1))
    assert run(sessions, T0 + timedelta(days=5)) == []


def test_outside_the_whatsapp_window_the_template_or_nothing(sessions: sessionmaker[Session],
                                                             tenants: dict[str, Any]) -> None:
    (ticket_id,) = setup(sessions, template=TEMPLATE)
    assert run(sessions, T0 + timedelta(days=2)) == [ticket_id]
    (closing,) = closings(sessions)
    assert closing.kind == "template" and closing.payload["template"]["name"] == "encerramento"


def test_outside_the_window_without_a_template_it_resolves_silently(sessions: sessionmaker[Session],
                                                                    tenants: dict[str, Any]) -> None:
    (ticket_id,) = setup(sessions)
    assert run(sessions, T0 + timedelta(days=2)) == [ticket_id]
    assert closings(sessions) == []


def test_two_beats_at_once_resolve_and_close_each_ticket_once(sessions: sessionmaker[Session],
                                                              tenants: dict[str, Any]) -> None:
    ids = setup(sessions, n=30)
    now = T0 + timedelta(seconds=IDLE + 60)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def beat() -> None:
        try:
            with sessions() as s, s.begin():
                barrier.wait(timeout=10)
                results.append(auto_resolve.resolve_idle(s, now, batch=5))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    for _ in range(6):
        threads = [threading.Thread(target=beat) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    assert sorted(x for r in results for x in r) == sorted(ids)
    assert Counter(m.ticket_id for m in closings(sessions)) == dict.fromkeys(ids, 1)
