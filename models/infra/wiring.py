"""The composition root: the one place that wires the system's shared objects together.

`create_app` (the API), the worker runtime, the embedded mode, tests and benchmarks all call `build`; each
passes only what its transport decides: how a committed task is published and how an event is emitted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from models.infra.availability import Availability
from models.infra.bus import Bus, Emit, Publish
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.infra.outbox import Marker, Publisher, attach_marker, attach_publisher
from models.infra.presence import Presence
from models.infra.storage import FileStore, S3Store, Store


@dataclass(frozen=True)
class System:
    """The wired objects of one process."""

    settings: Settings
    engine: Engine
    redis: Any | None  # redis.Redis, or None in the embedded mode
    bus: Bus
    availability: Availability
    presence: Presence
    sessions: sessionmaker[Session]
    store: Store
    marker: Marker  # marks the rows `sessions` published dispatched, from a thread of its own
    publisher: Publisher | None = None  # publishes what `sessions` committed from a thread of its own (the API)

    def settle(self) -> None:
        """Publish and mark what is in flight now, and stop the threads doing it (a later commit restarts them)."""
        if self.publisher is not None:
            self.publisher.stop()
        self.marker.stop()

    def close(self) -> None:
        """Settle, then release the pool and the Redis connections (tests and short-lived tools build many)."""
        self.settle()
        self.engine.dispose()
        if self.redis is not None:
            self.redis.close()


def build(settings: Settings, *, publish: Publish, emit: Emit, pool_size: int = 10, max_overflow: int = 20,
          redis_timeout: float = 1.0, presence: Presence | None = None,
          publish_in_background: bool = False) -> System:
    """Wire engine, Redis, bus, availability cache, presence, the session factory and the object store.

    `pool_size` / `max_overflow` are the process kind's defaults (DB_POOL_SIZE / DB_MAX_OVERFLOW win);
    `presence` is passed when another part of this process already holds the registry (the embedded mode);
    `publish_in_background`: committed tasks are published by a thread, not by the committing one (the API: a
    request then answers without waiting for the broker; a task's own publishes stay in the task).
    """
    if settings.database_kind == "sqlite":
        engine = make_engine(settings)
    else:
        engine = make_engine(settings, pool_size=pool_size, max_overflow=max_overflow)
    client = None
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=redis_timeout,
                                      socket_connect_timeout=redis_timeout)
    from models.services.webhooks import Subscriptions  # the root wires every part, services included

    bus = Bus(publish=publish, emit=emit)
    webhooks = Subscriptions(settings.webhook_cache_seconds)
    availability = Availability(client)
    sessions = make_session_factory(engine, bus, availability, webhooks, settings)
    marker = Marker(engine)
    attach_marker(sessions, marker)
    publisher = Publisher(marker) if publish_in_background else None
    if publisher is not None:
        attach_publisher(sessions, publisher)
    return System(settings=settings, engine=engine, redis=client, bus=bus, availability=availability,
                  presence=presence or Presence(client), sessions=sessions, marker=marker, store=make_store(settings),
                  publisher=publisher)


def make_store(settings: Settings) -> Store:
    """The S3-compatible bucket when S3_BUCKET is set, else files under DATA_DIR/media."""
    if settings.s3_bucket:
        return S3Store(settings.s3_bucket, settings.s3_prefix, settings.s3_endpoint_url, settings.s3_region,
                       connect_timeout=settings.http_connect_timeout,
                       public_endpoint_url=settings.s3_public_endpoint_url)
    return FileStore(settings.data_dir / "media")
