"""Recovery after the broker lost its queues: Redis restarted without persistence (or was flushed).

Tasks already published (their outbox rows marked dispatched) vanish with the queues; the periodic requeues
would find them only after their minimum age, a minute or two. Beat runs `watch_broker` every
BROKER_WATCH_INTERVAL: it keeps a marker key in the broker's own Redis database, and a missing marker means
the data is gone, so every live unprocessed inbox event and every queued send is asked again at once. With
persistence the marker survives a restart and nothing is re-asked. The first run of a new deployment finds
no marker either and asks again for whatever is pending: every task is idempotent, so that costs only work.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from models.base import utcnow
from models.infra import tasks
from models.services import inbound, outbound
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask

log = logging.getLogger(__name__)

MARKER = "atendimento:broker-marker"
CURSOR = "atendimento:broker-drain-cursor"  # the last inbox id asked again by an unfinished drain
LOCK = "atendimento:broker-drain-lock"  # one drain at a time (beat asks every few seconds, workers run in parallel)
_client: tuple[int, Any] | None = None


def _redis(url: str) -> Any:
    global _client
    if _client is None or _client[0] != os.getpid():
        import redis

        _client = (os.getpid(), redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))
    return _client[1]


@app.task(name=tasks.WATCH_BROKER, base=DomainTask)
def watch_broker() -> int:
    """Requeue everything pending if the broker's Redis lost its data since the last run. Returns how many.

    A large backlog is asked again in pages of INBOX_REQUEUE_LIMIT, each page published as it commits, for at
    most half the task time limit per run; the cursor is kept in Redis and the next run goes on from it. The
    marker is set only once the whole backlog was asked again, so a run that stopped half-way is continued.
    """
    settings = runtime().settings
    if settings.redis_url is None:
        return 0
    client = _redis(settings.redis_url)
    if client.exists(MARKER) or not client.set(LOCK, os.getpid(), nx=True, ex=settings.task_time_limit):
        return 0
    try:
        return _drain(client, settings.inbox_requeue_limit, budget=settings.task_time_limit / 2)
    finally:
        client.delete(LOCK)


def _drain(client: Any, limit: int, budget: float) -> int:
    started = time.monotonic()
    after = int(client.get(CURSOR) or 0)
    asked = 0
    while True:  # short transactions: a 10 000-row backlog never holds one long transaction
        with unit_of_work() as session:
            ids = inbound.requeue_after(session, after, limit)
        asked += len(ids)
        if len(ids) < limit:
            break
        after = ids[-1]
        client.set(CURSOR, after)
        if time.monotonic() - started > budget:
            log.warning("broker lost its queues: asked again for %d inbox events up to id %d in %.1f s; "
                        "the next run goes on", asked, after, time.monotonic() - started)
            return asked
    with unit_of_work() as session:
        asked += outbound.requeue_stale(session, utcnow(), min_age_seconds=0)
    client.set(MARKER, utcnow().isoformat())
    client.delete(CURSOR)
    log.warning("broker marker missing (Redis restarted empty or was flushed): asked again for %d tasks in %.1f s",
                asked, time.monotonic() - started)
    return asked
