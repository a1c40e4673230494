"""The triage bot on the real database: menu, re-prompts, fallback, timeout, off hours, reopen window."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Message, Queue, Tenant, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.services import sla, triage
from models.tickets import Direction, TicketStatus
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store

TRIAGE = {
    "greeting": "Olá!",
    "menu": {"prompt": "1 - Suporte / 2 - Vendas", "options": {"1": "Support", "2": "Sales"}, "max_attempts": 2,
             "timeout_seconds": 300},
    "off_hours_reply": "Fechados agora.",
    "fallback_reply": "Passando para um atendente.",
    "reopen_window_seconds": 3600,
}


def configure(sessions: sessionmaker[Session], triage_doc: dict[str, Any], hours: dict[str, Any] | None = None
              ) -> None:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        channel.settings = {"triage": triage_doc}
        if hours is not None:
            tenant = s.get_one(Tenant, channel.tenant_id)
            tenant.settings = {"business_hours": hours}


def say(sessions: sessionmaker[Session], bus: RecordingBus, wamid: str, body: str) -> None:
    store(sessions, text_delivery(wamid, body=body))
    drain(sessions, bus)


def state(sessions: sessionmaker[Session]) -> tuple[str | None, list[str]]:
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        queue = s.get(Queue, ticket.queue_id) if ticket.queue_id else None
        bot = [m.body for m in s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND)
                                         .order_by(Message.id))]
        return (queue.name if queue else None), bot


def test_menu_routes_the_ticket_after_a_wrong_answer(sessions: sessionmaker[Session], bus: RecordingBus,
                                                     tenants: dict[str, Any]) -> None:
    configure(sessions, TRIAGE)
    say(sessions, bus, "w1", "oi")
    assert state(sessions) == (None, ["Olá!", "1 - Suporte / 2 - Vendas"])
    say(sessions, bus, "w2", "quero falar com alguém")
    assert state(sessions)[0] is None and "1 - Suporte / 2 - Vendas" in state(sessions)[1][-1]
    say(sessions, bus, "w3", "2")
    assert state(sessions)[0] == "Sales"


def test_too_many_wrong_answers_go_to_the_default_queue(sessions: sessionmaker[Session], bus: RecordingBus,
                                                        tenants: dict[str, Any]) -> None:
    configure(sessions, TRIAGE)
    for i, text in enumerate(["oi", "x", "y"]):
        say(sessions, bus, f"w{i}", text)
    queue, replies = state(sessions)
    assert queue == "Support" and replies[-1] == "Passando para um atendente."


def test_a_silent_customer_leaves_the_menu_after_the_timeout(sessions: sessionmaker[Session], bus: RecordingBus,
                                                             tenants: dict[str, Any]) -> None:
    configure(sessions, TRIAGE)
    with sessions() as s, s.begin():  # the Support queue answers within 10 minutes
        carla = s.scalars(select(User).where(User.email == "carla@acme.example")).one()
        support = s.scalars(select(Queue.id).where(Queue.tenant_id == carla.tenant_id, Queue.name == "Support")).one()
        sla.save_policy(s, carla, {"name": "support", "queue_id": support, "first_response_seconds": 600},
                        utcnow() - timedelta(days=1))
    say(sessions, bus, "w1", "oi")
    with sessions() as s, s.begin():
        assert triage.expire_menus(s, utcnow() + timedelta(seconds=60)) == 0
    later = utcnow() + timedelta(seconds=301)
    with sessions() as s, s.begin():
        assert triage.expire_menus(s, later) == 1
    assert state(sessions)[0] == "Support"
    with sessions() as s:  # out of the menu, into the queue's SLA
        ticket = s.scalars(select(Ticket)).one()
        assert ticket.first_response_due_at is not None and ticket.first_response_due_at > later


def test_off_hours_auto_reply(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    closed = {"tz": "America/Sao_Paulo", "weekly": {}, "holidays": []}  # never open
    configure(sessions, {"off_hours_reply": "Fechados agora."}, hours=closed)
    say(sessions, bus, "w1", "oi")
    assert state(sessions) == ("Support", ["Fechados agora."])


def test_a_recently_resolved_ticket_is_reopened_an_old_one_is_not(sessions: sessionmaker[Session],
                                                                  bus: RecordingBus, tenants: dict[str, Any]) -> None:
    configure(sessions, {"reopen_window_seconds": 3600})
    say(sessions, bus, "w1", "oi")
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, utcnow() - timedelta(minutes=10)
    say(sessions, bus, "w2", "voltei")
    with sessions() as s:
        tickets = s.scalars(select(Ticket)).all()
        assert len(tickets) == 1 and tickets[0].status == TicketStatus.QUEUED and tickets[0].reopened_at
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        ticket.status, ticket.resolved_at = TicketStatus.RESOLVED, utcnow() - timedelta(hours=2)
    say(sessions, bus, "w3", "de novo")
    with sessions() as s:
        assert len(s.scalars(select(Ticket)).all()) == 2
