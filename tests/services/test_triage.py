"""Triage on the real database: contacts, ticket reuse, exactly-once messages, forward-only statuses."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, ContactIdentity, InboxEvent, Message, RealtimeEvent, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.services import tickets, triage
from models.services.payloads import message_view
from models.tickets import DeliveryStatus, Direction, TicketStatus
from tests.fakes.whatsapp import status_delivery, text_delivery
from tests.services.helpers import drain, store


def count(s: Session, model: Any) -> int:
    return s.scalar(select(func.count()).select_from(model)) or 0


@contextmanager
def statements_run(sessions: sessionmaker[Session]) -> Iterator[list[str]]:
    """The SQL statements sent to the database inside the block, whitespace folded."""
    executed: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        executed.append(" ".join(statement.split()))

    bind = sessions.kw["bind"]
    event.listen(bind, "before_cursor_execute", seen)
    try:
        yield executed
    finally:
        event.remove(bind, "before_cursor_execute", seen)


def test_a_message_opens_a_ticket_in_the_channel_queue(sessions: sessionmaker[Session], bus: RecordingBus,
                                                       tenants: dict[str, Any]) -> None:
    assert store(sessions, text_delivery("wamid.1", sender="551187654321")).stored == 1
    assert drain(sessions, bus) == ["triage.process_event", "assignment.assign_queue"]
    with sessions() as s:
        contact = s.scalars(select(Contact)).one()
        ticket = s.scalars(select(Ticket)).one()
        message = s.scalars(select(Message)).one()
    assert (contact.phone, contact.name) == ("5511987654321", "Maria Silva")  # ninth digit restored
    assert ticket.status == TicketStatus.QUEUED  # nobody online yet
    assert ticket.queue_id == tenants["channels"]["106540352242922"].default_queue_id
    assert (message.direction, message.body, message.ticket_id) == (Direction.INBOUND, "Olá, preciso de ajuda",
                                                                    ticket.id)
    assert [name for name, _d, _r in bus.events] == ["ticket.created", "ticket.created", "ticket.created",
                                                     "message.created", "message.created", "message.created"]


def test_a_returning_contact_reuses_the_open_ticket(sessions: sessionmaker[Session], bus: RecordingBus,
                                                    tenants: dict[str, Any]) -> None:
    store(sessions, text_delivery("wamid.1"))
    store(sessions, text_delivery("wamid.2", body="alguém?"))
    drain(sessions, bus)
    with sessions() as s:
        assert count(s, Ticket) == 1
        assert count(s, Message) == 2


def test_redeliveries_store_nothing_and_processing_twice_changes_nothing(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    assert store(sessions, text_delivery("wamid.1")).stored == 1
    assert store(sessions, text_delivery("wamid.1")).duplicates == 1
    inbox_id = bus.tasks[0][1][0]
    drain(sessions, bus)
    with sessions() as s, s.begin():
        assert triage.process_event(s, inbox_id, utcnow()) == "skipped"
    with sessions() as s:
        assert (count(s, InboxEvent), count(s, Message), count(s, Ticket)) == (1, 1, 1)


def test_a_message_moves_its_tickets_clocks_and_a_copy_of_it_moves_nothing(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    # The message insert, the ticket's clocks and the event's processed mark are one statement on PostgreSQL:
    # the UPDATE reads the insert's RETURNING, so the same message under another event id (a provider resending
    # it) must leave both alone, yet its own event is marked processed once, and a second run skips it.
    store(sessions, text_delivery("wamid.1"))
    drain(sessions, bus)
    later = utcnow() + timedelta(hours=1)
    with sessions() as s, s.begin():
        first = s.scalars(select(InboxEvent)).one()
        copy = InboxEvent(tenant_id=first.tenant_id, channel_id=first.channel_id, provider=first.provider,
                          event_id="copy-of-wamid.1", kind=first.kind, payload=first.payload,
                          received_at=later, attempts=0)
        s.add(copy)
        s.flush()
        copy_id = copy.id
        before = s.scalars(select(Ticket)).one().last_customer_message_at
    with sessions() as s, s.begin():
        assert triage.process_event(s, copy_id, later) == "processed"
    with sessions() as s, s.begin():
        assert triage.process_event(s, copy_id, later) == "skipped"
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (count(s, Message), ticket.last_customer_message_at) == (1, before)
        marked = s.get(InboxEvent, copy_id)
        assert marked is not None and (marked.processed_at, marked.attempts) == (later, 1)
    store(sessions, text_delivery("wamid.2", body="ainda aqui"))
    with sessions() as s, s.begin():
        next_id = bus.tasks.pop()[1][0]
        triage.process_event(s, next_id, later)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert (count(s, Message), ticket.last_customer_message_at, ticket.updated_at) == (2, later, later)
        marked = s.get(InboxEvent, next_id)
        assert marked is not None and (marked.processed_at, marked.attempts) == (later, 1)


def test_a_new_senders_first_message_is_twelve_statements_at_most_and_its_events_keep_their_order(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    # Contact and identity in one statement, the ticket written with its queue (no UPDATE after), and the
    # transaction's real-time events in one INSERT at commit: still in the order they were emitted, and each
    # with the id of its row, which is what a reconnecting console replays from.
    store(sessions, text_delivery("wamid.first", sender="5511912345678"))
    inbox_id = bus.tasks.pop()[1][0]
    with statements_run(sessions) as executed, sessions() as s, s.begin():
        assert triage.process_event(s, inbox_id, utcnow()) == "processed"
    assert len(executed) <= 12, executed
    assert [x for x in executed if x.startswith("UPDATE tickets")] == []
    assert len([x for x in executed if x.startswith("INSERT INTO realtime_events")]) == 1
    sent = [(name, envelope["id"]) for name, envelope, _room in bus.events]
    with sessions() as s:
        rows = [(e.name, e.id) for e in s.scalars(select(RealtimeEvent).order_by(RealtimeEvent.id))]
        ticket = s.scalars(select(Ticket)).one()
        contact = s.scalars(select(Contact)).one()
        identities = s.scalars(select(ContactIdentity.value).where(ContactIdentity.contact_id == contact.id)).all()
    assert [n for n, _i in rows] == ["ticket.created", "message.created"]
    assert list(dict.fromkeys(sent)) == rows  # once per room on the bus, in the rows' order, with their ids
    assert ticket.queue_id == tenants["channels"]["106540352242922"].default_queue_id
    assert (contact.phone, identities) == ("5511912345678", ["5511912345678"])


def test_a_message_on_an_open_ticket_is_three_statements_and_its_event_row_is_what_agents_got(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    # The event, the contact with its open ticket, and the message's statement, which also writes the
    # `message.created` row: what a reconnecting console replays is exactly what the live one was sent, and a
    # copy of the message under another event id writes no event at all.
    store(sessions, text_delivery("wamid.1"))
    drain(sessions, bus)
    store(sessions, text_delivery("wamid.2", body="mais uma coisa"))
    inbox_id = bus.tasks.pop()[1][0]
    bus.events.clear()
    with statements_run(sessions) as executed, sessions() as s, s.begin():
        assert triage.process_event(s, inbox_id, utcnow()) == "processed"
    assert len(executed) == 3, executed
    assert {name for name, _envelope, _room in bus.events} == {"message.created"}
    envelope, rooms = bus.events[0][1], sorted({room for _name, _envelope, room in bus.events})
    with sessions() as s:
        row = s.get_one(RealtimeEvent, envelope["id"])
        message = s.scalars(select(Message).where(Message.provider_message_id == "wamid.2")).one()
        assert (row.name, row.rooms, row.data) == ("message.created", rooms, envelope["data"])
        assert envelope["data"] == message_view(message)
        first = s.scalars(select(InboxEvent).where(InboxEvent.event_id == "wamid.2")).one()
        copy = InboxEvent(tenant_id=first.tenant_id, channel_id=first.channel_id, provider=first.provider,
                          event_id="copy-of-wamid.2", kind=first.kind, payload=first.payload,
                          received_at=utcnow(), attempts=0)
        s.add(copy)
        s.commit()
        copy_id, events_before = copy.id, count(s, RealtimeEvent)
    bus.events.clear()
    with sessions() as s, s.begin():
        assert triage.process_event(s, copy_id, utcnow()) == "processed"
    with sessions() as s:
        assert (count(s, Message), count(s, RealtimeEvent), bus.events) == (2, events_before, [])


@pytest.mark.commits
@pytest.mark.parametrize("change", ["resolved", "prioritised"])
def test_a_ticket_an_agent_changes_while_triage_works_gets_the_message_once_and_never_when_resolved(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any], change: str) -> None:
    # Triage reads the open ticket with the contact, without locking it, and the message's statement checks the
    # ticket's row version. A supervisor's change committed in between (here: right after that read) makes it
    # write nothing and read the ticket again, locked: a resolved ticket gets no message (a new ticket does),
    # a changed one gets it once.
    store(sessions, text_delivery("wamid.1"))
    drain(sessions, bus)
    with sessions() as s:
        first = s.scalars(select(Ticket)).one().id
    store(sessions, text_delivery("wamid.2", body="ainda aí?"))
    inbox_id = bus.tasks.pop()[1][0]
    carla = tenants["users"]["carla"]
    fired: list[str] = []

    def meanwhile(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not fired and statement.startswith("SELECT contacts.") and "LEFT OUTER JOIN tickets" in statement:
            fired.append(statement)
            with sessions() as other, other.begin():
                actor = other.get_one(User, carla.id)
                if change == "resolved":
                    tickets.resolve(other, actor, first, utcnow())
                else:
                    tickets.set_priority(other, actor, first, 2, utcnow())

    bind = sessions.kw["bind"]
    event.listen(bind, "after_cursor_execute", meanwhile)
    try:
        with sessions() as s, s.begin():
            assert triage.process_event(s, inbox_id, utcnow()) == "processed"
    finally:
        event.remove(bind, "after_cursor_execute", meanwhile)
    assert fired
    with sessions() as s:
        stored = s.scalars(select(Message).where(Message.provider_message_id == "wamid.2")).all()
        assert len(stored) == 1
        ticket = s.get_one(Ticket, stored[0].ticket_id)
        old = s.get_one(Ticket, first)
        event_row = s.get_one(InboxEvent, inbox_id)
    assert ticket.status != TicketStatus.RESOLVED and event_row.attempts == 1
    if change == "resolved":
        assert (ticket.id != first, old.status, old.last_customer_message_at < ticket.created_at) == (
            True, TicketStatus.RESOLVED, True)
    else:
        assert (ticket.id, ticket.priority, ticket.last_customer_message_at) == (
            first, 2, stored[0].created_at)


def test_a_sender_whose_contact_has_no_identity_is_adopted_not_duplicated(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    # A contact written with only its phone column (before identities existed, or by hand): the one-statement
    # path for new senders writes nothing, and the contact gets its identity and the ticket.
    channel = tenants["channels"]["106540352242922"]
    with sessions() as s, s.begin():
        s.add(Contact(tenant_id=channel.tenant_id, phone="5511912345678", name="Antiga", attributes={}))
    store(sessions, text_delivery("wamid.legacy", sender="5511912345678"))
    drain(sessions, bus)
    with sessions() as s:
        contact = s.scalars(select(Contact)).one()
        ticket = s.scalars(select(Ticket)).one()
        identities = s.scalars(select(ContactIdentity.value).where(ContactIdentity.contact_id == contact.id)).all()
    assert (contact.name, ticket.contact_id, identities) == ("Antiga", contact.id, ["5511912345678"])


def test_concurrent_messages_of_a_new_contact_open_one_ticket(sessions: sessionmaker[Session], bus: RecordingBus,
                                                              tenants: dict[str, Any]) -> None:
    for i in range(8):
        store(sessions, text_delivery(f"wamid.c{i}"))
    inbox_ids = [args[0] for _name, args in bus.tasks]
    barrier = threading.Barrier(len(inbox_ids))
    errors: list[BaseException] = []

    def work(inbox_id: int) -> None:
        try:
            barrier.wait()
            with sessions() as s, s.begin():
                triage.process_event(s, inbox_id, utcnow())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in inbox_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with sessions() as s:
        assert (count(s, Contact), count(s, Ticket), count(s, Message)) == (1, 1, 8)


def _outbound(sessions: sessionmaker[Session], bus: RecordingBus, wamid: str) -> int:
    store(sessions, text_delivery("wamid.in"))
    drain(sessions, bus)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        msg = Message(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                      direction=Direction.OUTBOUND, body="oi", status=DeliveryStatus.SENT,
                      provider_message_id=wamid, attempts=1)
        s.add(msg)
        s.flush()
        return msg.id


@pytest.mark.parametrize(("order", "final"), [
    (["sent", "delivered", "read"], "read"),
    (["read", "delivered", "sent"], "read"),  # out of order: never backwards
    (["delivered", "delivered"], "delivered"),
    (["sent", "failed"], "failed"),
])
def test_statuses_only_move_forward(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any],
                                    order: list[str], final: str) -> None:
    message_id = _outbound(sessions, bus, "wamid.out")
    for status in order:
        store(sessions, status_delivery("wamid.out", status))
    drain(sessions, bus)
    with sessions() as s:
        message = s.get_one(Message, message_id)
        assert message.status.value == final
        if final == "failed":
            assert message.error_code == "131047"


def test_a_status_before_its_message_is_retried(sessions: sessionmaker[Session], bus: RecordingBus,
                                                tenants: dict[str, Any]) -> None:
    store(sessions, status_delivery("wamid.unknown", "delivered"))
    inbox_id = bus.tasks.pop()[1][0]
    with pytest.raises(triage.StatusBeforeMessage), sessions() as s, s.begin():
        triage.process_event(s, inbox_id, utcnow())
    with sessions() as s:
        assert s.get_one(InboxEvent, inbox_id).processed_at is None  # still there for the retry
