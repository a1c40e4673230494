"""The supervisor's live board on the real database: waiting and the oldest wait, agents and their load, SLA at
risk and breached judged at the `now` passed in, pauses respected, and nothing of another tenant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models import User
from models.infra.bus import RecordingBus
from models.org import AgentStatus
from models.services import agents, tickets
from models.services.board import live_board
from tests.services.test_sla import T0, at, customer_writes, policy, set_pending


def board(sessions: sessionmaker[Session], tenant_id: int, seconds: float) -> dict[str, dict[str, Any]]:
    with sessions() as s:
        return {q["name"]: q for q in live_board(s, tenant_id, at(seconds))}


def test_the_board_counts_waits_loads_and_late_tickets_per_queue(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    users = tenants["users"]
    acme = users["ana"].tenant_id
    policy(sessions, tenants, first_response_seconds=600, resolution_seconds=7200, warning_fraction=0.5)
    first = customer_writes(sessions, bus, T0, "wamid.1", sender="5511911111111")
    second = customer_writes(sessions, bus, at(200), "wamid.2", sender="5511922222222")
    with sessions() as s, s.begin():
        agents.set_status(s, s.get_one(User, users["ana"].id), AgentStatus.ONLINE, T0)
        agents.set_status(s, s.get_one(User, users["bruno"].id), AgentStatus.AWAY, T0)
        agents.set_status(s, s.get_one(User, users["gina"].id), AgentStatus.ONLINE, T0)
    with sessions() as s, s.begin():
        tickets.assign_to(s, s.get_one(User, users["carla"].id), second, users["ana"].id, at(250))

    early = board(sessions, acme, 260)
    assert list(early) == ["Sales", "Support"]
    assert early["Sales"] == {**early["Sales"], "waiting": 0, "oldest_wait_seconds": None, "agents": []}
    support = early["Support"]
    assert (support["waiting"], support["assigned"], support["pending"]) == (1, 1, 0)
    assert support["oldest_waiting_since"] == T0 and support["oldest_wait_seconds"] == 260
    assert (support["sla_at_risk"], support["sla_breached"]) == (0, 0)
    assert [(a["name"], a["status"], a["open_tickets"], a["max_tickets"]) for a in support["agents"]] == [
        ("Ana", "online", 1, 2), ("Bruno", "away", 0, 2)]  # Carla is no member; Gina is globex's

    # The first ticket passes its warning at 300 s and its due time at 600 s; the second its warning at 500 s.
    assert late_counts(board(sessions, acme, 400)) == (1, 0)
    assert late_counts(board(sessions, acme, 650)) == (1, 1)

    # Waiting on the customer from 700 s stops the second ticket's clocks before its due time (800 s): at risk,
    # however late it is now, while the first, still queued, stays breached.
    set_pending(sessions, second, at(700))
    parked = board(sessions, acme, 10_000)["Support"]
    assert (parked["waiting"], parked["assigned"], parked["pending"]) == (1, 0, 1)
    assert late_counts({"Support": parked}) == (1, 1)
    assert [a["open_tickets"] for a in parked["agents"]] == [1, 0]  # a pending ticket still loads its agent
    assert parked["oldest_wait_seconds"] == 10_000
    with sessions() as s, s.begin():
        tickets.assign_to(s, s.get_one(User, users["carla"].id), first, users["bruno"].id, at(10_000))
    taken = board(sessions, acme, 10_001)["Support"]
    assert (taken["waiting"], taken["oldest_waiting_since"], taken["assigned"]) == (0, None, 1)
    assert [a["open_tickets"] for a in taken["agents"]] == [1, 1]


def late_counts(rows: dict[str, dict[str, Any]]) -> tuple[int, int]:
    return rows["Support"]["sla_at_risk"], rows["Support"]["sla_breached"]


def test_another_tenant_sees_only_its_own_queue_and_people(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    from tests.fakes.whatsapp import text_delivery
    from tests.services.helpers import store

    users = tenants["users"]
    customer_writes(sessions, bus, T0, "wamid.a", sender="5511911111111")
    store(sessions, text_delivery("wamid.g", sender="5511944444444", phone_number_id="999000111"))
    with sessions() as s, s.begin():
        agents.set_status(s, s.get_one(User, users["ana"].id), AgentStatus.ONLINE, T0)
    with sessions() as s:
        globex = live_board(s, users["gina"].tenant_id, T0 + timedelta(minutes=5))
    assert [(q["name"], q["waiting"], q["agents"]) for q in globex] == [("Support", 0, [])]
