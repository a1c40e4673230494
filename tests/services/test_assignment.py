"""Assignment on the real database: online agents only, capacity, least busy, and no race between assigners."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.org import AgentStatus
from models.services import assignment
from models.services.agents import set_status
from models.tickets import TicketStatus
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


def go(sessions: sessionmaker[Session], user_id: int, status: AgentStatus) -> None:
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, user_id), status, utcnow())


def tickets_by_agent(sessions: sessionmaker[Session]) -> dict[int | None, int]:
    with sessions() as s:
        return dict(s.execute(select(Ticket.agent_id, func.count()).group_by(Ticket.agent_id)).tuples().all())


def open_tickets(sessions: sessionmaker[Session], bus: RecordingBus, n: int, first: int = 0) -> None:
    """`n` new customers write in: customer numbers `first` .. `first + n - 1`."""
    for i in range(first, first + n):
        store(sessions, text_delivery(f"wamid.p{i}", sender=f"55119{i:08d}"))
    drain(sessions, bus)


def test_waiting_tickets_go_to_an_agent_the_moment_they_come_online(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    open_tickets(sessions, bus, 3)
    assert tickets_by_agent(sessions) == {None: 3}
    ana = tenants["users"]["ana"]
    go(sessions, ana.id, AgentStatus.ONLINE)
    assert drain(sessions, bus) == ["assignment.assign_queue"]
    # Ana's capacity is 2: the third ticket waits.
    assert tickets_by_agent(sessions) == {ana.id: 2, None: 1}
    assigned = [(name, room) for name, _d, room in bus.events if name == "ticket.assigned"]
    assert ("ticket.assigned", f"t{ana.tenant_id}:agent:{ana.id}") in assigned
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "ticket.assigned")) == 2


def test_least_busy_spreads_and_offline_agents_get_nothing(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    ana, bruno, gina = (tenants["users"][n] for n in ("ana", "bruno", "gina"))
    go(sessions, ana.id, AgentStatus.ONLINE)
    go(sessions, bruno.id, AgentStatus.ONLINE)
    go(sessions, gina.id, AgentStatus.ONLINE)  # another tenant's agent: never a candidate
    drain(sessions, bus)
    open_tickets(sessions, bus, 4)
    assert tickets_by_agent(sessions) == {ana.id: 2, bruno.id: 2}
    go(sessions, bruno.id, AgentStatus.OFFLINE)
    open_tickets(sessions, bus, 1, first=100)
    assert tickets_by_agent(sessions)[None] == 1


def test_concurrent_assigners_never_double_assign_or_exceed_capacity(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    open_tickets(sessions, bus, 10)
    ana, bruno = tenants["users"]["ana"], tenants["users"]["bruno"]
    with sessions() as s, s.begin():
        for user in (s.get_one(User, ana.id), s.get_one(User, bruno.id)):
            user.status = AgentStatus.ONLINE
    queue_id = tenants["channels"]["106540352242922"].default_queue_id
    barrier = threading.Barrier(6)
    results: list[list[tuple[int, int]]] = []

    def assign() -> None:
        barrier.wait()
        with sessions() as s, s.begin():
            results.append(assignment.assign_queue(s, queue_id, utcnow()))

    threads = [threading.Thread(target=assign) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    pairs = [p for r in results for p in r]
    assert len(pairs) == len({t for t, _a in pairs}) == 4  # each ticket once; 2 agents x capacity 2
    assert tickets_by_agent(sessions) == {ana.id: 2, bruno.id: 2, None: 6}
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.status == TicketStatus.ASSIGNED)) == 4
