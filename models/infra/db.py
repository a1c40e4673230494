"""Engine, sessions and after-commit hooks.

Domain functions take a session and never commit; the transport that opened the session commits it
(`session_scope`). Whatever must happen only if the transaction commits (publishing tasks, emitting
Socket.IO events) is registered with `after_commit` and runs once the commit succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar, cast

from sqlalchemy import Engine, Table, create_engine, event, select
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from models.infra import prepared
from models.infra.bus import Bus
from models.infra.config import Settings

M = TypeVar("M")

log = logging.getLogger(__name__)

_HOOKS = "after_commit_hooks"
_READY = "after_commit_ready"


def make_engine(settings: Settings, **kwargs: Any) -> Engine:
    """An engine for the configured database; SQLite gets WAL and a busy timeout for its threads."""
    url = settings.database_url
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # DB_POOL_SIZE / DB_MAX_OVERFLOW win over the caller's defaults (API 10 + 20, workers pass 2 + 4).
    if settings.db_pool_size is not None:
        kwargs["pool_size"] = settings.db_pool_size
    if settings.db_max_overflow is not None:
        kwargs["max_overflow"] = settings.db_max_overflow
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine, settings.db_ping_idle_seconds)
    prepared.attach(engine)
    return engine


def _ping_when_idle(engine: Engine, idle_seconds: float) -> None:
    """Ping a pooled connection at checkout only when it sat in the pool longer than `idle_seconds`.

    `pool_pre_ping` pings on every checkout: a round trip per request and ~4-6 % of the API's CPU under load,
    spent on connections that were in use a millisecond ago. A connection PostgreSQL dropped (restart, idle
    timeout, failover) is one that sat unused; one that dies while busy fails its transaction either way, and
    the callers retry that (503 to a provider, task retry). After a restart, the first statement that meets a
    dead connection also makes SQLAlchemy invalidate the whole pool, so it costs one such retry per process.
    A failed ping raises DisconnectionError, on which the pool discards the connection and checks out a fresh
    one (SQLAlchemy's pessimistic disconnect recipe).
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        record.info["checked_in_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        last = record.info.get("checked_in_at")
        if last is None or time.monotonic() - last <= idle_seconds:
            return  # new, or back in the pool a moment ago
        try:
            cur = dbapi_conn.cursor()
            cur.execute("SELECT 1")
            cur.close()
        except Exception as exc:
            raise DisconnectionError(f"pooled connection dropped while idle: {exc}") from exc


def make_session_factory(engine: Engine, bus: Bus, availability: Any = None,
                         webhooks: Any = None, settings: Settings | None = None) -> sessionmaker[Session]:
    """Sessions that publish tasks and emit events through `bus` after they commit (and invalidate the
    assignment availability cache, when one is given: models.infra.availability). `webhooks`, when given, is
    called with every real-time event inside its transaction (the outgoing webhooks' fan-out). `settings`, when
    given, lets a service build our own signed public links (CSAT email links: secret key and public URL)."""
    return sessionmaker(bind=engine, expire_on_commit=False,
                        info={"bus": bus, "availability": availability, "webhooks": webhooks, "settings": settings})


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One transaction: commit on success, roll back on error, then run the after-commit hooks."""
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def after_commit(session: Session, hook: Callable[[], None]) -> None:
    """Run `hook` after this session's transaction commits; drop it if the transaction rolls back."""
    session.info.setdefault(_HOOKS, []).append(hook)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    session.info.setdefault(_READY, []).extend(session.info.pop(_HOOKS, []))


@event.listens_for(Session, "after_transaction_end")
def _run_hooks(session: Session, transaction: Any) -> None:
    # Not in after_commit: there the transaction still holds its connection, and a hook that needs one (the
    # outbox marking rows dispatched) would take a second from the pool; with every thread doing that at
    # once the pool deadlocks. At transaction end the connection is back in the pool.
    if transaction.parent is not None:
        return
    hooks = session.info.pop(_READY, [])
    for hook in hooks:
        try:
            hook()
        except Exception:  # the durable rows (outbox, events) let the relay and replay recover
            log.exception("after-commit hook failed; the outbox relay will retry")


@event.listens_for(Session, "after_rollback")
def _drop_hooks(session: Session) -> None:
    session.info.pop(_HOOKS, None)


@dataclass(frozen=True)
class Still:
    """A row a write depends on, as it was read: `table`'s row whose columns hold `values` (its key among them).

    A write made `Still(...)` happens only if the row holds those values when the write runs, in the same
    statement where the database allows it: what a process held in memory may have changed since it read it.
    """

    table: Table
    values: Mapping[str, Any]

    def holds(self, session: Session) -> bool:
        """Whether the row still holds the values (a statement of its own, for a database without CTE writes)."""
        cols = [self.table.c[c] for c in self.values]
        row = session.execute(select(*cols).where(*(c == self.values[c.name] for c in cols if c.primary_key)))
        found = row.first()
        return found is not None and tuple(found) == tuple(self.values.values())


class RowChanged(Exception):
    """The row a `Still` write depended on no longer holds what it was read with; the write wrote nothing."""


def insert_or_ignore(session: Session, model: Any, values: dict[str, Any], conflict: list[str]) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING id: the new row's id, or None when it already existed.

    The database decides, so two processes storing the same provider event at once cannot both win. A Core
    statement on the table, built once per table and passed the values as parameters: the ORM's bulk-insert
    path and a fresh compilation per call cost more than the round trip itself on the hot paths (intake, triage).
    """
    dialect = session.get_bind().dialect.name
    stmt = _insert_ignoring(model.__table__, tuple(conflict), dialect)
    return session.execute(stmt, values).scalar_one_or_none()


def insert_or_ignore_row(session: Session, model: type[M], values: dict[str, Any], conflict: list[str]) -> M | None:
    """As `insert_or_ignore`, for a caller that goes on with the row: the new row as an object of the session, from
    the same statement (RETURNING every column), instead of the id and a second SELECT; None when it existed.

    The cached Core statement, loaded through `select(model).from_statement`: measured cheaper in CPU than the
    ORM's own INSERT ... RETURNING entity (ops: 1.7-2.2 ms against 2.1-2.9 ms a transaction)."""
    stmt = _insert_ignoring_rows(cast(Any, model), tuple(conflict), session.get_bind().dialect.name)
    return session.scalars(stmt, values).one_or_none()


@lru_cache(maxsize=32)
def _insert_ignoring_rows(model: Any, conflict: tuple[str, ...], dialect: str) -> Any:
    mapper: Any = model.__mapper__
    # The mapped columns only: a table may carry more (messages.search_vector, generated, PostgreSQL only).
    stmt = _insert_ignoring(mapper.local_table, conflict, dialect, tuple(mapper.columns))
    return select(model).from_statement(stmt)


@lru_cache(maxsize=64)
def _insert_ignoring(table: Table, conflict: tuple[str, ...], dialect: str, returned: tuple[Any, ...] = ()) -> Any:
    return ignoring_insert(table, conflict, dialect).returning(*(returned or (table.c.id,)))


def ignoring_insert(table: Table, conflict: tuple[str, ...], dialect: str) -> Any:
    """`INSERT INTO table ... ON CONFLICT (conflict) DO NOTHING` for `dialect`, which SQLAlchemy can cache.

    The dialects' own ON CONFLICT inserts opt out of the compiled-statement cache (`inherit_cache = False`: their
    conflict clause is not part of the cache key), so every execution compiled the statement again: py-spy found
    that a sixth of the webhook's CPU. Here the clause keys on its conflict columns, so each
    distinct statement is compiled once; only this plain "do nothing on these columns" form is offered.
    """
    insert_cls, clause_cls = _ignoring_classes(dialect)
    stmt = insert_cls(table)
    stmt._post_values_clause = clause_cls(index_elements=list(conflict))
    return stmt


@lru_cache(maxsize=2)
def _ignoring_classes(dialect: str) -> tuple[Any, Any]:
    from sqlalchemy.sql.visitors import InternalTraversal

    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import dml
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import dml  # type: ignore[no-redef]
    else:  # pragma: no cover - only the two supported backends
        raise RuntimeError(f"unsupported database {dialect}")

    class IgnoringInsert(dml.Insert):
        inherit_cache = True  # the conflict clause is in the key: Insert's traversal visits it

    class DoNothingOn(dml.OnConflictDoNothing):
        __visit_name__ = "on_conflict_do_nothing"
        inherit_cache = True
        _traverse_internals = [("_target", InternalTraversal.dp_string)]

        def __init__(self, index_elements: list[str]) -> None:
            super().__init__(index_elements=index_elements)
            self._target = ",".join(index_elements)

    return IgnoringInsert, DoNothingOn


def rowcount(result: Any) -> int:
    """Rows an UPDATE or DELETE touched (a CursorResult's rowcount; the Result type does not declare it)."""
    return int(result.rowcount)
