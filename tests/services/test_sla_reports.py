"""SLA reports on a small hand-made fixture, on PostgreSQL and on the embedded SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Queue, SlaNotice, Ticket, TicketSla, TicketStatus, User
from models.errors import Invalid
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.services.accounts import provision
from models.services.sla_reports import percentile, sla_report
from tests.conftest import TENANTS, migrate

DAY = datetime(2026, 3, 2, tzinfo=UTC)
START, END = DAY, DAY + timedelta(days=1)


def test_percentile_interpolates_like_percentile_cont() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([40.0, 10.0, 30.0, 20.0], 0.5) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.9) == pytest.approx(37.0)
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.5) == 3.0


def seed(s: Session, tenant_id: int, channel_id: int, queues: dict[str, int], agents: dict[str, int]) -> None:
    """Five acme tickets (and one outside the range) with known times and breaches.

    | # | queue   | agent | created      | first resp. (s) | resolved (s) | targets   | breached       |
    | 1 | Support | ana   | in range     | 60              | 600          | FR, RES   | -              |
    | 2 | Support | ana   | in range     | 120             | 1200         | FR, RES   | FR             |
    | 3 | Support | bruno | in range     | 180             | open         | FR, RES   | FR, RES        |
    | 4 | Sales   | none  | in range     | none            | open         | RES, NR   | NR             |
    | 5 | Support | bruno | just before  | 300 (in range)  | 2400 (in)    | FR        | FR (not cohort)|
    """
    rows = [
        (1, queues["Support"], agents["ana"], DAY + timedelta(hours=1), 60, 600, True, True, False, ()),
        (2, queues["Support"], agents["ana"], DAY + timedelta(hours=2), 120, 1200, True, True, False,
         ("first_response",)),
        (3, queues["Support"], agents["bruno"], DAY + timedelta(hours=3), 180, None, True, True, False,
         ("first_response", "resolution")),
        (4, queues["Sales"], None, DAY + timedelta(hours=4), None, None, False, True, True, ("next_response",)),
        (5, queues["Support"], agents["bruno"], DAY - timedelta(minutes=2), 300, 2400, True, False, False,
         ("first_response",)),
    ]
    for n, queue_id, agent_id, created, first, resolved, has_fr, has_res, has_nr, breaches in rows:
        contact = Contact(tenant_id=tenant_id, phone=f"5511900000{n:03d}", created_at=created)
        s.add(contact)
        s.flush()
        resolved_at = None if resolved is None else created + timedelta(seconds=resolved + 3600)  # after a pause
        ticket = Ticket(
            tenant_id=tenant_id, contact_id=contact.id, channel_id=channel_id, queue_id=queue_id, agent_id=agent_id,
            status=TicketStatus.RESOLVED if resolved_at else TicketStatus.ASSIGNED, created_at=created,
            updated_at=created, triage_state={}, required_skills=[],
            first_response_at=None if first is None else created + timedelta(seconds=first),
            resolved_at=resolved_at, first_response_due_at=created + timedelta(seconds=90) if has_fr else None,
            resolution_due_at=created + timedelta(seconds=3600) if has_res else None)
        s.add(ticket)
        s.flush()
        s.add(TicketSla(tenant_id=tenant_id, ticket_id=ticket.id, first_response_seconds=first,
                        resolution_seconds=resolved, next_response_clocks=1 if has_nr else 0))
        for clock in breaches:
            s.add(SlaNotice(tenant_id=tenant_id, ticket_id=ticket.id, clock=clock, kind="breach",
                            threshold_at=created, due_at=created, created_at=created))
        s.flush()


def seeded(sessions: sessionmaker[Session]) -> int:
    with sessions() as s, s.begin():
        provision(s, TENANTS)
        users = {u.email.split("@")[0]: u for u in s.query(User)}
        tenant_id = users["ana"].tenant_id
        queues = {q.name: q.id for q in s.query(Queue).filter(Queue.tenant_id == tenant_id)}
        channel = s.query(Channel).filter(Channel.tenant_id == tenant_id).first()
        seed(s, tenant_id, channel.id, queues, {k: u.id for k, u in users.items()})
        # Another tenant's ticket in the same range must never show up.
        globex = users["gina"].tenant_id
        gq = s.query(Queue).filter(Queue.tenant_id == globex).first()
        gc = s.query(Channel).filter(Channel.tenant_id == globex).first()
        seed(s, globex, gc.id, {"Support": gq.id, "Sales": gq.id}, {"ana": users["gina"].id, "bruno": None})
    return tenant_id


def check_numbers(sessions: sessionmaker[Session]) -> None:
    tenant_id = seeded(sessions)
    with sessions() as s:
        (whole,) = sla_report(s, tenant_id, START, END, "tenant")
        by_queue = {r["name"]: r for r in sla_report(s, tenant_id, START, END, "queue")}
        by_agent = {r["name"]: r for r in sla_report(s, tenant_id, START, END, "agent")}
    assert (whole["key"], whole["name"], whole["opened"], whole["resolved"]) == (tenant_id, "Acme", 4, 3)
    # First responses in range: tickets 1, 2, 3 and 5 (made today although opened yesterday).
    assert whole["first_response"] == {"count": 4, "p50": 150.0, "p90": pytest.approx(264.0)}
    assert whole["resolution"] == {"count": 3, "p50": 1200.0, "p90": pytest.approx(2160.0)}
    assert whole["tickets_with_clock"] == {"first_response": 3, "next_response": 1, "resolution": 4}
    assert whole["breaches"] == {"first_response": 2, "next_response": 1, "resolution": 1}
    assert whole["breach_rate"] == {"first_response": pytest.approx(2 / 3), "next_response": 1.0,
                                    "resolution": 0.25, "any": 0.75}

    assert set(by_queue) == {"Support", "Sales"}
    assert (by_queue["Support"]["opened"], by_queue["Sales"]["opened"]) == (3, 1)
    assert by_queue["Sales"]["first_response"] == {"count": 0, "p50": None, "p90": None}
    assert by_queue["Sales"]["breach_rate"]["first_response"] is None  # no ticket with that clock
    assert by_queue["Support"]["breach_rate"]["resolution"] == pytest.approx(1 / 3)

    assert set(by_agent) == {"Ana", "Bruno", None}
    assert by_agent["Ana"]["first_response"] == {"count": 2, "p50": 90.0, "p90": pytest.approx(114.0)}
    assert (by_agent["Bruno"]["opened"], by_agent["Bruno"]["resolved"]) == (1, 1)
    assert by_agent[None]["opened"] == 1


def test_report_numbers_on_postgresql(sessions: sessionmaker[Session]) -> None:
    check_numbers(sessions)


def test_report_numbers_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate(url)
    engine = make_engine(Settings.from_env({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}))
    try:
        check_numbers(make_session_factory(engine, RecordingBus()))
    finally:
        engine.dispose()


def test_report_refuses_a_bad_range_or_grouping(session: Session) -> None:
    with pytest.raises(Invalid):
        sla_report(session, 1, END, START)
    with pytest.raises(Invalid):
        sla_report(session, 1, START, END, "channel")


def test_an_empty_tenant_report_has_one_row_of_zeros(sessions: sessionmaker[Session],
                                                      tenants: dict[str, Any]) -> None:
    with sessions() as s:
        (row,) = sla_report(s, tenants["users"]["ana"].tenant_id, START, END)
        assert sla_report(s, tenants["users"]["ana"].tenant_id, START, END, "queue") == []
    assert (row["opened"], row["resolved"], row["breach_rate"]["any"]) == (0, 0, None)
