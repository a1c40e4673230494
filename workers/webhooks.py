"""Outgoing webhook tasks: deliver a line's head (own queue), and the beat sweep for retries and lost claims."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.providers import breaker
from models.services import webhooks
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.DELIVER_WEBHOOK, base=DomainTask)
def deliver(endpoint_id: int, order_key: str) -> str:
    """Claim the head of (endpoint, order key), call the receiver outside any transaction, record the answer."""
    settings = runtime().settings
    with unit_of_work() as session:
        claim = webhooks.claim_next(session, endpoint_id, order_key, utcnow())
    if claim is None:
        return "nothing due"
    answer = webhooks.call(claim, settings, breaker.shared(settings.redis_url))
    with unit_of_work() as session:
        return webhooks.record(session, claim, answer, utcnow(), retry_for=settings.webhook_retry_for,
                               disable_after=settings.webhook_disable_after)


@app.task(name=tasks.SWEEP_WEBHOOKS, base=DomainTask)
def sweep() -> int:
    """Ask again for every line whose head is due: retries, and claims whose worker died."""
    with unit_of_work() as session:
        return webhooks.sweep(session, utcnow())
