"""SLA tasks: the periodic warning/breach check (beat, every SLA_CHECK_INTERVAL seconds)."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.services import sla_check
from workers.app import app
from workers.runtime import unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.SLA_CHECK, base=DomainTask)
def check() -> int:
    """Emit the warnings and breaches that have come due; safe to run twice at once (see models.services.sla_check)."""
    with unit_of_work() as session:
        return sla_check.check_due(session, utcnow())
