"""Two customer messages recorded at once on the real PostgreSQL, each in its own thread and connection, without
the ticket lock triage holds: the partial unique index alone keeps one open next-response wait."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import ResponseFact, Ticket
from models.infra.bus import RecordingBus
from models.services import facts
from tests.services.test_reports import ANA_SENDER, Desk, ny


def test_two_messages_at_once_open_one_wait(sessions: sessionmaker[Session], bus: RecordingBus,
                                            tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    t = desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 0), body="1")
    desk.assign(t, "ana", ny(2026, 3, 2, 9, 1))
    desk.reply(t, "ana", ny(2026, 3, 2, 9, 2))
    errors: list[BaseException] = []

    def write(barrier: threading.Barrier, at: datetime) -> None:
        try:
            with sessions() as s, s.begin():
                ticket = s.get_one(Ticket, t)
                barrier.wait(timeout=10)
                facts.customer_wrote(s, ticket, at)
        except BaseException as exc:  # asserted in the test's thread
            errors.append(exc)

    for round_ in range(5):
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=write, args=(barrier, ny(2026, 3, 2, 10, round_ * 10 + i)))
                   for i in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert not errors, errors
        with sessions() as s:
            assert s.scalar(select(func.count()).select_from(ResponseFact).where(
                ResponseFact.ticket_id == t, ResponseFact.ended_at.is_(None),
                ResponseFact.kind == "next_response")) == 1
        desk.reply(t, "ana", ny(2026, 3, 2, 10, round_ * 10 + 5))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ResponseFact).where(
            ResponseFact.ticket_id == t, ResponseFact.kind == "next_response",
            ResponseFact.wall_seconds.is_not(None))) == 5
