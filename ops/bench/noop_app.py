"""The baseline for the assignment benchmark: a Celery app on the same broker whose one task does nothing but
say it ran (an RPUSH of its timestamps, so the caller can see it finish).

Worker (same flags as the app's): `celery -A ops.bench.noop_app worker -Q noop --concurrency 1
--without-mingle --without-gossip`, from the repository root, with REDIS_URL set.
"""

from __future__ import annotations

import os
import time
from typing import Any

from celery import Celery

QUEUE = "noop"
app = Celery("noop", broker=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
app.conf.update(
    # The same reliability settings as workers/app.py, so the two round trips are comparable.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    worker_prefetch_multiplier=1,
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
_client: Any = None


@app.task(name="noop.noop")
def noop(tag: str, sent: float) -> None:
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(app.conf.broker_url)
    _client.rpush(f"noop:{tag}", f"{sent} {time.time()}")
