"""Agents: presence, and the assignment it triggers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import NotFound
from models.events import AuditEntry, RealtimeEvent
from models.infra import realtime, tasks
from models.infra.availability import availability_of
from models.infra.outbox import enqueue
from models.org import AgentStatus, QueueMember, Role, User
from models.tickets import Ticket


def set_status(session: Session, user: User, status: AgentStatus, now: datetime) -> None:
    """Change an agent's presence. Coming online asks every queue of theirs to assign at once."""
    if user.status == status:
        return
    user.status = status
    user.status_changed_at = now
    session.add(AuditEntry(tenant_id=user.tenant_id, actor_id=user.id, action="agent.status", entity="user",
                           entity_id=user.id, data={"status": status.value}, created_at=now))
    queue_ids = sorted(session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user.id)))
    availability_of(session).invalidate_after_commit(session, queue_ids)
    if status == AgentStatus.ONLINE:
        for queue_id in queue_ids:
            enqueue(session, user.tenant_id, tasks.ASSIGN_QUEUE, queue_id)
    realtime.emit(session, user.tenant_id, "agent.status", {"agent_id": user.id, "status": status.value},
                  [realtime.supervisors_room(user.tenant_id), realtime.agent_room(user.tenant_id, user.id)])


def rooms_of(session: Session, user: User) -> list[str]:
    """The Socket.IO rooms this user may hear: always scoped to their own tenant."""
    tid = user.tenant_id
    rooms = [realtime.tenant_room(tid), realtime.agent_room(tid, user.id)]
    if user.role in (Role.SUPERVISOR, Role.ADMIN):
        rooms.append(realtime.supervisors_room(tid))
    for queue_id in session.scalars(select(QueueMember.queue_id).where(QueueMember.user_id == user.id)):
        rooms.append(realtime.queue_room(tid, queue_id))
    return rooms


def missed_events(session: Session, user: User, after: int, limit: int = 500,
                  ticket_id: int | None = None) -> list[RealtimeEvent]:
    """Events after id `after` that went to a room the user's socket is in: the rooms joined at connect
    (`rooms_of`: a supervisor's include the supervisors' room) and the followed ticket's room, `ticket_id`.

    Replay gives what a live socket would have heard, no more: a supervisor does not get what went only to a
    colleague's own room (a mention, a `window.closing` warning). Rooms are filtered here, page by page, until
    `limit` matches or the log ends, so a short page always means "nothing more".
    """
    mine = set(rooms_of(session, user))
    if ticket_id is not None:  # what `subscribe` allows: any ticket of their own tenant
        if session.scalar(select(Ticket.id).where(Ticket.id == ticket_id, Ticket.tenant_id == user.tenant_id)) is None:
            raise NotFound("no such ticket", field="ticket_id")
        mine.add(realtime.ticket_room(user.tenant_id, ticket_id))
    out: list[RealtimeEvent] = []
    while len(out) < limit:
        rows = list(session.scalars(select(RealtimeEvent).where(RealtimeEvent.tenant_id == user.tenant_id,
                                                                RealtimeEvent.id > after)
                                    .order_by(RealtimeEvent.id).limit(limit)))
        if not rows:
            break
        out.extend(r for r in rows if mine.intersection(r.rooms))
        after = rows[-1].id
    return out[:limit]


def socket_connected(session: Session, user: User) -> None:
    """A socket of theirs is up: they are not 'gone' any more."""
    user.last_seen_at = None


def last_socket_closed(session: Session, user: User, now: datetime) -> None:
    """Their last socket closed: start the grace period (beat's expire_presence decides after it)."""
    user.last_seen_at = now


def expire_presence(session: Session, now: datetime, grace_seconds: float,
                    connected: Callable[[int], bool]) -> int:
    """Online agents whose sockets have all been gone for the grace period become away, so assignment stops
    sending them tickets (and their unanswered ones can return to the queue)."""
    rows = session.scalars(select(User).where(User.status == AgentStatus.ONLINE, User.last_seen_at.is_not(None),
                                              User.last_seen_at < now - timedelta(seconds=grace_seconds))
                           .with_for_update(skip_locked=True)).all()
    moved = 0
    for user in rows:
        if connected(user.id):  # reconnected to another instance meanwhile
            user.last_seen_at = None
            continue
        set_status(session, user, AgentStatus.AWAY, now)
        moved += 1
    return moved
