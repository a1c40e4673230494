"""Inbound media: fetch a customer's file from the provider and store it (retried until the media expires)."""

from __future__ import annotations

from typing import Any

from celery import Task

from models.base import utcnow
from models.infra import tasks
from models.services import media
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.FETCH_MEDIA, base=DomainTask, bind=True, max_retries=None)
def fetch_media(self: Task[Any, Any], attachment_id: int) -> str:
    """Attempts and expiry are counted on the attachment (MEDIA_FETCH_ATTEMPTS / MEDIA_FETCH_FOR), not here."""
    rt = runtime()
    with unit_of_work() as session:
        outcome = media.fetch(session, rt.store, rt.settings, attachment_id, utcnow())
    if outcome.result == "retry":
        raise self.retry(countdown=outcome.countdown)
    return outcome.result
