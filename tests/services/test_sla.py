"""SLA clocks on the real database: policies, due times on ticket events, pauses, warnings, breaches, escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, RealtimeEvent, SlaNotice, SlaPause, SlaPolicy, Ticket, TicketSla, User
from models.errors import Conflict, Invalid, NotFound
from models.infra.bus import RecordingBus
from models.org import Tenant
from models.rules.sla_policy import MAX_PRIORITY
from models.services import conversation, sla, sla_check, tickets, triage
from models.tickets import TicketStatus
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import store

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # Monday 09:00 in São Paulo


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def queue_id(tenants: dict[str, Any], name: str) -> int:
    return next(q.id for (tid, qname), q in tenants["queues"].items()
                if qname == name and tid == tenants["users"]["ana"].tenant_id)


def policy(sessions: sessionmaker[Session], tenants: dict[str, Any], **fields: Any) -> int:
    with sessions() as s, s.begin():
        return sla.save_policy(s, tenants["users"]["carla"], {"name": "p", **fields}, T0 - timedelta(days=1)).id


def customer_writes(sessions: sessionmaker[Session], bus: RecordingBus, now: datetime, wamid: str,
                    sender: str = "5511987654321") -> int:
    """Store a WhatsApp message and run triage on it at `now`; returns the ticket id."""
    store(sessions, text_delivery(wamid, sender=sender))
    inbox_id = [args[0] for name, args in bus.tasks if name == "triage.process_event"][-1]
    with sessions() as s, s.begin():
        triage.process_event(s, inbox_id, now)
        ticket_id = s.scalars(select(Ticket.id).join(Ticket.contact).where(Ticket.status != TicketStatus.RESOLVED)
                              .order_by(Ticket.id.desc())).first()
    bus.tasks.clear()
    bus.events.clear()
    assert ticket_id is not None
    return ticket_id


def check(sessions: sessionmaker[Session], now: datetime) -> int:
    with sessions() as s, s.begin():
        return sla_check.check_due(s, now)


def act(sessions: sessionmaker[Session], fn: Any, user: User, *args: Any) -> Any:
    with sessions() as s, s.begin():
        return fn(s, s.get_one(User, user.id), *args)


def set_pending(sessions: sessionmaker[Session], ticket_id: int, now: datetime) -> None:
    """What a "waiting on the customer" action does: change the status, then tell the SLA clocks."""
    with sessions() as s, s.begin():
        ticket = s.get_one(Ticket, ticket_id, with_for_update=True)
        ticket.status = TicketStatus.PENDING
        sla.refresh(s, ticket, now)


def state(sessions: sessionmaker[Session], ticket_id: int) -> tuple[Ticket, TicketSla]:
    with sessions() as s:
        return s.get_one(Ticket, ticket_id), s.get_one(TicketSla, ticket_id)


def sla_events(bus: RecordingBus) -> list[tuple[str, dict[str, Any]]]:
    """Distinct SLA and ticket events (one per envelope, however many rooms it went to)."""
    seen: dict[int, tuple[str, dict[str, Any]]] = {}
    for name, envelope, _room in bus.events:
        if name.startswith("sla.") or name == "ticket.updated":
            seen.setdefault(envelope["id"], (name, envelope["data"]))
    return [seen[k] for k in sorted(seen)]


def rooms_of(bus: RecordingBus, name: str) -> set[str]:
    return {room for n, _e, room in bus.events if n == name}


# --- policies --------------------------------------------------------------------------------------------------

def test_the_ticket_gets_the_most_specific_policy_and_its_due_times(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    support = queue_id(tenants, "Support")
    policy(sessions, tenants, first_response_seconds=3600, resolution_seconds=86400)
    policy(sessions, tenants, priority=0, first_response_seconds=1800)
    chosen = policy(sessions, tenants, queue_id=support, first_response_seconds=600, resolution_seconds=7200,
                    warning_fraction=0.5)
    policy(sessions, tenants, queue_id=support, priority=2, first_response_seconds=60)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    ticket, st = state(sessions, ticket_id)
    assert (ticket.queue_id, st.policy_id) == (support, chosen)
    assert (ticket.first_response_due_at, st.first_response_warning_at) == (at(600), at(300))
    assert (ticket.resolution_due_at, st.resolution_warning_at) == (at(7200), at(3600))
    assert ticket.next_response_due_at is None and st.next_response_started_at is None
    assert st.next_check_at == at(300)


def test_policy_validation_and_one_policy_per_scope(sessions: sessionmaker[Session],
                                                    tenants: dict[str, Any]) -> None:
    support = queue_id(tenants, "Support")
    policy(sessions, tenants, queue_id=support, first_response_seconds=60)
    with pytest.raises(Conflict):
        policy(sessions, tenants, queue_id=support, resolution_seconds=60)
    with pytest.raises(Invalid):
        policy(sessions, tenants, warning_fraction=1.5)
    with pytest.raises(Invalid):
        policy(sessions, tenants, first_response_seconds=0)
    globex_queue = next(q.id for (tid, _n), q in tenants["queues"].items()
                        if tid == tenants["users"]["gina"].tenant_id)
    with pytest.raises(NotFound):  # another tenant's queue looks like no queue at all
        policy(sessions, tenants, queue_id=globex_queue)
    with pytest.raises(NotFound):
        policy(sessions, tenants, escalate_agent_id=tenants["users"]["gina"].id)
    # NULLS NOT DISTINCT: the database refuses a second tenant default even behind the service's back.
    policy(sessions, tenants, first_response_seconds=60)
    with pytest.raises(IntegrityError, match="uq_sla_policies_tenant_id_queue_id_priority"), sessions() as s, \
            s.begin():
        s.add(SlaPolicy(tenant_id=tenants["users"]["ana"].tenant_id, name="dup"))


# --- pauses ----------------------------------------------------------------------------------------------------

def test_pause_and_resume_push_due_times_by_the_paused_time(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    ana, carla = tenants["users"]["ana"], tenants["users"]["carla"]
    policy(sessions, tenants, first_response_seconds=600, next_response_seconds=300, resolution_seconds=3600,
           warning_fraction=0.5)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    act(sessions, tickets.assign_to, carla, ticket_id, ana.id, at(10))
    act(sessions, conversation.reply, ana, ticket_id, "Olá!", at(60))
    ticket, st = state(sessions, ticket_id)
    assert st.first_response_seconds == 60
    assert st.next_check_at == at(1800)  # the resolution warning; the first response is done

    set_pending(sessions, ticket_id, at(120))
    ticket, st = state(sessions, ticket_id)
    assert st.next_check_at is None  # nothing can come due while the clocks stand still
    assert check(sessions, at(5000)) == 0 and sla_events(bus) == []

    customer_writes(sessions, bus, at(1120), "wamid.2")  # 1000 s later the customer answers
    ticket, st = state(sessions, ticket_id)
    assert ticket.status == TicketStatus.ASSIGNED
    assert (ticket.resolution_due_at, st.resolution_warning_at) == (at(4600), at(2800))
    assert st.next_response_started_at == at(1120)
    assert (ticket.next_response_due_at, st.next_response_warning_at) == (at(1420), at(1270))
    assert st.next_check_at == at(1270)
    with sessions() as s:
        assert [(p.started_at, p.ended_at) for p in s.scalars(select(SlaPause))] == [(at(120), at(1120))]

    act(sessions, conversation.reply, ana, ticket_id, "Resolvido?", at(1300))
    ticket, st = state(sessions, ticket_id)
    assert ticket.next_response_due_at is None and st.next_response_started_at is None
    assert st.next_check_at == at(2800)

    act(sessions, tickets.resolve, ana, ticket_id, at(2120))
    ticket, st = state(sessions, ticket_id)
    assert st.resolution_seconds == 2120 - 1000 and st.next_check_at is None
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlaNotice)) == 0


def test_a_pause_over_the_night_costs_only_business_time(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    with sessions() as s, s.begin():
        tenant = s.get_one(Tenant, tenants["users"]["ana"].tenant_id)
        tenant.settings = {"business_hours": {"tz": "America/Sao_Paulo", "weekly": {
            d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}}
    policy(sessions, tenants, first_response_seconds=3600)
    monday_1730 = datetime(2026, 3, 2, 20, 30, tzinfo=UTC)
    ticket_id = customer_writes(sessions, bus, monday_1730, "wamid.1")
    ticket, _st = state(sessions, ticket_id)
    assert ticket.first_response_due_at == datetime(2026, 3, 3, 12, 30, tzinfo=UTC)  # Tuesday 09:30 local
    set_pending(sessions, ticket_id, monday_1730 + timedelta(minutes=15))  # 17:45
    customer_writes(sessions, bus, datetime(2026, 3, 3, 12, 15, tzinfo=UTC), "wamid.2")  # Tuesday 09:15
    ticket, _st = state(sessions, ticket_id)
    # Paused 15 business minutes on Monday and 15 on Tuesday: due 30 minutes later, Tuesday 10:00 local.
    assert ticket.first_response_due_at == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)


# --- warnings, breaches and escalation --------------------------------------------------------------------------

def test_warning_then_breach_then_escalation_each_once(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    ana, carla = tenants["users"]["ana"], tenants["users"]["carla"]
    tid = ana.tenant_id
    policy(sessions, tenants, first_response_seconds=100, warning_fraction=0.8)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    act(sessions, tickets.assign_to, carla, ticket_id, ana.id, at(1))
    bus.events.clear()

    assert check(sessions, at(50)) == 0  # not picked: its next instant is later
    assert check(sessions, at(80)) == 1
    assert [n for n, _d in sla_events(bus)] == ["sla.warning"]
    assert rooms_of(bus, "sla.warning") == {f"t{tid}:supervisors", f"t{tid}:agent:{ana.id}"}
    assert check(sessions, at(90)) == 0
    bus.events.clear()

    assert check(sessions, at(100)) == 1
    events = sla_events(bus)
    assert [n for n, _d in events] == ["sla.breached", "ticket.updated"]
    breached = events[0][1]
    assert (breached["ticket_id"], breached["clock"], breached["due_at"]) == (ticket_id, "first_response",
                                                                              at(100).isoformat())
    assert events[1][1]["priority"] == 1
    for later in (101, 500, 10_000):
        assert check(sessions, at(later)) == 0
    ticket, st = state(sessions, ticket_id)
    assert ticket.priority == 1 and ticket.agent_id == ana.id  # no move configured
    assert st.next_check_at is None  # no resolution target: nothing left to watch
    with sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla.escalated")).one()
        assert audit.data["clocks"] == ["first_response"] and audit.data["priority"] == [0, 1]
        names = list(s.scalars(select(RealtimeEvent.name).where(RealtimeEvent.name.like("sla.%"))
                               .order_by(RealtimeEvent.id)))
    assert names == ["sla.warning", "sla.breached"]


def test_escalation_moves_to_another_queue(sessions: sessionmaker[Session], bus: RecordingBus,
                                           tenants: dict[str, Any]) -> None:
    ana, carla = tenants["users"]["ana"], tenants["users"]["carla"]
    sales = queue_id(tenants, "Sales")
    policy(sessions, tenants, first_response_seconds=60, escalate_queue_id=sales)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    act(sessions, tickets.assign_to, carla, ticket_id, ana.id, at(1))
    bus.events.clear()
    bus.tasks.clear()
    check(sessions, at(61))
    ticket, _st = state(sessions, ticket_id)
    assert (ticket.queue_id, ticket.agent_id, ticket.status, ticket.priority) == (sales, None,
                                                                                  TicketStatus.QUEUED, 1)
    assert ("assignment.assign_queue", [sales]) in bus.tasks
    assert f"t{ana.tenant_id}:agent:{ana.id}" in rooms_of(bus, "ticket.updated")  # the previous agent hears it
    with sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla.escalated")).one()
    assert audit.data["queue_id"] == [queue_id(tenants, "Support"), sales]
    assert audit.data["agent_id"] == [ana.id, None]


def test_escalation_hands_over_to_an_agent_and_priority_is_capped(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    bruno = tenants["users"]["bruno"]
    policy(sessions, tenants, first_response_seconds=60, escalate_agent_id=bruno.id)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    with sessions() as s, s.begin():
        s.get_one(Ticket, ticket_id).priority = MAX_PRIORITY
    check(sessions, at(61))
    ticket, _st = state(sessions, ticket_id)
    assert (ticket.agent_id, ticket.status, ticket.priority) == (bruno.id, TicketStatus.ASSIGNED, MAX_PRIORITY)
    with sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "sla.escalated")).one()
    assert "priority" not in audit.data and audit.data["agent_id"] == [None, bruno.id]


def test_a_late_reply_records_its_breach_once_without_escalating(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    ana, carla = tenants["users"]["ana"], tenants["users"]["carla"]
    policy(sessions, tenants, first_response_seconds=60)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    act(sessions, tickets.assign_to, carla, ticket_id, ana.id, at(1))
    bus.events.clear()
    act(sessions, conversation.reply, ana, ticket_id, "Desculpe a demora", at(75))  # the check has not run yet
    assert [n for n, _d in sla_events(bus)] == ["sla.breached"]
    assert check(sessions, at(80)) == 0
    ticket, st = state(sessions, ticket_id)
    assert ticket.priority == 0 and st.first_response_seconds == 75
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlaNotice)) == 1


def test_a_crossed_instant_stays_put_when_the_policy_changes(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    carla = tenants["users"]["carla"]
    policy(sessions, tenants, first_response_seconds=600)
    policy(sessions, tenants, queue_id=queue_id(tenants, "Support"), first_response_seconds=120,
           escalate_priority=False)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    assert check(sessions, at(130)) == 2  # warning and breach under the Support policy
    act(sessions, tickets.transfer_to_queue, carla, ticket_id, queue_id(tenants, "Sales"), at(200))
    ticket, _st = state(sessions, ticket_id)
    assert ticket.first_response_due_at == at(120)  # already breached: not moved to the default policy's 600 s
    assert check(sessions, at(700)) == 0
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SlaNotice)) == 2


def test_the_check_repairs_a_missed_pending_hook_and_the_clock_stops_from_then_on(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    policy(sessions, tenants, first_response_seconds=100)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    with sessions() as s, s.begin():  # a status change that did not call the SLA hook
        s.get_one(Ticket, ticket_id).status = TicketStatus.PENDING
    # Seen pending only now: the clock ran until now (the warning at 80 s stands), and stops here.
    assert check(sessions, at(90)) == 1
    assert [n for n, _d in sla_events(bus)] == ["sla.warning"]
    _ticket, st = state(sessions, ticket_id)
    assert st.next_check_at is None
    with sessions() as s:
        assert s.scalars(select(SlaPause)).one().started_at == at(90)
    assert check(sessions, at(1000)) == 0  # no breach while waiting on the customer


def test_reopening_restarts_the_resolution_clock(sessions: sessionmaker[Session], bus: RecordingBus,
                                                 tenants: dict[str, Any]) -> None:
    carla = tenants["users"]["carla"]
    policy(sessions, tenants, resolution_seconds=3600)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    act(sessions, tickets.resolve, carla, ticket_id, at(600))
    ticket, st = state(sessions, ticket_id)
    assert st.resolution_seconds == 600 and st.next_check_at is None
    act(sessions, tickets.reopen, carla, ticket_id, at(1000))
    ticket, st = state(sessions, ticket_id)
    assert ticket.resolution_due_at == at(4600) and st.next_check_at == at(1000 + 2880)
    act(sessions, tickets.resolve, carla, ticket_id, at(1500))
    assert state(sessions, ticket_id)[1].resolution_seconds == 500


def test_metrics_count_breaches_by_queue_and_observe_times(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    ana, carla = tenants["users"]["ana"], tenants["users"]["carla"]
    label = {"queue": str(queue_id(tenants, "Support"))}

    def sample(name: str, labels: dict[str, str] | None = None) -> float:
        return REGISTRY.get_sample_value(name, labels or {}) or 0.0

    breaches, first, handling = (sample("atendimento_sla_breaches_total", label),
                                 sample("atendimento_first_response_seconds_count"),
                                 sample("atendimento_handling_seconds_sum"))
    policy(sessions, tenants, first_response_seconds=60)
    ticket_id = customer_writes(sessions, bus, T0, "wamid.1")
    check(sessions, at(61))
    act(sessions, tickets.assign_to, carla, ticket_id, ana.id, at(62))
    act(sessions, conversation.reply, ana, ticket_id, "Olá", at(70))
    act(sessions, tickets.resolve, ana, ticket_id, at(130))
    assert sample("atendimento_sla_breaches_total", label) == breaches + 1
    assert sample("atendimento_first_response_seconds_count") == first + 1
    assert sample("atendimento_handling_seconds_sum") == handling + 130


def test_the_check_reads_an_index_not_every_ticket(sessions: sessionmaker[Session]) -> None:
    with sessions() as s, s.begin():
        s.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(s.scalars(text(
            "EXPLAIN SELECT * FROM tickets JOIN ticket_sla ON ticket_sla.ticket_id = tickets.id "
            "WHERE ticket_sla.next_check_at <= now() ORDER BY ticket_sla.next_check_at LIMIT 200 "
            "FOR UPDATE OF tickets, ticket_sla SKIP LOCKED")))
    assert "ix_ticket_sla_next_check_at" in plan

