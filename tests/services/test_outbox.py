"""The outbox publishes after commit without needing a second pooled connection."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import select

from models import OutboxTask
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.infra.outbox import enqueue


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
