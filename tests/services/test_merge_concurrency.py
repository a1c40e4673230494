"""Merges against the real PostgreSQL with other transactions at once: opposite merges of one pair, and new
messages for the merged contact arriving while it is merged. Locks are taken in id order (see
models/services/merge.py); these tests are the proof that the result is consistent and nothing deadlocks."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, ContactIdentity, Message, Ticket, User
from models.base import utcnow
from models.errors import Conflict
from models.services import merge
from models.tickets import OPEN_STATUSES
from tests.services.contacts_helpers import EMAIL, WHATSAPP, receive, received


def pair(sessions: sessionmaker[Session], n: int) -> tuple[int, int]:
    """A phone contact and an email contact, each with an open ticket: (phone contact id, email contact id)."""
    ids = []
    for channel, sender in ((WHATSAPP, f"55119{n:08d}"), (EMAIL, f"person{n}@example.com")):
        _m, ticket_id = received(sessions, channel, sender, "oi")
        with sessions() as s:
            ids.append(s.get_one(Ticket, ticket_id).contact_id)
    return ids[0], ids[1]


def supervisor(sessions: sessionmaker[Session]) -> User:
    with sessions() as s:
        return s.scalars(select(User).where(User.email == "carla@acme.example")).one()


def run(fn: Callable[[], Any], results: list[Any]) -> threading.Thread:
    def target() -> None:
        try:
            results.append(fn())
        except Exception as exc:  # the test inspects what each side ended with
            results.append(exc)
    thread = threading.Thread(target=target)
    thread.start()
    return thread


def wait_until_blocked(sessions: sessionmaker[Session], waiting: int = 1) -> None:
    """Until `waiting` transactions wait on a row lock (bounded: fails rather than hangs)."""
    for _ in range(500):
        with sessions() as s:
            n = s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                              "AND datname = current_database()"))
        if n >= waiting:
            return
        time.sleep(0.02)
    raise AssertionError("no transaction ever waited for the contact lock")


def assert_merged(sessions: sessionmaker[Session], target: int, source: int) -> None:
    with sessions() as s:
        assert s.get_one(Contact, source).merged_into_id == target
        assert s.get_one(Contact, target).merged_into_id is None
        assert set(s.scalars(select(Ticket.contact_id).where(Ticket.contact_id.in_([target, source])))) == {target}
        assert set(s.scalars(select(ContactIdentity.contact_id).where(
            ContactIdentity.contact_id.in_([target, source])))) == {target}
        open_per_channel = s.execute(select(Ticket.channel_id, func.count()).where(
            Ticket.contact_id == target, Ticket.status.in_(OPEN_STATUSES)).group_by(Ticket.channel_id)).all()
        assert all(n == 1 for _c, n in open_per_channel)


def test_opposite_merges_at_once_end_with_one_merge_and_no_deadlock(sessions: sessionmaker[Session],
                                                                    tenants: dict[str, Any]) -> None:
    carla = supervisor(sessions)
    for round_ in range(6):
        a, b = pair(sessions, round_)
        barrier = threading.Barrier(2)

        results: list[Any] = []
        threads = [run(lambda t=a, f=b, w=barrier: _merge(sessions, carla, t, f, w), results),  # type: ignore[misc]
                   run(lambda t=b, f=a, w=barrier: _merge(sessions, carla, t, f, w), results)]  # type: ignore[misc]
        for thread in threads:
            thread.join(timeout=30)
        winners = [r for r in results if isinstance(r, int)]
        assert len(winners) == 1 and len([r for r in results if isinstance(r, Conflict)]) == 1, results
        target = winners[0]
        assert_merged(sessions, target, b if target == a else a)


def test_a_message_arriving_during_a_merge_lands_on_the_target(sessions: sessionmaker[Session],
                                                               tenants: dict[str, Any]) -> None:
    carla = supervisor(sessions)
    # The merge holds both contacts when the source's message comes: triage waits, then follows the tombstone.
    target, source = pair(sessions, 1)
    results: list[Any] = []
    with sessions() as s:
        merge.merge_contacts(s, carla, target, source, utcnow())
        thread = run(lambda: received(sessions, EMAIL, "person1@example.com", "chegou durante o merge"), results)
        wait_until_blocked(sessions)
        s.commit()
    thread.join(timeout=30)
    (_message_id, ticket_id), = results
    with sessions() as s:
        assert s.get_one(Ticket, ticket_id).contact_id == target
    assert_merged(sessions, target, source)
    # Triage holds the source when the merge comes: the merge waits, then moves the ticket with the message.
    target, source = pair(sessions, 2)
    results = []
    with sessions() as s:
        message = receive(s, EMAIL, "person2@example.com", "chegou antes do merge")
        thread = run(lambda: _merge(sessions, carla, target, source), results)
        wait_until_blocked(sessions)
        s.commit()
    thread.join(timeout=30)
    assert results == [target]
    with sessions() as s:
        assert s.get_one(Ticket, s.get_one(Message, message.id).ticket_id).contact_id == target
    assert_merged(sessions, target, source)


def test_a_stream_of_messages_through_a_merge_all_land_on_the_target(sessions: sessionmaker[Session],
                                                                     tenants: dict[str, Any]) -> None:
    carla = supervisor(sessions)
    target, source = pair(sessions, 3)
    results: list[Any] = []

    def stream(sender: str, channel: str) -> list[int]:
        return [received(sessions, channel, sender, f"mensagem {i}")[0] for i in range(8)]

    threads = [run(lambda: stream("person3@example.com", EMAIL), results),
               run(lambda: stream("5511900000003", WHATSAPP), results)]
    time.sleep(0.05)
    threads.append(run(lambda: _merge(sessions, carla, target, source), results))
    for thread in threads:
        thread.join(timeout=60)
    assert not [r for r in results if isinstance(r, Exception)], results
    message_ids = [m for r in results if isinstance(r, list) for m in r]
    assert len(message_ids) == 16
    with sessions() as s:
        owners = set(s.scalars(select(Ticket.contact_id).join(Message, Message.ticket_id == Ticket.id)
                               .where(Message.id.in_(message_ids))))
    assert owners == {target}
    assert_merged(sessions, target, source)


def _merge(sessions: sessionmaker[Session], actor: User, target: int, source: int,
           barrier: threading.Barrier | None = None) -> int:
    with sessions() as s, s.begin():
        if barrier is not None:  # both transactions open before either locks
            barrier.wait(timeout=10)
        return merge.merge_contacts(s, actor, target, source, utcnow()).id
