from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.base import utcnow
from models.org import ChannelKind
from models.providers import whatsapp
from models.services import triage
from models.services.inbound import StoreResult, find_channels, store_events


def store(sessions: sessionmaker[Session], doc: dict[str, Any]) -> StoreResult:
    delivery = whatsapp.parse_delivery(doc)
    with sessions() as s, s.begin():
        return store_events(s, whatsapp.PROVIDER, find_channels(s, ChannelKind.WHATSAPP, delivery.refs),
                            delivery.events)


def drain(sessions: sessionmaker[Session], bus: Any, handlers: dict[str, Any] | None = None) -> list[str]:
    """Run recorded tasks until none is left, as a worker would (each in its own transaction)."""
    from models.services import assignment

    ran = []
    while bus.tasks:
        name, args = bus.tasks.pop(0)
        with sessions() as s, s.begin():
            if name == "triage.process_event":
                triage.process_event(s, args[0], utcnow())
            elif name == "assignment.assign_queue":
                assignment.assign_queue(s, args[0], utcnow())
            elif handlers and name in handlers:
                handlers[name](s, *args)
            else:
                continue
        ran.append(name)
    return ran
