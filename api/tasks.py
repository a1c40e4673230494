"""Publishing tasks by name: the API knows task names, never task code."""

from __future__ import annotations

from typing import Any

from celery import Celery

from models.infra import tasks
from models.infra.bus import Publish
from models.infra.config import Settings


def make_publisher(settings: Settings) -> Publish:
    """A Celery client for the Redis broker, or for the in-process memory broker of the embedded mode."""
    client = Celery("atendimento-api", broker=settings.redis_url or "memory://localhost/")
    client.conf.update(
        task_serializer="json",
        task_routes=tasks.ROUTES,
        # Fail fast when Redis is down: the outbox row written with the request keeps the work for the relay.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.2,
                                   "interval_max": 0.5},
        broker_connection_timeout=2,
        task_send_sent_event=settings.celery_task_events,  # the "sent" state, for Flower and celery-exporter
    )

    def publish(name: str, args: list[Any], headers: dict[str, Any]) -> None:
        client.send_task(name, args=args, headers=headers)

    return publish
