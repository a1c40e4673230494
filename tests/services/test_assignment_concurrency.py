"""Several processes assigning from one queue at once on the real PostgreSQL, agents toggling in between, and
triage assigning the tickets it opens in its own transaction while assigners and toggles run.

The guarantee comes from row locks (queue row, then agents in id order, then tickets SKIP LOCKED; see
models/services/assignment.py); this test is the proof that it holds across processes.
"""

from __future__ import annotations

import multiprocessing
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Channel, Contact, Queue, QueueMember, Ticket, User
from models.base import utcnow
from models.org import AgentStatus, Strategy
from models.services import assignment
from models.tickets import TicketStatus
from tests.services.assign_worker import assign_loop, toggle_loop, triage_loop

AGENTS, CAPACITY, TICKETS, ASSIGNERS = 8, 3, 60, 4


def setup_queue(sessions: sessionmaker[Session], tenants: dict[str, Any], strategy: Strategy) -> tuple[int, list[int]]:
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        queue = s.get_one(Queue, channel.default_queue_id)
        queue.strategy = strategy
        s.query(QueueMember).filter(QueueMember.queue_id == queue.id).delete()
        agents = []
        for i in range(AGENTS):
            user = User(tenant_id=channel.tenant_id, email=f"load{i}@acme.example", name=f"L{i}", password_hash="x",
                        max_tickets=CAPACITY, status=AgentStatus.ONLINE, skills=[])
            s.add(user)
            s.flush()
            s.add(QueueMember(tenant_id=channel.tenant_id, queue_id=queue.id, user_id=user.id))
            agents.append(user.id)
        for i in range(TICKETS):
            contact = Contact(tenant_id=channel.tenant_id, phone=f"55119{i:08d}")
            s.add(contact)
            s.flush()
            s.add(Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                         queue_id=queue.id, status=TicketStatus.QUEUED, created_at=utcnow(), updated_at=utcnow(),
                         required_skills=[], triage_state={}))
        return queue.id, agents


def check_invariants(sessions: sessionmaker[Session], agents: list[int]) -> dict[int, int]:
    with sessions() as s:
        per_ticket = Counter(s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "ticket.assigned")))
        assert per_ticket and max(per_ticket.values()) == 1, "a ticket was assigned twice"
        load = dict(s.execute(select(Ticket.agent_id, func.count()).where(Ticket.agent_id.in_(agents))
                              .group_by(Ticket.agent_id)).tuples().all())
        assert max(load.values()) <= CAPACITY, f"an agent went over capacity: {load}"
        return load


def everyone_online_then_one_pass(sessions: sessionmaker[Session], queue_id: int, agents: list[int]) -> dict[int, int]:
    with sessions() as s, s.begin():
        for user in s.scalars(select(User).where(User.id.in_(agents))):
            user.status = AgentStatus.ONLINE
    with sessions() as s, s.begin():
        assignment.assign_queue(s, queue_id, utcnow())
    return check_invariants(sessions, agents)


@pytest.mark.parametrize("strategy", [Strategy.LEAST_BUSY, Strategy.ROUND_ROBIN])
def test_four_processes_assign_without_races(sessions: sessionmaker[Session], tenants: dict[str, Any],
                                             database_url: str, strategy: Strategy) -> None:
    queue_id, agents = setup_queue(sessions, tenants, strategy)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(ASSIGNERS + 1) as pool:
        runs = [pool.apply_async(assign_loop, (database_url, queue_id, 3.0)) for _ in range(ASSIGNERS)]
        toggles = pool.apply_async(toggle_loop, (database_url, agents, 3.0, 7))
        assigned = sum(r.get(timeout=60) for r in runs)
        assert toggles.get(timeout=60) > 0
    load = check_invariants(sessions, agents)
    assert assigned == sum(load.values())
    # Nobody waits while someone could take it: with everyone back online, one more pass fills every slot.
    load = everyone_online_then_one_pass(sessions, queue_id, agents)
    assert sum(load.values()) == AGENTS * CAPACITY  # 24 slots, 60 tickets: every slot taken


def test_round_robin_is_fair_within_one_ticket(sessions: sessionmaker[Session], tenants: dict[str, Any],
                                               database_url: str) -> None:
    queue_id, agents = setup_queue(sessions, tenants, Strategy.ROUND_ROBIN)
    with sessions() as s, s.begin():  # room for everyone, so only the rotation decides
        for user in s.scalars(select(User).where(User.id.in_(agents))):
            user.max_tickets = 100
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(ASSIGNERS) as pool:
        runs = [pool.apply_async(assign_loop, (database_url, queue_id, 2.0)) for _ in range(ASSIGNERS)]
        assert sum(r.get(timeout=60) for r in runs) == TICKETS
    with sessions() as s:
        load = dict(s.execute(select(Ticket.agent_id, func.count()).where(Ticket.agent_id.in_(agents))
                              .group_by(Ticket.agent_id)).tuples().all())
    assert max(load.values()) - min(load.values()) <= 1, load


def test_triage_assigns_in_its_own_transaction_beside_assigners_without_races(
        sessions: sessionmaker[Session], tenants: dict[str, Any], database_url: str) -> None:
    queue_id, agents = setup_queue(sessions, tenants, Strategy.LEAST_BUSY)
    with sessions() as s, s.begin():  # only the tickets triage opens, no waiting ones
        s.query(Ticket).delete()
        s.query(Contact).delete()
    customers = [f"5521987{i:06d}" for i in range(40)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(6) as pool:
        triages = [pool.apply_async(triage_loop, (database_url, customers[i::3], f"t{i}")) for i in range(3)]
        runs = [pool.apply_async(assign_loop, (database_url, queue_id, 3.0)) for _ in range(2)]
        toggles = pool.apply_async(toggle_loop, (database_url, agents, 3.0, 11))
        asked = [name for r in triages for name in r.get(timeout=90)]
        for r in runs:
            r.get(timeout=60)
        toggles.get(timeout=60)
    load = check_invariants(sessions, agents)
    with sessions() as s:
        statuses = Counter(s.scalars(select(Ticket.status)))
    assert sum(statuses.values()) == len(customers)  # one ticket per customer, none lost
    assert statuses[TicketStatus.ASSIGNED] == sum(load.values())
    assert set(asked) <= {"assignment.assign_queue", "outbound.send_message"}
    # How many triage assigned itself is left to timing (1 to 6 of 40 here, none once in CI: two assigners
    # hold the queue most of the time); the test below shows that path alone.
    # What was not assigned where it was triaged had its assign task asked for; with everyone online, the tasks
    # (or any one assign pass) fill every slot there is.
    load = everyone_online_then_one_pass(sessions, queue_id, agents)
    assert sum(load.values()) == AGENTS * CAPACITY  # 24 slots, 40 tickets


def test_triage_assigns_a_free_queue_in_its_own_transaction(
        sessions: sessionmaker[Session], tenants: dict[str, Any], bus: Any) -> None:
    from models.services import triage
    from tests.fakes.whatsapp import text_delivery
    from tests.services.helpers import store

    queue_id, agents = setup_queue(sessions, tenants, Strategy.LEAST_BUSY)
    with sessions() as s, s.begin():  # agents with room, no ticket waiting
        s.query(Ticket).delete()
    store(sessions, text_delivery("wamid.free.1", sender="5521900000002"))
    (_, args), = [t for t in bus.tasks if t[0] == "triage.process_event"]
    bus.tasks.clear()
    with sessions() as s, s.begin():
        triage.process_event(s, args[0], utcnow())
    assert [name for name, _args in bus.tasks if name == "assignment.assign_queue"] == []
    with sessions() as s:
        ticket = s.scalars(select(Ticket).join(Contact).where(Contact.phone == "5521900000002")).one()
        assert (ticket.queue_id, ticket.status, ticket.agent_id in agents) == (queue_id, TicketStatus.ASSIGNED, True)


def test_triage_does_not_wait_for_a_busy_assigner_and_asks_for_a_task(
        sessions: sessionmaker[Session], tenants: dict[str, Any], database_url: str, bus: Any) -> None:
    from sqlalchemy import create_engine, text

    from models.services import triage
    from tests.fakes.whatsapp import text_delivery
    from tests.services.helpers import store

    queue_id, agents = setup_queue(sessions, tenants, Strategy.LEAST_BUSY)
    with sessions() as s, s.begin():  # agents with room, no ticket waiting
        s.query(Ticket).delete()
    holder = create_engine(database_url).connect()
    try:
        locked = holder.begin()
        holder.execute(text("SELECT id FROM queues WHERE id = :q FOR NO KEY UPDATE"), {"q": queue_id})
        store(sessions, text_delivery("wamid.busy.1", sender="5521900000001"))
        (_, args), = [t for t in bus.tasks if t[0] == "triage.process_event"]
        bus.tasks.clear()
        with sessions() as s, s.begin():  # would hang here if triage waited for the other assigner
            s.execute(text("SET LOCAL lock_timeout = '5s'"))
            triage.process_event(s, args[0], utcnow())
        assert ("assignment.assign_queue", [queue_id]) in bus.tasks
        locked.rollback()
    finally:
        holder.close()
    with sessions() as s:
        ticket = s.scalars(select(Ticket).join(Contact).where(Contact.phone == "5521900000001")).one()
        assert ticket.status == TicketStatus.QUEUED
    with sessions() as s, s.begin():  # the task, after the other assigner let go
        assignment.assign_queue(s, queue_id, utcnow())
    with sessions() as s:
        assert s.get_one(Ticket, ticket.id).agent_id in agents
