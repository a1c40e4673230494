"""Tasks: ids in, one domain call in one transaction, retries declared here. Names are stable API."""

from __future__ import annotations

import logging
import random
from typing import Any

from celery import Task
from sqlalchemy.exc import InterfaceError, OperationalError

from models.base import utcnow
from models.infra import tasks
from models.infra.outbox import relay_pending
from models.providers import breaker
from models.services import assignment, inbound, outbound, privacy, tickets, triage
from workers.app import app
from workers.runtime import runtime, unit_of_work

log = logging.getLogger(__name__)


class DomainTask(Task[Any, Any]):
    """Retries a task whose database was unreachable, with exponential backoff and jitter."""

    autoretry_for = (OperationalError, InterfaceError)
    retry_backoff = 2
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 10


def backoff(retries: int, base: float = 2.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter, in seconds."""
    return random.uniform(0, min(cap, base * 2 ** retries))


STATUS_RETRIES = 8


@app.task(name=tasks.PROCESS_EVENT, base=DomainTask, bind=True)
def process_event(self: Task[Any, Any], inbox_id: int) -> str:
    """Apply one inbox event. A run that fails for a reason of the event's own (not the database's) is counted
    on the row with its error, and the event is dead-lettered after INBOX_MAX_ATTEMPTS such runs."""
    try:
        with unit_of_work() as session:
            return triage.process_event(session, inbox_id, utcnow())
    except triage.StatusBeforeMessage as exc:
        # The status raced ahead of our own record of the send; it will find the message shortly. The whole
        # chain of retries counts as one attempt, recorded when it runs out.
        if self.request.retries >= STATUS_RETRIES:
            _record_failure(inbox_id, exc)
        raise self.retry(exc=exc, countdown=backoff(self.request.retries, base=1.0),
                         max_retries=STATUS_RETRIES) from exc
    except (OperationalError, InterfaceError):
        raise  # the database, not the event: DomainTask retries, and nothing could be recorded anyway
    except Exception as exc:
        _record_failure(inbox_id, exc)
        raise


def _record_failure(inbox_id: int, exc: BaseException) -> None:
    # Its own short transaction: the run's one rolled back, taking any count with it.
    try:
        with unit_of_work() as session:
            dead = inbound.record_failure(session, inbox_id, f"{type(exc).__name__}: {exc}", utcnow(),
                                          runtime().settings.inbox_max_attempts)
    except Exception:
        log.warning("could not record the failure of inbox event %s", inbox_id, exc_info=True)
        return
    if dead:
        log.error("inbox event %s dead-lettered: %s: %s", inbox_id, type(exc).__name__, exc)


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
def send_message(self: Task[Any, Any], message_id: int) -> str:
    """Claim, then deliver: two transactions, so the attempt is on record before the provider hears of it.

    Attempts are counted and bounded on the message, not here: waiting for an open breaker costs none.
    """
    settings = runtime().settings
    breakers = breaker.shared(settings.redis_url)
    with unit_of_work() as session:
        step = outbound.claim_send(session, message_id, utcnow(), breakers, settings)
    if isinstance(step, outbound.Claim):
        with unit_of_work() as session:
            step = outbound.deliver(session, step, utcnow(), settings, breakers, store=runtime().store)
    if step.result in ("retry", "deferred"):
        raise self.retry(countdown=step.countdown, exc=step.error)
    return step.result


@app.task(name=tasks.RUN_CONTACT_JOB, base=DomainTask)
def run_contact_job(job_id: int) -> str:
    """An export or erasure, step by step: each step commits, so progress shows and a retry resumes."""
    while True:
        with unit_of_work() as session:
            status = privacy.run_step(session, job_id, utcnow())
        if status != "running":
            return status.value


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
    settings = runtime().settings
    with unit_of_work() as session:
        return len(inbound.requeue_stale(session, utcnow(), settings.inbox_requeue_min_age,
                                         settings.inbox_requeue_limit))


@app.task(name=tasks.OUTBOX_RELAY, base=DomainTask)
def relay() -> int:
    settings = runtime().settings
    with unit_of_work() as session:
        return relay_pending(session, utcnow(), settings.outbox_relay_min_age)
