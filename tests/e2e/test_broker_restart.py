"""Redis restarts empty (no persistence) with triage tasks in its queue: a real worker and beat on a Redis of the
test's own, which it kills and starts again empty. The events published before the restart still become
tickets, well before the minute-old requeue could have asked for them again."""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models.events import InboxEvent, OutboxTask
from models.tickets import Ticket
from tests.e2e.harness import BIN, Proc, child_env, free_port, wait_ready, wait_until
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, sign, text_delivery

pytestmark = pytest.mark.e2e
SECRET = "restart-secret-of-at-least-thirty-two-chars"
EVENTS = 5
BOUND = 55.0  # seconds: the periodic requeue alone took 98-149 s; the watcher is expected within ~10 s


def start_redis(port: int, logdir: Path, name: str) -> Proc:
    proc = Proc(name, ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                       "--appendonly", "no"], child_env(), logdir)

    def up() -> bool:
        try:
            return bool(redis.Redis(port=port, socket_timeout=1).ping())
        except redis.ConnectionError:
            return False

    wait_until(up, what=f"redis on {port}")
    return proc


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    try:
        yield started
    except BaseException:
        for p in started:
            print(f"--- {p.name}\n{p.tail()}")
        raise
    finally:
        for p in reversed(started):
            p.stop()


def test_tasks_lost_with_an_empty_redis_restart_are_processed_soon_after(
        database_url: str, graph: GraphServer, tenants: dict[str, Any], sessions: sessionmaker[Session],
        tmp_path: Path, procs: list[Proc]) -> None:
    redis_port, api_port = free_port(), free_port()
    env = child_env(DATABASE_URL=database_url, REDIS_URL=f"redis://127.0.0.1:{redis_port}/0", SECRET_KEY=SECRET,
                    WHATSAPP_GRAPH_BASE_URL=graph.url, DATA_DIR=str(tmp_path),
                    SOCKETIO_CHANNEL=f"restart-{uuid.uuid4().hex[:8]}")
    procs.append(start_redis(redis_port, tmp_path, "redis1"))
    procs.append(Proc("api", [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads",
                              "10", "--bind", f"127.0.0.1:{api_port}", "api:create_app()"], env, tmp_path))
    procs.append(Proc("beat", [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "INFO", "--schedule",
                               str(tmp_path / "celerybeat-schedule")], env, tmp_path))
    base = f"http://127.0.0.1:{api_port}"
    wait_ready(base, procs)

    # No worker yet: the triage tasks wait in Redis, and their outbox rows are marked dispatched.
    for i in range(EVENTS):
        raw = encode(text_delivery(f"wamid.restart.{i}", sender=f"55119000{i:05d}"))
        resp = requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5,
                             headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)})
        assert resp.status_code == 200, resp.text

    def all_dispatched() -> bool:
        with sessions() as s:
            return s.scalar(select(func.count()).where(OutboxTask.dispatched_at.is_(None))) == 0

    wait_until(all_dispatched, what="outbox rows marked dispatched")
    assert redis.Redis(port=redis_port).llen("celery") >= EVENTS

    procs[0].stop(signal.SIGKILL)  # Redis dies with its queues...
    procs[0] = start_redis(redis_port, tmp_path, "redis2")  # ...and comes back empty
    restarted = time.monotonic()
    procs.append(Proc("worker", [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "2",
                                 "--loglevel", "INFO", "--without-mingle", "--without-gossip", "--hostname",
                                 f"restart-{api_port}@%h"], env, tmp_path))

    def processed() -> bool:
        with sessions() as s:
            done = s.scalar(select(func.count()).where(InboxEvent.processed_at.is_not(None)))
            return done == EVENTS and s.scalar(select(func.count()).select_from(Ticket)) == EVENTS

    wait_until(processed, timeout=BOUND, what="the events published before the restart to become tickets")
    print(f"processed {time.monotonic() - restarted:.1f} s after Redis came back empty")
