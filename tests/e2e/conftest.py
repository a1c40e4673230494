"""Fixtures for end-to-end tests: the real stack (gunicorn API + Celery worker on PostgreSQL and Redis)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import BIN, Proc, child_env, free_port, wait_ready
from tests.fakes.graph import GraphServer

SECRET = "e2e-secret-of-at-least-thirty-two-chars"


@pytest.fixture
def real_stack(database_url: str, redis_url: str, graph: GraphServer, tenants: dict[str, Any],
               tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, SOCKETIO_CHANNEL=f"e2e-{uuid.uuid4().hex[:8]}",
                    DATA_DIR=str(tmp_path))
    procs = [
        Proc("api", [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads", "20",
                     "--bind", f"127.0.0.1:{port}", "api:create_app()"], env, tmp_path),
        Proc("worker", [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "2", "--loglevel",
                        "INFO", "--without-mingle", "--without-gossip", "--hostname", f"e2e-{port}@%h"],
             env, tmp_path),
    ]
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base, procs)
        yield base
    except BaseException:
        for p in procs:
            print(f"--- {p.name}\n{p.tail()}")
        raise
    finally:
        for p in procs:
            p.stop()
