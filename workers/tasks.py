"""Tasks: ids in, one domain call in one transaction, retries declared here. Names are stable API."""

from __future__ import annotations

import random

from celery import Task
from sqlalchemy.exc import InterfaceError, OperationalError

from models.base import utcnow
from models.infra import tasks
from models.infra.outbox import relay_pending
from models.providers import breaker
from models.services import assignment, inbound, outbound, tickets, triage
from workers.app import app
from workers.runtime import runtime, unit_of_work


class DomainTask(Task):
    """Retries a task whose database was unreachable, with exponential backoff and jitter."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 10


def backoff(retries: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter, in seconds."""
    return random.uniform(0, min(cap, base * 2 ** retries))


@app.task(name=tasks.PROCESS_EVENT, base=DomainTask, bind=True)
def process_event(self: Task, inbox_id: int) -> str:
    try:
        with unit_of_work() as session:
            return triage.process_event(session, inbox_id, utcnow())
    except triage.StatusBeforeMessage as exc:
        # The status raced ahead of our own record of the send; it will find the message shortly.
        raise self.retry(exc=exc, countdown=backoff(self.request.retries, base=1.0), max_retries=8) from exc


@app.task(name=tasks.ASSIGN_QUEUE, base=DomainTask)
def assign_queue(queue_id: int) -> int:
    with unit_of_work() as session:
        return len(assignment.assign_queue(session, queue_id, utcnow()))


@app.task(name=tasks.ASSIGNMENT_SWEEP, base=DomainTask)
def sweep() -> int:
    """Safety net behind the event-driven assignment: visit every queue that has waiting tickets."""
    with unit_of_work() as session:
        queue_ids = assignment.waiting_queue_ids(session)
    total = 0
    for queue_id in queue_ids:
        with unit_of_work() as session:
            total += len(assignment.assign_queue(session, queue_id, utcnow()))
    return total


@app.task(name=tasks.SEND_MESSAGE, base=DomainTask, bind=True, max_retries=None)
def send_message(self: Task, message_id: int) -> str:
    """Claim, then deliver: two transactions, so the attempt is on record before the provider hears of it.

    Attempts are counted and bounded on the message, not here: waiting for an open breaker costs none.
    """
    settings = runtime().settings
    breakers = breaker.shared(settings.redis_url)
    with unit_of_work() as session:
        step = outbound.claim_send(session, message_id, utcnow(), breakers)
    if isinstance(step, outbound.Claim):
        with unit_of_work() as session:
            step = outbound.deliver(session, step, utcnow(), settings, breakers, store=runtime().store)
    if step.result in ("retry", "deferred"):
        raise self.retry(countdown=step.countdown, exc=step.error)
    return step.result


@app.task(name=tasks.EXPIRE_MENUS, base=DomainTask)
def expire_menus() -> int:
    with unit_of_work() as session:
        return triage.expire_menus(session, utcnow())


@app.task(name=tasks.RETURN_UNANSWERED, base=DomainTask)
def return_unanswered() -> int:
    with unit_of_work() as session:
        return tickets.return_unanswered(session, utcnow())


@app.task(name=tasks.REQUEUE_STALE_INBOX, base=DomainTask)
def requeue_stale() -> int:
    with unit_of_work() as session:
        return inbound.requeue_stale(session, utcnow())


@app.task(name=tasks.OUTBOX_RELAY, base=DomainTask)
def relay() -> int:
    settings = runtime().settings
    with unit_of_work() as session:
        return relay_pending(session, utcnow(), settings.outbox_relay_min_age)
