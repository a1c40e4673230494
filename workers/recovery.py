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
_client: tuple[int, Any] | None = None


def _redis(url: str) -> Any:
    global _client
    if _client is None or _client[0] != os.getpid():
        import redis

        _client = (os.getpid(), redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2))
    return _client[1]


@app.task(name=tasks.WATCH_BROKER, base=DomainTask)
def watch_broker() -> int:
    """Requeue everything pending if the broker's Redis lost its data since the last run. Returns how many."""
    settings = runtime().settings
    if settings.redis_url is None:
        return 0
    client = _redis(settings.redis_url)
    if client.exists(MARKER):
        return 0
    started = time.monotonic()
    asked, after = 0, 0
    while True:  # pages in short transactions: a 10 000-row backlog never holds one long transaction
        with unit_of_work() as session:
            ids = inbound.requeue_after(session, after, settings.inbox_requeue_limit)
        asked += len(ids)
        if len(ids) < settings.inbox_requeue_limit:
            break
        after = ids[-1]
    with unit_of_work() as session:
        asked += outbound.requeue_stale(session, utcnow(), min_age_seconds=0)
    # Set only once everything was asked again: a run that failed half-way is repeated by the next one.
    client.set(MARKER, utcnow().isoformat())
    log.warning("broker marker missing (Redis restarted empty or was flushed): asked again for %d tasks in %.2f s",
                asked, time.monotonic() - started)
    return asked
