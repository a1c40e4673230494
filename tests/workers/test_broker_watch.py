"""The broker watcher's drain on the real database and Redis: a backlog is asked again page by page, a run that
stops at its time budget leaves its cursor in Redis and the next run goes on from there, and the marker is set
only when every pending event was asked again (each exactly once)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.events import InboxEvent, OutboxTask
from models.infra import tasks
from models.infra.config import Settings
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import store
from workers import recovery, runtime

pytestmark = pytest.mark.commits  # the watcher reads through the worker runtime's own connections


@pytest.fixture
def broker(settings: Settings) -> Iterator[Any]:
    runtime.use(settings=settings)
    client = redis.Redis.from_url(settings.redis_url)
    client.delete(recovery.MARKER, recovery.CURSOR, recovery.LOCK)
    yield client
    client.delete(recovery.MARKER, recovery.CURSOR, recovery.LOCK)
    runtime.use()


def test_a_backlog_is_drained_over_several_runs_and_each_event_asked_once(
        broker: Any, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    for i in range(7):
        store(sessions, text_delivery(f"wamid.backlog.{i}", sender=f"55119000{i:05d}"))
    with sessions() as s:
        ids = list(s.scalars(select(InboxEvent.id).order_by(InboxEvent.id)))
        before = len(s.scalars(select(OutboxTask.id)).all())

    assert recovery._drain(broker, limit=3, budget=0) == 3  # out of budget after one page
    assert int(broker.get(recovery.CURSOR)) == ids[2] and not broker.exists(recovery.MARKER)
    assert recovery._drain(broker, limit=3, budget=0) == 3
    assert recovery._drain(broker, limit=3, budget=0) == 1  # the last page: done
    assert broker.exists(recovery.MARKER) and not broker.exists(recovery.CURSOR)
    assert recovery.watch_broker() == 0  # the marker is there: nothing was lost since

    with sessions() as s:
        rows = s.scalars(select(OutboxTask).where(OutboxTask.task == tasks.PROCESS_EVENT)
                         .order_by(OutboxTask.id)).all()
    asked = Counter(row.args[0] for row in rows[before:])
    assert asked == Counter(ids)


def test_a_missing_marker_means_everything_pending_is_asked_again_at_once(
        broker: Any, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    store(sessions, text_delivery("wamid.lost.1"))
    assert recovery.watch_broker() == 1
    assert recovery.watch_broker() == 0
    broker.flushdb()  # what an empty restart looks like from here
    assert recovery.watch_broker() == 1
