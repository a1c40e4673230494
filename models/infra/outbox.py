"""The task outbox: enqueue work in the caller's transaction, publish it only after commit.

`enqueue` is the only way domain code asks for background work. The row is the durable promise; the
after-commit publish is the fast path; `relay_pending` (run by beat) is the safety net for a broker that was
down or a process that died between commit and publish.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, cast

from opentelemetry import context, propagate
from sqlalchemy import Connection, Engine, Table, bindparam, event, func, insert, literal, select, true, update
from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.events import OutboxTask
from models.infra.bus import bus_of
from models.infra.db import RowChanged, Still, after_commit, ignoring_insert, insert_or_ignore
from models.infra.prepared import prepared

log = logging.getLogger(__name__)


_PENDING = "outbox_pending"
_MARKER = "outbox_marker"  # in the session factory's info: the Marker its owner runs
_PUBLISHER = "outbox_publisher"  # in the session factory's info: the Publisher its owner runs, if any
# Core, not session.add: no unit of work to flush for a row this transaction never reads back.
# Declarative types `__table__` as a FromClause; a class mapped to one table has a Table.
_TABLE = cast(Table, OutboxTask.__table__)
_INSERT = insert(_TABLE).returning(_TABLE.c.id)


def enqueue(session: Session, tenant_id: int, task: str, *args: Any, headers: dict[str, Any] | None = None) -> None:
    """Ask for `task(*args)` to run once this transaction commits."""
    headers = _traced(headers)
    row_id = session.execute(_INSERT, {"tenant_id": tenant_id, "task": task, "args": list(args), "headers": headers,
                                       "created_at": utcnow(), "attempts": 0}).scalar_one()
    _promise(session, row_id, task, list(args), headers)


def insert_and_enqueue(session: Session, model: Any, values: dict[str, Any], conflict: list[str],
                       task: str, still: Still | None = None) -> int | None:
    """Insert a row of `model` unless one with the same `conflict` key exists and, when it is new, enqueue
    `task(new row's id)`: the webhook's whole write. Returns the new row's id, None for a duplicate.

    With `still`, nothing is written unless that row still holds the values it was read with: RowChanged is
    raised instead (the webhook's channel, held in memory for a while, checked by the write itself).

    On PostgreSQL one statement: the row's INSERT ... ON CONFLICT DO NOTHING RETURNING id is a data-modifying CTE
    that feeds the outbox's INSERT ... SELECT, so a duplicate inserts neither; the `still` check is a CTE the
    row's INSERT selects from, reported beside the result so that a changed row is told from a duplicate. The
    embedded default's SQLite has no such CTE: two or three statements there.
    """
    if session.get_bind().dialect.name != "postgresql":
        if still is not None and not still.holds(session):
            raise RowChanged(still.table.name)
        row_id = insert_or_ignore(session, model, values, conflict)
        if row_id is not None:
            enqueue(session, values["tenant_id"], task, row_id)
        return row_id
    headers = _traced(None)
    params = {f"row_{k}": v for k, v in values.items()}
    params.update(outbox_task=task, outbox_headers=headers, outbox_created_at=utcnow())
    if still is None:
        stmt = _insert_and_enqueue(model.__table__, tuple(conflict), tuple(values))
        row = session.execute(stmt, params).one_or_none()
    else:
        params.update({f"still_{k}": v for k, v in still.values.items()})
        stmt = _insert_and_enqueue_if(model.__table__, tuple(conflict), tuple(values), still.table, tuple(still.values))
        row = session.execute(stmt, params).one_or_none()
        if row is None:
            raise RowChanged(still.table.name)
        if row.id is None:
            row = None
    if row is None:
        return None
    _promise(session, row.id, task, list(row.args), headers)
    return int(row.args[0])


def _enqueue_new_row(new_row: Any) -> Any:
    """The outbox INSERT ... SELECT of a task for each row the `new_row` CTE returned (id, tenant_id)."""
    task = select(new_row.c.tenant_id, bindparam("outbox_task", type_=_TABLE.c.task.type),
                  func.jsonb_build_array(new_row.c.id), bindparam("outbox_headers", type_=_TABLE.c.headers.type),
                  bindparam("outbox_created_at", type_=_TABLE.c.created_at.type), literal(0))
    return (insert(_TABLE).from_select(["tenant_id", "task", "args", "headers", "created_at", "attempts"], task)
            .returning(_TABLE.c.id, _TABLE.c.args))


@lru_cache(maxsize=16)
def _insert_and_enqueue(table: Table, conflict: tuple[str, ...], columns: tuple[str, ...]) -> Any:
    new_row = (ignoring_insert(table, conflict, "postgresql")
               .values({c: bindparam(f"row_{c}", type_=table.c[c].type) for c in columns})
               .returning(table.c.id, table.c.tenant_id).cte("new_row"))
    return prepared(_enqueue_new_row(new_row))


@lru_cache(maxsize=16)
def _insert_and_enqueue_if(table: Table, conflict: tuple[str, ...], columns: tuple[str, ...], still: Table,
                           still_columns: tuple[str, ...]) -> Any:
    # WITH still AS (SELECT 1 ... WHERE the row holds the values), new_row AS (INSERT ... SELECT :values FROM still
    # ON CONFLICT DO NOTHING RETURNING ...), task AS (INSERT INTO outbox ... SELECT ... FROM new_row RETURNING ...)
    # SELECT still.ok, task.id, task.args FROM still LEFT JOIN task: no row = changed, a NULL id = a duplicate.
    held = (select(literal(1).label("ok"))
            .where(*(still.c[c] == bindparam(f"still_{c}", type_=still.c[c].type) for c in still_columns))
            .cte("still"))
    new_row = (ignoring_insert(table, conflict, "postgresql")
               .from_select(list(columns), select(*(bindparam(f"row_{c}", type_=table.c[c].type) for c in columns))
                            .select_from(held))
               .returning(table.c.id, table.c.tenant_id).cte("new_row"))
    task = _enqueue_new_row(new_row).cte("task")
    return prepared(select(held.c.ok, task.c.id, task.c.args).select_from(held.outerjoin(task, true())))


def _traced(headers: dict[str, Any] | None) -> dict[str, Any]:
    headers = dict(headers or {})
    propagate.inject(headers)  # the trace context survives a relay, so the task stays in the request's trace
    return headers


Batch = list[tuple[int, str, list[Any], dict[str, Any]]]  # (outbox row id, task, args, headers)


def _promise(session: Session, row_id: int, task: str, args: list[Any], headers: dict[str, Any]) -> None:
    """Publish the committed outbox row `row_id` once this transaction commits (one hook for all of them)."""
    pending = session.info.get(_PENDING)
    if pending is None:  # first task of this transaction: one hook publishes them all
        pending = session.info[_PENDING] = []
        bus, bind, marker = bus_of(session), session.get_bind(), session.info.get(_MARKER)
        publisher: Publisher | None = session.info.get(_PUBLISHER)

        def publish() -> None:
            batch = session.info.pop(_PENDING, [])
            if publisher is not None:
                publisher.add(bus, batch)
            else:
                _publish(bus, bind, marker, batch)

        after_commit(session, publish)
    pending.append((row_id, task, args, dict(headers)))


def _publish(bus: Any, bind: Engine | Connection, marker: Marker | None, batch: Batch) -> None:
    sent = []
    try:
        for row_id, name, row_args, row_headers in batch:
            bus.publish(name, row_args, row_headers)
            sent.append(row_id)
    finally:  # what was not published stays unmarked, for the relay
        if sent:
            if marker is not None:
                marker.add(sent)
            else:
                mark_dispatched(bind, sent)


class Publisher:
    """Publishes committed tasks from a thread of its own, so a request answers without waiting for the broker.

    The API's webhook used to publish its task before answering: a Celery publish is about a tenth of the API's
    CPU and, with the broker slow or down, up to its retry policy's half second more per request. The outbox row
    is already committed, so the publish need not hold the answer: if the process dies first, or the broker
    refuses, the relay publishes the row after OUTBOX_RELAY_MIN_AGE, as for any unmarked row. Tasks are
    published in commit order, each in the trace of the request that wrote it. The thread ends when the queue
    stays empty for `idle` seconds, and a forked child starts its own.
    """

    def __init__(self, marker: Marker, idle: float = 1.0) -> None:
        self.marker, self.idle = marker, idle
        self._queue: queue.SimpleQueue[tuple[Any, Batch] | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, bus: Any, batch: Batch) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._queue, self._thread, self._pid = queue.SimpleQueue(), None, os.getpid()
            self._queue.put((bus, batch))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-publish", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Publish what is queued now and wait for the thread to end (a later `add` starts a new one)."""
        with self._lock:
            thread = self._thread if self._pid == os.getpid() else None
            if thread is not None:
                self._queue.put(None)
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self.idle)
            except queue.Empty:
                item = None
            if item is None:
                with self._lock:
                    if self._queue.empty():
                        self._thread = None
                        return
                continue
            bus, batch = item
            for entry in batch:
                token = context.attach(propagate.extract(entry[3]))
                try:
                    _publish(bus, self.marker.engine, self.marker, [entry])
                except Exception:  # the broker refused: the row stays unmarked, for the relay
                    log.warning("could not publish task %s (outbox row %s); the relay will", entry[1], entry[0])
                finally:
                    context.detach(token)


def attach_publisher(sessions: sessionmaker[Session], publisher: Publisher) -> None:
    """Sessions of `sessions` publish through `publisher`'s thread (owned by the caller, who stops it)."""
    sessions.configure(info={**(sessions.kw.get("info") or {}), _PUBLISHER: publisher})


@event.listens_for(Session, "after_rollback")
def _drop_pending(session: Session) -> None:
    # A rolled-back transaction's tasks were never promised: forget them (their rows are gone too).
    session.info.pop(_PENDING, None)


class Marker:
    """Marks published rows dispatched, one UPDATE per `interval` for all of them, from a short-lived thread.

    Marking in the committing thread cost each webhook a second transaction (a checkout, a ping, the UPDATE and
    a commit). A mark that never lands (the process died first, or the database was down) only means the relay
    publishes that task again after OUTBOX_RELAY_MIN_AGE; tasks are idempotent. The thread ends when there is
    nothing left to mark, and a forked child starts its own.

    Whoever builds a session factory owns its marker (`models.infra.wiring.System`) and stops it when done, so no
    thread outlives the engine it marks through. A factory without one marks in the committing thread.
    """

    def __init__(self, engine: Engine, interval: float = 0.2) -> None:
        self.engine, self.interval = engine, interval
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def add(self, ids: list[int]) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._ids, self._thread, self._pid = [], None, os.getpid()
            self._ids.extend(ids)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-marks", daemon=True)
                self._thread.start()

    def stop(self) -> None:
        """Mark what is waiting now and wait for the thread to end (a later `add` starts a new one)."""
        with self._lock:
            ids, self._ids = self._ids, []
            thread = self._thread if self._pid == os.getpid() else None
        if ids:
            mark_dispatched(self.engine, ids)
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        while True:
            time.sleep(self.interval)
            with self._lock:
                ids, self._ids = self._ids, []
                if not ids:
                    self._thread = None
                    return
            mark_dispatched(self.engine, ids)


def mark_dispatched(bind: Engine | Connection, ids: list[int]) -> None:
    """Set `dispatched_at` on these published rows: in a transaction of its own on an engine, or in the current
    transaction of a connection (a session joined into an external transaction, as the tests do)."""
    stmt = update(OutboxTask).where(OutboxTask.id.in_(ids)).values(dispatched_at=utcnow())
    try:
        if isinstance(bind, Connection):
            bind.execute(stmt)
        else:
            with bind.begin() as conn:
                conn.execute(stmt)
    except Exception:
        log.warning("could not mark %d outbox rows dispatched; the relay will publish them again", len(ids))


def attach_marker(sessions: sessionmaker[Session], marker: Marker) -> None:
    """Sessions of `sessions` hand the rows they published to `marker` (owned by the caller, who stops it)."""
    sessions.configure(info={**(sessions.kw.get("info") or {}), _MARKER: marker})


def relay_pending(session: Session, now: datetime, min_age_seconds: float, limit: int = 500) -> int:
    """Publish outbox rows older than `min_age_seconds` that were never dispatched. Returns how many.

    `SKIP LOCKED` lets two relays (two beats, or a slow run overlapping the next) share the backlog instead
    of publishing the same rows twice.
    """
    bus = bus_of(session)
    rows = session.scalars(
        select(OutboxTask)
        .where(OutboxTask.dispatched_at.is_(None), OutboxTask.created_at < now - timedelta(seconds=min_age_seconds))
        .order_by(OutboxTask.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    sent = 0
    for row in rows:
        row.attempts += 1
        token = context.attach(propagate.extract(dict(row.headers)))
        try:
            bus.publish(row.task, list(row.args), dict(row.headers))
        except Exception:
            log.warning("outbox relay could not publish task %s (row %s); will retry", row.task, row.id)
            break  # the broker is down: stop, keep the rest for the next run
        finally:
            context.detach(token)
        row.dispatched_at = now
        sent += 1
    return sent
