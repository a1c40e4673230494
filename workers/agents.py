"""Beat job: agents whose sockets are all gone past the grace period become away."""

from __future__ import annotations

from models.base import utcnow
from models.services.agents import expire_presence
from workers.app import app
from workers.runtime import runtime, unit_of_work
from workers.tasks import DomainTask


@app.task(name="agents.expire_presence", base=DomainTask)
def expire() -> int:
    rt = runtime()
    with unit_of_work() as session:
        return expire_presence(session, utcnow(), rt.settings.presence_grace_seconds, rt.presence.connected)
