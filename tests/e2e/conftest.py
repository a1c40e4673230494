"""Fixtures for end-to-end tests: the real stack (gunicorn API + Celery worker on PostgreSQL and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.graph import GraphServer
from tests.harness.processes import child_env
from tests.harness.stack import running_stack

SECRET = "e2e-secret-of-at-least-thirty-two-chars"


@pytest.fixture
def real_stack(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
               tmp_path: Path) -> Iterator[str]:
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path))
    with running_stack(env, tmp_path) as bases:
        yield bases[0]
