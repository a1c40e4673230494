"""Two agents labeling the same ticket at once, on the real PostgreSQL, each in its own thread and connection.

The ticket's row lock serialises the changes (models/services/labels.py): no lost update, no duplicate row,
one audit entry per real change.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Channel, Contact, Label, Ticket, TicketLabel, User
from models.base import utcnow
from models.services import labels
from models.tickets import TicketStatus
from tests.fakes.whatsapp import PHONE_NUMBER_ID

ROUNDS = 15


def setup(sessions: sessionmaker[Session]) -> tuple[int, list[int], list[int]]:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000001")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, status=TicketStatus.QUEUED, created_at=utcnow(),
                        updated_at=utcnow(), required_skills=[], triage_state={})
        s.add(ticket)
        found = [Label(tenant_id=channel.tenant_id, name=f"l{i}") for i in range(4)]
        s.add_all(found)
        s.flush()
        agents = list(s.scalars(select(User.id).where(User.tenant_id == channel.tenant_id,
                                                      User.email.in_(["ana@acme.example", "bruno@acme.example"]))))
        return ticket.id, [label.id for label in found], agents


def at_once(sessions: sessionmaker[Session], agent_ids: list[int], work: list[Callable[[Session, User], Any]]) -> None:
    """Run each `work` item in its own thread and transaction, released together by a barrier."""
    barrier = threading.Barrier(len(work))
    errors: list[BaseException] = []

    def run(agent_id: int, fn: Callable[[Session, User], Any]) -> None:
        try:
            with sessions() as s, s.begin():
                user = s.get_one(User, agent_id)
                barrier.wait(timeout=10)
                fn(s, user)
        except BaseException as exc:  # collected, asserted in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(agent_ids[i % len(agent_ids)], fn)) for i, fn in enumerate(work)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors, errors


def stored(sessions: sessionmaker[Session], ticket_id: int) -> list[int]:
    with sessions() as s:
        return sorted(s.scalars(select(TicketLabel.label_id).where(TicketLabel.ticket_id == ticket_id)))


def test_two_agents_adding_at_once_lose_nothing_and_store_nothing_twice(sessions: sessionmaker[Session],
                                                                       tenants: dict[str, Any]) -> None:
    ticket_id, (a, b, c, _d), agents = setup(sessions)
    for _ in range(ROUNDS):
        # Different labels at once: both stay. The same label at once: one row, one audit entry.
        at_once(sessions, agents, [lambda s, u: labels.add(s, u, labels.TICKETS, ticket_id, a, utcnow()),
                                   lambda s, u: labels.add(s, u, labels.TICKETS, ticket_id, b, utcnow()),
                                   lambda s, u: labels.add(s, u, labels.TICKETS, ticket_id, c, utcnow()),
                                   lambda s, u: labels.add(s, u, labels.TICKETS, ticket_id, c, utcnow())])
        assert stored(sessions, ticket_id) == [a, b, c]
        at_once(sessions, agents, [lambda s, u: labels.remove(s, u, labels.TICKETS, ticket_id, a, utcnow()),
                                   lambda s, u: labels.remove(s, u, labels.TICKETS, ticket_id, b, utcnow()),
                                   lambda s, u: labels.remove(s, u, labels.TICKETS, ticket_id, c, utcnow())])
        assert stored(sessions, ticket_id) == []
    with sessions() as s:
        changes = s.scalar(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "ticket.labels_changed"))
    assert changes == ROUNDS * 6  # 3 adds + 3 removes per round; the duplicate add changed nothing


def test_two_agents_replacing_the_set_at_once_leave_one_of_the_sets(sessions: sessionmaker[Session],
                                                                   tenants: dict[str, Any]) -> None:
    ticket_id, (a, b, c, d), agents = setup(sessions)
    for _ in range(ROUNDS):
        at_once(sessions, agents, [lambda s, u: labels.replace(s, u, labels.TICKETS, ticket_id, [a, b], utcnow()),
                                   lambda s, u: labels.replace(s, u, labels.TICKETS, ticket_id, [c, d], utcnow())])
        # Without the lock each would diff against a stale read and the union (or a mix) would remain.
        assert stored(sessions, ticket_id) in ([a, b], [c, d])
        with sessions() as s:  # the last audit entry tells the last writer, and it matches what is stored
            last = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.labels_changed")
                             .order_by(AuditEntry.id.desc()).limit(1)).one()
            assert sorted(last.data["added"]) == stored(sessions, ticket_id)
