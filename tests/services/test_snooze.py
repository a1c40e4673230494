"""Snoozed tickets wake once: by beat at their time (two beats at once on the real PostgreSQL), or by a reply."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Channel, Contact, SlaPause, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.org import Role
from models.services import workflow
from models.tickets import TicketStatus
from tests.fakes.whatsapp import PHONE_NUMBER_ID, text_delivery
from tests.services.helpers import drain, store

TICKETS = 40


def snoozed_tickets(sessions: sessionmaker[Session], n: int, agent: bool = True) -> tuple[list[int], Any]:
    """`n` tickets of ana's (or of the queue, without agent), snoozed by her for one hour."""
    now = utcnow()
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
        ana = s.scalars(select(User).where(User.email == "ana@acme.example")).one()
        if not agent:  # a ticket still in the queue: only a supervisor may put it aside
            ana.role = Role.SUPERVISOR
        ids = []
        for i in range(n):
            contact = Contact(tenant_id=channel.tenant_id, phone=f"55119{i:08d}")
            s.add(contact)
            s.flush()
            ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                            queue_id=channel.default_queue_id, agent_id=ana.id if agent else None,
                            status=TicketStatus.ASSIGNED if agent else TicketStatus.QUEUED, created_at=now,
                            updated_at=now, required_skills=[], triage_state={}, last_customer_message_at=now)
            s.add(ticket)
            s.flush()
            workflow.snooze(s, ana, ticket.id, now, until=now + timedelta(hours=1))
            ids.append(ticket.id)
    return ids, now + timedelta(hours=1)


def woken(sessions: sessionmaker[Session]) -> Counter[int]:
    with sessions() as s:
        return Counter(s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "ticket.woken")))


def test_beat_wakes_a_snoozed_ticket_once_at_its_time(sessions: sessionmaker[Session], bus: RecordingBus,
                                                      tenants: dict[str, Any]) -> None:
    (ticket_id,), until = snoozed_tickets(sessions, 1)
    with sessions() as s, s.begin():
        assert workflow.wake_snoozed(s, until - timedelta(seconds=1)) == []  # not yet
    with sessions() as s, s.begin():
        assert workflow.wake_snoozed(s, until) == [ticket_id]
    with sessions() as s, s.begin():
        assert workflow.wake_snoozed(s, until + timedelta(minutes=5)) == []  # and never again
    with sessions() as s:
        ticket = s.get_one(Ticket, ticket_id)
        assert (ticket.status, ticket.snoozed_at, ticket.snoozed_until) == (TicketStatus.ASSIGNED, None, None)
        pause = s.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)).one()
        assert pause.ended_at == until  # the SLA clocks stood still while it slept
    assert woken(sessions) == {ticket_id: 1}
    sent = {e["id"]: e["data"]["change"] for name, e, _room in bus.events if name == "ticket.updated"}  # per room
    changes = [sent[k] for k in sorted(sent)]
    assert changes == ["snoozed", "woken"]


def test_a_ticket_without_agent_wakes_into_its_queue(sessions: sessionmaker[Session], bus: RecordingBus,
                                                     tenants: dict[str, Any]) -> None:
    (ticket_id,), until = snoozed_tickets(sessions, 1, agent=False)
    bus.tasks.clear()
    with sessions() as s, s.begin():
        workflow.wake_snoozed(s, until)
    with sessions() as s:
        ticket = s.get_one(Ticket, ticket_id)
        assert ticket.status == TicketStatus.QUEUED and ticket.agent_id is None
        assert bus.tasks == [("assignment.assign_queue", [ticket.queue_id])]


def test_two_beats_at_once_wake_each_ticket_once(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ids, until = snoozed_tickets(sessions, TICKETS)
    barrier = threading.Barrier(2)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def beat(batch: int) -> None:
        try:
            with sessions() as s, s.begin():
                barrier.wait(timeout=10)
                results.append(workflow.wake_snoozed(s, until, limit=batch))
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    # Small batches, several rounds: the two runs overlap on the same rows again and again.
    for _ in range(TICKETS // 4):
        threads = [threading.Thread(target=beat, args=(4,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    assert not errors, errors
    assert sorted(x for r in results for x in r) == sorted(ids)
    assert woken(sessions) == dict.fromkeys(ids, 1)


def test_a_beat_holding_the_rows_makes_the_other_skip_them(sessions: sessionmaker[Session],
                                                           tenants: dict[str, Any]) -> None:
    ids, until = snoozed_tickets(sessions, 3)
    with sessions() as first:
        first.begin()
        assert sorted(workflow.wake_snoozed(first, until)) == sorted(ids)  # locked, not committed yet
        with sessions() as second, second.begin():
            assert workflow.wake_snoozed(second, until) == []  # skipped, not waited for
        first.commit()
    with sessions() as second, second.begin():
        assert workflow.wake_snoozed(second, until) == []  # committed: no longer snoozed
    assert woken(sessions) == dict.fromkeys(ids, 1)


def test_a_customer_reply_wakes_a_snoozed_ticket_and_beat_then_leaves_it(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    store(sessions, text_delivery("wamid.1"))
    drain(sessions, bus)
    now = utcnow()
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        ana = s.scalars(select(User).where(User.email == "ana@acme.example")).one()
        ticket.agent_id, ticket.status = ana.id, TicketStatus.ASSIGNED
        s.flush()
        workflow.snooze(s, ana, ticket.id, now, until=now + timedelta(hours=2))
        ticket_id = ticket.id
    store(sessions, text_delivery("wamid.2", body="voltei"))
    drain(sessions, bus)
    with sessions() as s:
        ticket = s.get_one(Ticket, ticket_id)
        assert (ticket.status, ticket.snoozed_until) == (TicketStatus.ASSIGNED, None)
        assert s.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id)).one().ended_at is not None
        resumed = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.resumed")).one()
        assert resumed.data == {"by": "customer"} and resumed.actor_id is None
    with sessions() as s, s.begin():
        assert workflow.wake_snoozed(s, now + timedelta(hours=3)) == []


def snooze_at_once(sessions: sessionmaker[Session], ticket_id: int, now: datetime,
                   snoozes: list[tuple[str, timedelta]]) -> None:
    """Each (agent email, for how long) snoozes the ticket in its own thread and transaction, released together."""
    barrier = threading.Barrier(len(snoozes))
    errors: list[BaseException] = []

    def run(email: str, length: timedelta) -> None:
        try:
            with sessions() as s, s.begin():
                user = s.scalars(select(User).where(User.email == email)).one()
                barrier.wait(timeout=10)
                workflow.snooze(s, user, ticket_id, now, until=now + length)
        except BaseException as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=item) for item in snoozes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


def test_two_people_snoozing_one_ticket_at_once_leave_one_consistent_snooze(sessions: sessionmaker[Session],
                                                                           tenants: dict[str, Any]) -> None:
    (ticket_id,), until = snoozed_tickets(sessions, 1)
    with sessions() as s, s.begin():  # ana owns the ticket; carla supervises
        carla = s.scalars(select(User).where(User.email == "carla@acme.example")).one()
    for minute in range(10):
        now = until - timedelta(minutes=30 - minute)
        with sessions() as s, s.begin():  # awake again before each round
            workflow.resume(s, s.get_one(User, carla.id), ticket_id, now)
        snooze_at_once(sessions, ticket_id, now + timedelta(seconds=1),
                       [("ana@acme.example", timedelta(hours=1)), ("carla@acme.example", timedelta(hours=2))])
        with sessions() as s:
            ticket = s.get_one(Ticket, ticket_id)
            last = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.snoozed")
                             .order_by(AuditEntry.id.desc()).limit(1)).one()
            assert ticket.status == TicketStatus.PENDING and ticket.snoozed_until is not None
            assert ticket.snoozed_until.isoformat() == last.data["until"]  # the last writer's, whole
            open_pauses = s.scalars(select(SlaPause).where(SlaPause.ticket_id == ticket_id,
                                                           SlaPause.ended_at.is_(None))).all()
            assert len(open_pauses) == 1  # one pause, however many snoozes raced
