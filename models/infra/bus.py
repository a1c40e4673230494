"""How committed work leaves the process: task publishing and Socket.IO emission.

The transport that builds the session factory chooses the bus (Celery client or in-process worker; Redis
message queue or the local Socket.IO server) and stores it in every session's `info`, so domain code never
reads a global and tests pass their own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

Publish = Callable[[str, list[Any], dict[str, Any]], None]  # task name, args, headers
Emit = Callable[[str, dict[str, Any], list[str]], None]  # event name, data, rooms (each client gets it once)


@dataclass
class Bus:
    publish: Publish
    emit: Emit


@dataclass
class RecordingBus(Bus):
    """A bus that only records: for services tests and scripts that must not reach a broker. Events are recorded
    once per room."""

    tasks: list[tuple[str, list[Any]]] = field(default_factory=list)
    events: list[tuple[str, dict[str, Any], str]] = field(default_factory=list)

    def __init__(self) -> None:
        self.tasks, self.events = [], []
        super().__init__(publish=lambda name, args, _h: self.tasks.append((name, args)),
                         emit=lambda name, data, rooms: self.events.extend((name, data, room) for room in rooms))


def bus_of(session: Session) -> Bus:
    bus = session.info.get("bus")
    if bus is None:
        raise RuntimeError("session factory was built without a bus (see models.infra.db.make_session_factory)")
    return bus
