"""The outbox publishes after commit without needing a second pooled connection, in the committing thread or
from a publisher thread of its own (the API), and leaves what the broker refused to the relay."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from models import OutboxTask
from models.base import utcnow
from models.infra.bus import Bus, RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.infra.outbox import Marker, Publisher, attach_marker, attach_publisher, enqueue, relay_pending


def test_publishing_after_commit_works_with_a_pool_of_one(database_url: str, engine: Any,
                                                          tenants: dict[str, Any]) -> None:
    # Every gunicorn thread holds one connection; if the after-commit publish needed a second one while the
    # first was still checked out, a busy pool would deadlock. With one connection in the pool, it must not.
    one = make_engine(Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}),
                      pool_size=1, max_overflow=0, pool_timeout=2)
    bus = RecordingBus()
    sessions = make_session_factory(one, bus)
    try:
        tenant_id = tenants["users"]["ana"].tenant_id
        with sessions() as s, s.begin():
            enqueue(s, tenant_id, "x.first", 1)
            enqueue(s, tenant_id, "x.second", 2)
        assert bus.tasks == [("x.first", [1]), ("x.second", [2])]
        for _ in range(100):  # marked dispatched by the background marker, within its interval
            with sessions() as s:
                if all(row.dispatched_at is not None for row in s.scalars(select(OutboxTask))):
                    break
            time.sleep(0.05)
        else:
            raise AssertionError("published rows were never marked dispatched")
    finally:
        one.dispose()


def _wait_dispatched(sessions: Any, count: int) -> list[OutboxTask]:
    for _ in range(200):
        with sessions() as s:
            rows = s.scalars(select(OutboxTask).order_by(OutboxTask.id)).all()
            if sum(r.dispatched_at is not None for r in rows) == count:
                return list(rows)
        time.sleep(0.05)
    raise AssertionError(f"never saw {count} rows marked dispatched")


def _with_publisher(engine: Any, publish: Any) -> tuple[Any, Marker, Publisher]:
    """Sessions shaped like the API's: published from a publisher thread, marked by a marker."""
    sessions = make_session_factory(engine, Bus(publish=publish, emit=lambda *_: None))
    marker = Marker(engine, interval=0.05)
    publisher = Publisher(marker)
    attach_marker(sessions, marker)
    attach_publisher(sessions, publisher)
    return sessions, marker, publisher


def test_with_a_publisher_the_commit_does_not_wait_for_the_broker(engine: Any, tenants: dict[str, Any]) -> None:
    # The API's shape: the request's commit returns while the broker is still busy with its task; the task is
    # published afterwards, in commit order, and its row marked.
    gate, published = threading.Event(), []

    def slow_broker(name: str, args: list[Any], headers: dict[str, Any]) -> None:
        gate.wait(10)
        published.append((name, args))

    sessions, marker, publisher = _with_publisher(engine, slow_broker)
    tenant_id = tenants["users"]["ana"].tenant_id
    try:
        with sessions() as s, s.begin():
            enqueue(s, tenant_id, "x.first", 1)
        with sessions() as s, s.begin():
            enqueue(s, tenant_id, "x.second", 2)
        assert published == []  # both commits returned; the broker has not answered yet
        gate.set()
        _wait_dispatched(sessions, 2)
        assert published == [("x.first", [1]), ("x.second", [2])]
    finally:
        gate.set()
        publisher.stop()
        marker.stop()


def test_a_broker_that_refuses_leaves_the_row_to_the_relay(engine: Any, tenants: dict[str, Any]) -> None:
    def down(name: str, args: list[Any], headers: dict[str, Any]) -> None:
        raise ConnectionError("broker down")

    sessions, marker, publisher = _with_publisher(engine, down)
    tenant_id = tenants["users"]["ana"].tenant_id
    try:
        with sessions() as s, s.begin():
            enqueue(s, tenant_id, "x.lost", 7)
        publisher.stop()  # the publish was tried and refused
        marker.stop()
        relayed = RecordingBus()
        later = make_session_factory(engine, relayed)
        with later() as s, s.begin():
            assert relay_pending(s, utcnow() + timedelta(minutes=5), min_age_seconds=60) == 1
        assert relayed.tasks == [("x.lost", [7])]
    finally:
        publisher.stop()
        marker.stop()
