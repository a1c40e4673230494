"""Ticket workflow tasks: waking snoozed tickets (beat, every 30 s)."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.services import workflow
from workers.app import app
from workers.runtime import unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.WAKE_SNOOZED, base=DomainTask)
def wake_snoozed() -> int:
    """Wake the snoozed tickets whose time has come; two runs at once wake each ticket once."""
    with unit_of_work() as session:
        return len(workflow.wake_snoozed(session, utcnow()))
