"""Quiet logs: beat's routine and the development server's boilerplate only at DEBUG; everything else as is."""

from __future__ import annotations

import logging

import pytest

from models.infra import tasks
from models.infra.telemetry import RoutineFilter


def _record(name: str, level: int, message: str) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, message, None, None)


@pytest.mark.parametrize(("name", "message"), [
    ("celery.beat", "Scheduler: Sending due task outbox-relay (outbox.relay)"),
    ("celery.worker.strategy", "Task sla.check[0f3c] received"),
    ("celery.app.trace", "Task webhooks.sweep[1a2b] succeeded in 0.01s: 0"),
    ("werkzeug", "WARNING: This is a development server. Do not use it in a production deployment."),
])
def test_routine_lines_are_debug(name: str, message: str) -> None:
    routine = RoutineFilter(tasks.PERIODIC)
    root = logging.getLogger()
    level = root.level
    try:
        root.setLevel(logging.INFO)
        assert routine.filter(_record(name, logging.INFO, message)) is False
        root.setLevel(logging.DEBUG)
        record = _record(name, logging.INFO, message)
        assert routine.filter(record) is True and record.levelname == "DEBUG"
    finally:
        root.setLevel(level)


def test_the_work_itself_and_failures_stay() -> None:
    routine = RoutineFilter(tasks.PERIODIC)
    for record in (_record("celery.app.trace", logging.INFO, "Task triage.process_event[9] succeeded in 0.1s"),
                   _record("celery.app.trace", logging.ERROR, "Task sla.check[3] raised OperationalError"),
                   _record("models.services.outbound", logging.WARNING, "send failed")):
        assert routine.filter(record) is True and record.levelname != "DEBUG"
