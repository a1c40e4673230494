"""Ticket workflow tasks on beat: waking snoozed tickets (every 30 s), auto-resolving idle ones (every 60 s)."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.services import auto_resolve as auto_resolve_service
from models.services import workflow
from workers.app import app
from workers.runtime import unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.WAKE_SNOOZED, base=DomainTask)
def wake_snoozed() -> int:
    """Wake the snoozed tickets whose time has come; two runs at once wake each ticket once."""
    with unit_of_work() as session:
        return len(workflow.wake_snoozed(session, utcnow()))


@app.task(name=tasks.AUTO_RESOLVE, base=DomainTask)
def auto_resolve() -> int:
    """Resolve tickets the customer left idle past their queue's setting; idempotent, safe twice at once."""
    with unit_of_work() as session:
        return len(auto_resolve_service.resolve_idle(session, utcnow()))
