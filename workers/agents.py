"""Beat jobs: agents whose sockets are all gone become away; outbound messages whose task was lost are asked
again."""

from __future__ import annotations

from models.base import utcnow
from models.infra import tasks
from models.services import outbound
from models.services.agents import expire_presence
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask


@app.task(name=tasks.EXPIRE_PRESENCE, base=DomainTask)
def expire() -> int:
    rt = runtime()
    with unit_of_work() as session:
        return expire_presence(session, utcnow(), rt.settings.presence_grace_seconds, rt.presence.connected)


@app.task(name=tasks.REQUEUE_STALE_SENDS, base=DomainTask)
def requeue_stale_sends() -> int:
    with unit_of_work() as session:
        return outbound.requeue_stale(session, utcnow())
