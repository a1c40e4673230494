"""The pool pings a connection only after it sat idle, and replaces one PostgreSQL dropped meanwhile."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from models.infra.config import Settings
from models.infra.db import make_engine


def _engine(database_url: str, idle: str) -> Any:
    settings = Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32,
                                  "DB_PING_IDLE_SECONDS": idle})
    return make_engine(settings, pool_size=1, max_overflow=0)

def _terminate(engine: Any, pid: int) -> None:
    with engine.begin() as admin:  # PostgreSQL ends the pooled connection, as a restart or idle timeout would
        assert admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid}).scalar_one()


def test_a_connection_used_a_moment_ago_is_not_pinged(database_url: str, engine: Any) -> None:
    """No round trip per checkout: a connection dropped within the idle window fails its one statement (which
    callers retry: 503 to a provider, a task retry), and the pool replaces it for the next checkout."""
    pooled = _engine(database_url, "3600")
    with pooled.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(engine, pid)
    with pytest.raises(OperationalError), pooled.connect() as conn:
        conn.execute(text("SELECT 1"))
    with pooled.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    pooled.dispose()


def test_a_connection_dropped_while_idle_is_replaced(database_url: str, engine: Any) -> None:
    pooled = _engine(database_url, "0")
    with pooled.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    _terminate(engine, pid)
    with pooled.connect() as conn:  # no error reaches the caller: the ping found it dead, the pool reconnected
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    pooled.dispose()
