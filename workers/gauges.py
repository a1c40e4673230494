"""Beat job refreshing the database-derived gauges."""

from __future__ import annotations

from models.infra import tasks
from models.services.stats import refresh_gauges
from workers.app import app
from workers.runtime import unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.REFRESH_GAUGES, base=DomainTask)
def refresh() -> None:
    with unit_of_work() as session:
        refresh_gauges(session)
