"""Real-time events: stored for replay, emitted after commit to Socket.IO rooms from any process."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, event, func, insert, literal_column, select
from sqlalchemy.orm import Session, SessionTransaction

from models.base import utcnow
from models.events import RealtimeEvent
from models.infra.bus import bus_of
from models.infra.db import after_commit

# Declarative types `__table__` as a FromClause; a class mapped to one table has a Table.
_TABLE = cast(Table, RealtimeEvent.__table__)
# In the order given, whatever the number of rows (SQLAlchemy's "insertmanyvalues": one statement).
_INSERT = insert(_TABLE).returning(_TABLE.c.id, sort_by_parameter_order=True)
_PENDING = "atendimento.realtime.pending"


def tenant_room(tenant_id: int) -> str:
    return f"t{tenant_id}"


def agent_room(tenant_id: int, user_id: int) -> str:
    return f"t{tenant_id}:agent:{user_id}"


def queue_room(tenant_id: int, queue_id: int) -> str:
    return f"t{tenant_id}:queue:{queue_id}"


def ticket_room(tenant_id: int, ticket_id: int) -> str:
    return f"t{tenant_id}:ticket:{ticket_id}"


def supervisors_room(tenant_id: int) -> str:
    return f"t{tenant_id}:supervisors"


def emit(session: Session, tenant_id: int, name: str, data: dict[str, Any], rooms: list[str]) -> None:
    """Record event `name` and send it to `rooms` once the transaction commits.

    The row gives the event its id: a client that reconnects asks for everything after the last id it saw,
    because the Redis message queue is plain pub/sub and drops what nobody was listening for. The rows of a
    transaction are written together just before it commits (one statement for the two or three events a first
    message emits): nothing reads them before then, except the erasure, which writes them first.
    """
    targets, at = sorted(set(rooms)), utcnow()
    envelope: dict[str, Any] = {"id": None, "name": name, "at": at.isoformat(), "data": data}
    row = {"tenant_id": tenant_id, "name": name, "rooms": targets, "data": data, "created_at": at}
    session.info.setdefault(_PENDING, []).append((row, envelope))
    _send_after_commit(session, name, envelope, targets)


def row_params(tenant_id: int, name: str, data: dict[str, Any], rooms: list[str], at: datetime) -> dict[str, Any]:
    """The parameters of `insert_from`: an event whose row another statement writes."""
    return {"rt_tenant_id": tenant_id, "rt_name": name, "rt_rooms": sorted(set(rooms)), "rt_data": data,
            "rt_created_at": at}


def insert_from(source: Any) -> Any:
    """`INSERT INTO realtime_events ... SELECT ... FROM source RETURNING id` (PostgreSQL), for a CTE of a statement
    that writes the row the event is about: one event per row of `source` (none for a copy stored before), its
    data the `rt_data` document with `id` set to the row's id, since the id is not known before the statement."""
    data = func.jsonb_set(bindparam("rt_data", type_=_TABLE.c.data.type), literal_column("'{id}'"),
                          func.to_jsonb(source.c.id))
    values = select(bindparam("rt_tenant_id", type_=_TABLE.c.tenant_id.type), bindparam("rt_name"),
                    bindparam("rt_rooms", type_=_TABLE.c.rooms.type), data,
                    bindparam("rt_created_at", type_=_TABLE.c.created_at.type)).select_from(source)
    return (insert(_TABLE).from_select(("tenant_id", "name", "rooms", "data", "created_at"), values)
            .returning(_TABLE.c.id))


def written(session: Session, tenant_id: int, name: str, data: dict[str, Any], rooms: list[str], at: datetime,
            event_id: int) -> None:
    """An event whose row the caller's statement wrote (`insert_from`, `row_params`): what `emit` does after."""
    targets = sorted(set(rooms))
    envelope = {"id": event_id, "name": name, "at": at.isoformat(), "data": data}
    fan_out = session.info.get("webhooks")
    if fan_out is not None:
        fan_out(session, tenant_id, name, data, event_id, at)
    _send_after_commit(session, name, envelope, targets)


def _send_after_commit(session: Session, name: str, envelope: dict[str, Any], targets: list[str]) -> None:
    bus = bus_of(session)

    def send() -> None:  # one message on the queue for all rooms; a client in several rooms gets it once
        bus.emit(name, envelope, targets)

    after_commit(session, send)


def write_pending(session: Session) -> None:
    """Write the events emitted so far in this transaction (and their outgoing webhook deliveries)."""
    fan_out = session.info.get("webhooks")
    while pending := session.info.pop(_PENDING, None):
        ids = session.scalars(_INSERT, [row for row, _envelope in pending]).all()
        for (row, envelope), event_id in zip(pending, ids, strict=True):
            envelope["id"] = event_id
            if fan_out is not None:  # outgoing webhooks: their deliveries commit with the event, or not at all
                fan_out(session, row["tenant_id"], row["name"], row["data"], event_id, row["created_at"])


@event.listens_for(Session, "before_commit")
def _write_before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:  # rolled back (a commit wrote them): they never happened
        session.info.pop(_PENDING, None)


def redis_emitter(redis_url: str, channel: str) -> Any:
    """An emitter for processes without a Socket.IO server (workers): publishes on the servers' queue.

    The channel must be the one the servers listen on (Flask-SocketIO's default is "flask-socketio"),
    or events vanish without an error.
    """
    import socketio

    manager = socketio.RedisManager(redis_url, channel=channel, write_only=True)

    def send(name: str, data: dict[str, Any], rooms: list[str]) -> None:
        manager.emit(name, data, namespace="/", room=rooms)

    return send
