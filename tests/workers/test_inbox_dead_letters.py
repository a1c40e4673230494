"""Poison inbox events: a real Celery worker (its own process, on PostgreSQL and Redis) fails 500 signed events of
an unexpected shape again and again while fresh events whose first task was lost come back through the requeue.
Every failure is counted with its error, the poison ends dead-lettered, the fresh ones become tickets, and a
supervisor sees and retries a dead letter through the API."""

from __future__ import annotations

import copy
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from celery import Celery
from prometheus_client import REGISTRY
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from models.base import utcnow
from models.events import InboxEvent
from models.infra.bus import Bus
from models.infra.config import Settings
from models.infra.db import make_session_factory
from models.services import inbound
from models.services.stats import refresh_gauges
from models.tickets import Ticket
from tests.api.conftest import login
from tests.conftest import truncate_all
from tests.e2e.harness import BIN, Proc, child_env
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import store

SECRET = "poison-secret-of-at-least-thirty-two-chars"
MAX_ATTEMPTS = 3
POISON = 500
FRESH = 20


def poison_delivery(count: int) -> dict[str, Any]:
    """One signed-shape delivery of `count` interactive messages without their `interactive` object: the webhook
    accepts them (id and from are there), triage cannot read them."""
    doc = text_delivery("wamid.template")
    value = doc["entry"][0]["changes"][0]["value"]
    template = value["messages"][0]
    value["messages"] = []
    for i in range(count):
        message = copy.deepcopy(template)
        message.update(id=f"wamid.poison.{i}", type="interactive")
        del message["text"]
        value["messages"].append(message)
    return doc


@pytest.fixture
def worker(database_url: str, redis_url: str, graph: GraphServer, tmp_path: Path) -> Iterator[Celery]:
    redis.Redis.from_url(redis_url).delete("celery")  # tasks other tests left in the broker
    env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET, DATA_DIR=str(tmp_path),
                    WHATSAPP_GRAPH_BASE_URL=graph.url, INBOX_MAX_ATTEMPTS=str(MAX_ATTEMPTS),
                    SOCKETIO_CHANNEL=f"poison-{uuid.uuid4().hex[:8]}")
    proc = Proc("worker", [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "2", "--loglevel",
                           "WARNING", "--without-mingle", "--without-gossip", "--hostname",
                           f"poison-{uuid.uuid4().hex[:6]}@%h"], env, tmp_path)
    client = Celery(broker=redis_url)
    try:
        yield client
    except BaseException:
        print(proc.tail())
        raise
    finally:
        proc.stop()
        client.close()


def test_poison_events_end_dead_lettered_and_fresh_ones_still_get_processed(
        worker: Celery, engine: Any, sessions: sessionmaker[Session], tenants: dict[str, Any],
        redis_url: str, settings: Settings) -> None:
    publishing = make_session_factory(engine, Bus(
        publish=lambda name, args, headers: worker.send_task(name, args=args, headers=headers),
        emit=lambda *_: None))
    store(publishing, poison_delivery(POISON))  # published: the worker fails each once
    # Fresh events whose tasks were lost (stored on the recording bus, never published): only the requeue
    # brings them back, behind 500 rows that keep failing.
    for i in range(FRESH):
        store(sessions, text_delivery(f"wamid.fresh.{i}", sender=f"55119876{i:05d}"))

    broker = redis.Redis.from_url(redis_url)

    def state() -> tuple[int, int]:
        with sessions() as s:
            dead = s.scalar(select(func.count()).where(InboxEvent.dead_at.is_not(None)))
            fresh = s.scalar(select(func.count()).where(InboxEvent.event_id.like("wamid.fresh.%"),
                                                        InboxEvent.processed_at.is_not(None)))
        return dead or 0, fresh or 0

    deadline = time.monotonic() + 240
    while state() != (POISON, FRESH):
        assert time.monotonic() < deadline, f"dead, fresh processed = {state()}"
        while broker.llen("celery") and time.monotonic() < deadline:  # as beat would: one run per period
            time.sleep(0.1)
        with publishing() as s, s.begin():
            inbound.requeue_stale(s, utcnow(), min_age_seconds=0, limit=50)
        time.sleep(0.3)

    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == FRESH
        poison = s.scalars(select(InboxEvent).where(InboxEvent.event_id.like("wamid.poison.%"))).all()
        assert {(e.attempts, e.processed_at) for e in poison} == {(MAX_ATTEMPTS, None)}
        assert all(e.error.startswith(f"dead-lettered after {MAX_ATTEMPTS} failed attempts: KeyError")
                   for e in poison), poison[0].error
        # Dead rows are not asked again, and count as dead letters, not as a backlog that keeps an alert firing.
        assert inbound.requeue_stale(s, utcnow(), min_age_seconds=0) == []
        s.rollback()
        refresh_gauges(s)
        assert (REGISTRY.get_sample_value("atendimento_inbox_backlog"),
                REGISTRY.get_sample_value("atendimento_inbox_dead_letters")) == (0, POISON)

    app = create_app(settings)
    try:
        client = app.test_client()
        carla = login(client, "acme", "carla@acme.example", "pw-carla")
        listed = client.get("/api/admin/inbox-dead-letters?limit=500", headers=carla)
        assert listed.status_code == 200 and len(listed.json) == POISON
        first = listed.json[0]
        assert first["error"].startswith("dead-lettered after") and first["kind"] == "message"
        assert first["payload"]["message"]["type"] == "interactive"
        gina = login(client, "globex", "gina@globex.example", "pw-gina")
        assert client.post(f"/api/admin/inbox-dead-letters/{first['id']}/retry", headers=gina).status_code == 403

        retried = client.post(f"/api/admin/inbox-dead-letters/{first['id']}/retry", headers=carla)
        assert retried.status_code == 202, retried.json
        assert retried.json["dead_at"] is None and retried.json["attempts"] == 0
        again = client.post(f"/api/admin/inbox-dead-letters/{first['id']}/retry", headers=carla)
        assert again.status_code == 409 and again.json["error"]["code"]

        def tried_again() -> InboxEvent | None:
            with sessions() as s:
                event = s.get(InboxEvent, first["id"])
                return event if event is not None and event.attempts == 1 else None

        deadline = time.monotonic() + 30
        while tried_again() is None:  # the retry reached the worker, which failed it once more and counted it
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert tried_again().error.startswith("KeyError")
    finally:
        app.extensions["atendimento.engine"].dispose()
        truncate_all(engine)
