"""Assignment: hand waiting tickets of a queue to online agents with room, without races.

How the guarantee is made: the queue row is locked `FOR UPDATE` first, so one assigner at a time works a
queue; then the online members are locked `FOR UPDATE` in id order, so an agent shared by two queues is never
filled by both at once (and the fixed order rules out deadlocks); waiting tickets are taken
`FOR UPDATE SKIP LOCKED`, so a ticket being moved by someone else is left alone. Capacity is counted inside the
same transaction, so it cannot be overrun between the count and the update.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from models.events import AuditEntry
from models.infra import realtime, tasks
from models.infra.availability import availability_of
from models.infra.metrics import ASSIGNMENT_SECONDS, observe
from models.infra.outbox import enqueue
from models.org import AgentStatus, Queue, QueueMember, User
from models.rules.assignment import Candidate, choose_agent
from models.services.payloads import ticket_audience, ticket_summary
from models.tickets import Contact, Ticket, TicketStatus

BATCH = 100
ASSIGNED_STATUSES = (TicketStatus.ASSIGNED, TicketStatus.PENDING)


def assign_queue(session: Session, queue_id: int, now: datetime) -> list[tuple[int, int]]:
    """Assign as many waiting tickets of the queue as capacity allows. Returns (ticket_id, agent_id) pairs."""
    return _fill(session, queue_id, now, skip_locked=False) or []


def assign_now_or_later(session: Session, tenant_id: int, queue_id: int, now: datetime) -> list[tuple[int, int]]:
    """Assign the queue in the caller's transaction, the one that just queued a ticket (triage): no assign task,
    no second transaction. When that cannot be done now, ask for an assign task after commit, as before.

    Why "cannot" is decided without waiting: another assigner holding the queue right now cannot see this
    transaction's ticket, so waiting for it would assign nothing more; its lock is skipped (SKIP LOCKED) and the
    task, which runs after this commit, sees the ticket. Likewise when the availability cache says nobody has room:
    no lock is taken, so an agent coming online meanwhile might assign before this commit and miss the ticket;
    the task covers that too. Once this transaction holds the queue, a concurrent change (an agent online, a ticket
    resolved) asks for its own assignment, which waits for this commit and then sees the ticket.
    """
    done = _fill(session, queue_id, now, skip_locked=True)
    if done is None:
        enqueue(session, tenant_id, tasks.ASSIGN_QUEUE, queue_id)
        return []
    return done


def _fill(session: Session, queue_id: int, now: datetime, skip_locked: bool) -> list[tuple[int, int]] | None:
    """The assignment itself; None when it did not run (no room by the cache, or the queue skipped as locked)."""
    if not availability_of(session).has_room(queue_id, lambda: _room_exists(session, queue_id)):
        return None  # nobody online with room: no lock taken (the cache is invalidated when that changes)
    # FOR NO KEY UPDATE: exclusive among assigners, yet it does not block the foreign-key checks of triage
    # inserting tickets into this queue (those take KEY SHARE).
    queue = session.scalars(select(Queue).where(Queue.id == queue_id)
                            .with_for_update(key_share=True, skip_locked=skip_locked)).one_or_none()
    if queue is None:
        return None
    tickets = session.scalars(
        select(Ticket)
        .where(Ticket.queue_id == queue.id, Ticket.status == TicketStatus.QUEUED)
        .order_by(Ticket.priority.desc(), Ticket.created_at, Ticket.id)
        .limit(BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not tickets:
        return []
    # Core rows, not entities: a queue of a hundred online agents loaded 200 objects for each ticket triage
    # queued, the biggest share of a first message's CPU in the worker (py-spy at 120 msg/s).
    members = session.execute(_online_members(), {"queue_id": queue.id}).all()
    if not members:
        return []
    # Counted after the members' locks, in a statement of its own: its snapshot includes the tickets another
    # assigner gave them before releasing those locks (a column of the locking read would not).
    load = dict(session.execute(_members_load(), {"queue_id": queue.id}).tuples().all())
    candidates = {m.id: Candidate(m.id, load.get(m.id, 0), m.max_tickets, m.last_assigned_at, frozenset(m.skills))
                  for m in members}
    done: list[tuple[int, int]] = []
    stamps: dict[int, datetime] = {}
    for ticket in tickets:
        chosen = choose_agent(candidates.values(), queue.strategy.value, ticket.required_skills)
        if chosen is None:
            continue  # maybe a later ticket needs other skills
        _assign(session, ticket, chosen.agent_id, now, actor_id=None, reason="auto",
                filled=chosen.open_tickets + 1 >= chosen.capacity)
        # Distinct stamps within one batch keep the rotation order (equal stamps would tie on agent id).
        stamp = stamps[chosen.agent_id] = now + timedelta(microseconds=len(done))
        candidates[chosen.agent_id] = Candidate(chosen.agent_id, chosen.open_tickets + 1, chosen.capacity, stamp,
                                                chosen.skills)
        done.append((ticket.id, chosen.agent_id))
    if stamps:
        session.execute(_stamp_member(), [{"queue": queue.id, "user": u, "stamp": t} for u, t in stamps.items()])
    return done


@cache
def _online_members() -> Any:
    users, members = cast(Table, User.__table__), cast(Table, QueueMember.__table__)
    return (select(users.c.id, users.c.max_tickets, users.c.skills, members.c.last_assigned_at)
            .join(members, members.c.user_id == users.c.id)
            .where(members.c.queue_id == bindparam("queue_id"), users.c.status == AgentStatus.ONLINE,
                   users.c.active.is_(True))
            .order_by(users.c.id)
            .with_for_update(of=users, key_share=True))


@cache
def _members_load() -> Any:
    """Open tickets per member of the queue: one statement whatever the number of members (an IN list of the
    online ones was compiled afresh for every assignment)."""
    tickets, members = cast(Table, Ticket.__table__), cast(Table, QueueMember.__table__)
    return (select(tickets.c.agent_id, func.count())
            .join(members, members.c.user_id == tickets.c.agent_id)
            .where(members.c.queue_id == bindparam("queue_id"), tickets.c.status.in_(ASSIGNED_STATUSES))
            .group_by(tickets.c.agent_id))


@cache
def _stamp_member() -> Any:
    members = cast(Table, QueueMember.__table__)
    return (update(members).where(members.c.queue_id == bindparam("queue"), members.c.user_id == bindparam("user"))
            .values(last_assigned_at=bindparam("stamp")))


def _room_exists(session: Session, queue_id: int) -> bool:
    """Is an online member of the queue under capacity? (Read without locks: only a hint for the cache.)"""
    load = (select(func.count()).select_from(Ticket)
            .where(Ticket.agent_id == User.id, Ticket.status.in_(ASSIGNED_STATUSES)).scalar_subquery())
    rooms = session.scalar(
        select(func.count()).select_from(User).join(QueueMember, QueueMember.user_id == User.id)
        .where(QueueMember.queue_id == queue_id, User.status == AgentStatus.ONLINE, User.active.is_(True),
               load < User.max_tickets))
    return bool(rooms)


def queues_of(session: Session, agent_id: int) -> list[int]:
    return list(session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == agent_id)))


def _assign(session: Session, ticket: Ticket, agent_id: int, now: datetime, actor_id: int | None,
            reason: str, filled: bool) -> None:
    waited_since = ticket.updated_at if ticket.assigned_at else ticket.created_at  # requeued: since the requeue
    observe(session, ASSIGNMENT_SECONDS, max(0.0, (now - waited_since).total_seconds()), tenant=ticket.tenant_id)
    ticket.agent_id = agent_id
    ticket.status = TicketStatus.ASSIGNED
    ticket.assigned_at = now
    ticket.updated_at = now
    session.add(AuditEntry(tenant_id=ticket.tenant_id, actor_id=actor_id, action="ticket.assigned",
                           entity="ticket", entity_id=ticket.id, data={"agent_id": agent_id, "reason": reason},
                           created_at=now))
    if filled:  # the agent had room and now has none: their queues' "anyone with room?" may turn to no
        availability_of(session).invalidate_after_commit(session, queues_of(session, agent_id))
    contact = session.get(Contact, ticket.contact_id)
    rooms = [*ticket_audience(ticket)]
    if ticket.queue_id is not None:
        rooms.append(realtime.queue_room(ticket.tenant_id, ticket.queue_id))
    realtime.emit(session, ticket.tenant_id, "ticket.assigned", ticket_summary(ticket, contact), rooms)


def waiting_queue_ids(session: Session) -> list[int]:
    """Queues with at least one waiting ticket: what the periodic safety-net sweep visits."""
    return list(session.scalars(select(Ticket.queue_id).where(Ticket.status == TicketStatus.QUEUED,
                                                              Ticket.queue_id.is_not(None)).distinct()))
