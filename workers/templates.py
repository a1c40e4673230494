"""WhatsApp template catalogues: one channel on demand, every channel on beat's TEMPLATE_SYNC_INTERVAL."""

from __future__ import annotations

from typing import Any

from celery import Task

from models.base import utcnow
from models.infra import tasks
from models.providers.base import ProviderError
from models.services import templates
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask, backoff


@app.task(name=tasks.SYNC_TEMPLATES, base=DomainTask, bind=True)
def sync_templates(self: Task[Any, Any], channel_id: int) -> dict[str, Any]:
    """A retryable Graph failure is tried again with backoff; a refusal (bad token) ends it, logged."""
    try:
        with unit_of_work() as session:
            return templates.sync(session, channel_id, runtime().settings, utcnow())
    except ProviderError as exc:
        if exc.retryable:
            raise self.retry(exc=exc, countdown=backoff(self.request.retries, base=10.0), max_retries=5) from exc
        raise


@app.task(name=tasks.SYNC_ALL_TEMPLATES, base=DomainTask)
def sync_all_templates() -> int:
    with unit_of_work() as session:
        return templates.schedule_all(session)
