"""Per-process resources of a worker: engine, sessions, bus. Built lazily, after the prefork fork."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from models.infra import wiring
from models.infra.bus import Emit
from models.infra.config import Settings, get_settings
from models.infra.db import session_scope
from models.infra.presence import Presence
from models.infra.realtime import redis_emitter
from models.infra.storage import Store

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    presence: Presence
    pid: int
    store: Store


_runtime: Runtime | None = None
_emit_override: Emit | None = None
_settings_override: Settings | None = None
_presence_override: Presence | None = None


def use(emit: Emit | None = None, settings: Settings | None = None, presence: Presence | None = None) -> None:
    """Embedded mode: emit through the Socket.IO server living in this same process and share its presence
    registry (and, for tests running a worker in-process, use their settings)."""
    global _emit_override, _settings_override, _presence_override, _runtime
    _emit_override, _settings_override, _presence_override, _runtime = emit, settings, presence, None


def runtime() -> Runtime:
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():  # a forked child builds its own pool
        from workers.app import app

        settings = _settings_override or get_settings()
        emit = _emit_override or _default_emit(settings)

        def publish(name: str, args: list[Any], headers: dict[str, Any]) -> None:
            app.send_task(name, args=args, headers=headers)

        system = wiring.build(settings, publish=publish, emit=emit, pool_size=2, max_overflow=4, redis_timeout=2.0,
                              presence=_presence_override)
        _runtime = Runtime(settings, system.sessions, system.presence, os.getpid(), system.store)
    return _runtime


def _default_emit(settings: Settings) -> Emit:
    if settings.redis_url is None:
        def drop(name: str, data: dict[str, Any], rooms: list[str]) -> None:
            log.debug("no Socket.IO server in this process; %s stays in the event log for replay", name)
        return drop
    return redis_emitter(settings.redis_url, settings.socketio_channel)


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """One transaction per task run."""
    with session_scope(runtime().sessions) as session:
        yield session
