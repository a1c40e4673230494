"""The WhatsApp window warning (beat, every WINDOW_CHECK_INTERVAL seconds)."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.services import window
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.WARN_WINDOW_CLOSING, base=DomainTask)
def warn_closing() -> int:
    """Warn agents whose WhatsApp conversations close within WINDOW_WARNING_LEAD; once per window."""
    with unit_of_work() as session:
        return window.warn_closing(session, utcnow(), runtime().settings.window_warning_lead)
