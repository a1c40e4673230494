"""The periodic SLA check under concurrency and crashes, on the real database: each warning and breach once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, RealtimeEvent, SlaNotice, Ticket, TicketSla
from models.infra.bus import RecordingBus
from models.services import sla_check
from tests.services.test_sla import T0, at, check, customer_writes, policy

N_TICKETS = 24
N_THREADS = 8


def open_many(sessions: sessionmaker[Session], bus: RecordingBus, n: int) -> list[int]:
    return [customer_writes(sessions, bus, T0 + timedelta(milliseconds=i), f"wamid.{i}", sender=f"55119876{i:05d}")
            for i in range(n)]


def run_together(n: int, work: Any) -> None:
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def emitted(bus: RecordingBus) -> Counter[tuple[str, int, str]]:
    """(event, ticket, clock) of each distinct SLA event sent after commit."""
    envelopes = {e["id"]: (name, e["data"]["ticket_id"], e["data"]["clock"])
                 for name, e, _room in bus.events if name.startswith("sla.")}
    return Counter(envelopes.values())


def test_concurrent_checks_emit_each_warning_and_breach_exactly_once(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    policy(sessions, tenants, first_response_seconds=60, resolution_seconds=120, warning_fraction=0.5)
    ids = open_many(sessions, bus, N_TICKETS)

    # Beat firing in several processes at once, each run in small batches and at slightly different clocks,
    # through warnings (30 s, 60 s) and breaches (60 s, 120 s) of both clocks.
    def work(i: int) -> None:
        for seconds in (31, 45, 61, 90, 121, 150):
            for _ in range(3):
                with sessions() as s, s.begin():
                    sla_check.check_due(s, at(seconds + i / 100), limit=5)

    run_together(N_THREADS, work)
    counts = emitted(bus)
    expected = {(event, ticket_id, clock) for ticket_id in ids for clock in ("first_response", "resolution")
                for event in ("sla.warning", "sla.breached")}
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlaNotice)) == len(expected)
        assert s.scalar(select(func.count()).select_from(RealtimeEvent)
                        .where(RealtimeEvent.name.like("sla.%"))) == len(expected)
        # Both breaches of a ticket came in one run or in two: one escalation per run with a new breach.
        priorities = set(s.scalars(select(Ticket.priority)))
        escalations = s.scalar(select(func.count()).select_from(AuditEntry)
                               .where(AuditEntry.action == "sla.escalated"))
        assert priorities <= {1, 2} and N_TICKETS <= escalations <= 2 * N_TICKETS
        assert s.scalar(select(func.count()).select_from(TicketSla).where(TicketSla.next_check_at.is_not(None))) == 0


def test_two_checks_on_one_ticket_without_row_locks_still_emit_once(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    """Even past SKIP LOCKED (two runs that loaded the same ticket), the unique notice key decides."""
    policy(sessions, tenants, first_response_seconds=60, escalate_priority=False)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    first, second = sessions(), sessions()
    try:
        first.begin()
        second.begin()
        loaded = [(s.get_one(Ticket, ticket_id), s.get_one(TicketSla, ticket_id)) for s in (first, second)]
        assert sla_check.check_ticket(first, *loaded[0], at(61)) == 2
        result: list[int] = []
        blocked = threading.Thread(target=lambda: result.append(sla_check.check_ticket(second, *loaded[1], at(62))))
        blocked.start()
        blocked.join(1)
        assert blocked.is_alive()  # waiting on the first run's uncommitted notice rows
        first.commit()
        blocked.join(10)
        second.commit()
        assert result == [0]
    finally:
        first.close()
        second.close()
    assert sum(emitted(bus).values()) == 2


def test_a_run_that_dies_before_commit_leaves_nothing_and_the_next_run_emits(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    policy(sessions, tenants, first_response_seconds=60)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    with sessions() as s:
        s.begin()
        assert sla_check.check_due(s, at(61)) == 2
        s.rollback()  # the worker was killed mid-run: nothing was committed, nothing was sent
    assert bus.events == []
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlaNotice)) == 0
        assert s.get_one(Ticket, ticket_id).priority == 0
    assert check(sessions, at(70)) == 2
    assert check(sessions, at(80)) == 0
    assert sorted(name for name, _t, _c in emitted(bus).elements()) == ["sla.breached", "sla.warning"]
