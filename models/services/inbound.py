"""Webhook intake: find the channel a delivery is for and store each of its events exactly once."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.events import InboxEvent
from models.infra import tasks
from models.infra.db import RowChanged, Still
from models.infra.metrics import WEBHOOK_EVENTS, count
from models.infra.outbox import enqueue, insert_and_enqueue
from models.org import Channel, ChannelKind, ChannelRef
from models.providers.adapter import ChannelAdapter, credentials
from models.providers.base import InboundEvent, MalformedDelivery, Refused, WebhookRequest
from models.rules import documents


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


_CHANNELS = cast(Table, Channel.__table__)
# Built once: a statement built on every call cost more CPU than its round trip (SQLAlchemy constructs it and
# computes its cache key each time). The columns a ChannelRef holds, as Core rows.
_ACTIVE = (select(_CHANNELS.c.id, _CHANNELS.c.tenant_id, _CHANNELS.c.kind, _CHANNELS.c.external_id,
                  _CHANNELS.c.credentials)
           .where(_CHANNELS.c.kind == bindparam("kind"), _CHANNELS.c.active.is_(True)))
_NAMED = _ACTIVE.where(_CHANNELS.c.external_id.in_(bindparam("refs", expanding=True)))
_ALL_ACTIVE = _ACTIVE.order_by(_CHANNELS.c.id)


def find_channels(session: Session, kind: ChannelKind, refs: Iterable[str]) -> dict[str, ChannelRef]:
    """Active channels of `kind` by the external id the provider uses for them."""
    wanted = sorted(set(refs))
    if not wanted:
        return {}
    rows = session.execute(_NAMED, {"kind": kind, "refs": wanted})
    return {row.external_id: ChannelRef(*row) for row in rows}


@dataclass(frozen=True)
class Directory:
    """The active channels of one kind, looked up on this session (what an adapter's verify_delivery asks).

    Unless `fresh`, a channel read in the last `_Held.TTL` seconds by this process is served from memory: the
    write that stores its events checks it has not changed (`store_events`), and a delivery refused or not
    stored on what was held is decided again on a fresh read (`receive`).
    """

    session: Session
    kind: ChannelKind
    fresh: bool = False
    held: set[str] = field(default_factory=set, compare=False)  # the external ids served from memory

    def find(self, refs: Iterable[str]) -> dict[str, ChannelRef]:
        return _HELD.find(self, refs)

    def active(self) -> list[ChannelRef]:
        return [ChannelRef(*row) for row in self.session.execute(_ALL_ACTIVE, {"kind": self.kind})]

    def secrets(self, name: str, fresh: bool = False) -> frozenset[str]:
        return _SECRETS.get(self, name, fresh)


def _engine_key(session: Session) -> int:
    bind = session.get_bind()
    return id(getattr(bind, "engine", bind))


class _Held:
    """Per process: the channels webhooks named lately, by kind and external id.

    Reading the named channel was one of a delivery's two statements, and as much of the webhook's CPU as storing
    its events (py-spy, ops/RESULTS.md). What is held only lets a delivery be checked: the statement that stores
    its events also checks that the channel row still holds what was held (active, same tenant, same
    credentials), so a secret revoked or a channel deactivated a moment ago stores nothing; `receive` then reads
    the channel afresh and decides again. A name no channel has is never held, so a new channel works at once.
    """

    TTL = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[int, ChannelKind, str], tuple[float, ChannelRef]] = {}

    def find(self, directory: Directory, refs: Iterable[str]) -> dict[str, ChannelRef]:
        engine, now = _engine_key(directory.session), time.monotonic()
        wanted, found = set(refs), {}
        if not directory.fresh:
            with self._lock:
                for ref in wanted:
                    held = self._held.get((engine, directory.kind, ref))
                    if held is not None and held[0] > now:
                        found[ref] = held[1]
            directory.held.update(found)
        read = find_channels(directory.session, directory.kind, wanted - found.keys())
        with self._lock:
            for ref in wanted - found.keys():  # read now: hold what was found, forget what is gone
                if ref in read:
                    self._held[(engine, directory.kind, ref)] = (now + self.TTL, read[ref])
                else:
                    self._held.pop((engine, directory.kind, ref), None)
        return {**found, **read}


_HELD = _Held()


class _SecretCache:
    """Per process: the signing secrets of each kind's active channels, for the check made before a body is
    parsed (WhatsApp signs with an app secret and the body alone names the number).

    Reading every active channel on every delivery cost each webhook a statement and grew with the number of
    tenants. A secret found here only lets the body be parsed: the channel the body names is then read from the
    database and its own current secret checked (verify_delivery), so a secret revoked a moment ago passes nothing.
    A signature no cached secret matches is checked again against a fresh read before it is refused, so a new or
    rotated secret works at once; an attacker's bad signatures cost that read, as every delivery did before.
    """

    TTL = 30.0

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[int, ChannelKind, str], tuple[float, frozenset[str]]] = {}

    def get(self, directory: Directory, name: str, fresh: bool) -> frozenset[str]:
        key = (_engine_key(directory.session), directory.kind, name)
        now = time.monotonic()
        with self._lock:
            held = self._held.get(key)
        if held is not None and not fresh and held[0] > now:
            return held[1]
        found = frozenset(credentials(c, name) for c in directory.active()) - {""}
        with self._lock:
            self._held[key] = (now + self.TTL, found)
        return found


_SECRETS = _SecretCache()


class ChannelChanged(Refused):
    """The channel changed while its delivery was being stored, twice: the provider is asked to retry."""

    status = 503
    code = "channel_changed"


def receive(session: Session, adapter: ChannelAdapter, request: WebhookRequest) -> StoreResult:
    """Take in one webhook delivery: parse, authenticate against the channel's secret, store each event once.

    Raises the adapter's `Refused` (malformed, unsigned, bad signature, unknown channel) before writing anything.
    The signature is checked before anything that depends on the body's content, where the scheme allows it.
    The channels are first those this process holds (`Directory`); a delivery refused on them, or whose channel
    changed since they were read (`RowChanged`: nothing was written), is rolled back and decided again on a
    fresh read. The session is the webhook's own transaction, begun by this call.
    """
    directory = Directory(session, adapter.kind)
    try:
        return _receive(session, adapter, request, directory)
    except (Refused, RowChanged):
        session.rollback()
        if not directory.held:  # decided on what the database holds now: the same answer again
            raise
    try:
        return _receive(session, adapter, request, Directory(session, adapter.kind, fresh=True))
    except RowChanged as exc:  # changed again between the read and the write: rare, and the provider retries
        session.rollback()
        raise ChannelChanged("the channel changed while the delivery was stored; retry") from exc


def _receive(session: Session, adapter: ChannelAdapter, request: WebhookRequest, directory: Directory) -> StoreResult:
    adapter.authenticate(request, directory)
    delivery = adapter.parse_delivery(request)
    verified = adapter.verify_delivery(request, delivery, directory)
    for event in verified.events:  # signed, yet not storable: a 400 the provider sees, never a 500
        reason = documents.refusal([event.event_id, event.channel_ref, event.payload]) or _unencodable(event)
        if reason:
            raise MalformedDelivery(f"the delivery cannot be stored: {reason}")
    return store_events(session, adapter.provider, verified.channels, verified.events)


def _unencodable(event: InboundEvent) -> str | None:
    """An unpaired surrogate (JSON `\\ud800`) parses into text no UTF-8 database can hold: the driver would raise."""
    stack: list[Any] = [event.event_id, event.payload]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "an unpaired surrogate is not accepted in text"
    return None


def store_events(session: Session, provider: str, channels: Mapping[str, Channel | ChannelRef],
                 events: Iterable[InboundEvent]) -> StoreResult:
    """Insert each event once (unique provider + event id) with its processing task in the outbox.

    A redelivery inserts nothing and enqueues nothing: the unique constraint, not a prior SELECT, decides.
    """
    stored = duplicates = 0
    now = utcnow()
    for event in events:
        channel = channels[event.channel_ref]
        inbox_id = insert_and_enqueue(session, InboxEvent, {
            "tenant_id": channel.tenant_id, "channel_id": channel.id, "provider": provider,
            "event_id": event.event_id, "kind": event.kind, "payload": event.payload, "received_at": now,
            "attempts": 0,
        }, ["provider", "event_id"], tasks.PROCESS_EVENT, still=_as_read(channel))
        if inbox_id is None:
            duplicates += 1
            count(session, WEBHOOK_EVENTS, provider=provider, outcome="duplicate")
            continue
        stored += 1
        count(session, WEBHOOK_EVENTS, provider=provider, outcome="stored")
    return StoreResult(stored, duplicates)


def _as_read(channel: Channel | ChannelRef) -> Still:
    """The channel row as the delivery was checked against it: active, and every field a ChannelRef holds."""
    return Still(_CHANNELS, {"id": channel.id, "tenant_id": channel.tenant_id, "kind": channel.kind,
                             "external_id": channel.external_id, "credentials": channel.credentials,
                             "active": True})


def requeue_stale(session: Session, now: datetime, min_age_seconds: float = 60, limit: int = 500) -> list[int]:
    """Ask again for live inbox events still unprocessed after `min_age_seconds` (a task that failed or was lost
    with the broker, e.g. a status that arrived long before its message was recorded). Returns the ids asked for.

    The least-tried rows go first, so events that keep failing (each failure is counted) cannot crowd fresh ones
    out of the `limit`; dead-lettered rows are not asked again.
    """
    rows = session.execute(
        select(InboxEvent.id, InboxEvent.tenant_id)
        .where(InboxEvent.processed_at.is_(None), InboxEvent.dead_at.is_(None),
               InboxEvent.received_at < now - timedelta(seconds=min_age_seconds))
        .order_by(InboxEvent.attempts, InboxEvent.id).limit(limit)
    ).all()
    for inbox_id, tenant_id in rows:
        enqueue(session, tenant_id, tasks.PROCESS_EVENT, inbox_id)
    return [inbox_id for inbox_id, _ in rows]


def requeue_after(session: Session, after_id: int, limit: int) -> list[int]:
    """Ask again for every live unprocessed inbox event with an id above `after_id`, at most `limit`, in id
    order (page with the last id returned): after the broker lost its queues, whatever their age."""
    rows = session.execute(
        select(InboxEvent.id, InboxEvent.tenant_id)
        .where(InboxEvent.processed_at.is_(None), InboxEvent.dead_at.is_(None), InboxEvent.id > after_id)
        .order_by(InboxEvent.id).limit(limit)
    ).all()
    for inbox_id, tenant_id in rows:
        enqueue(session, tenant_id, tasks.PROCESS_EVENT, inbox_id)
    return [inbox_id for inbox_id, _ in rows]


def record_failure(session: Session, inbox_id: int, error: str, now: datetime, max_attempts: int) -> bool:
    """Count one failed run of an event and keep its error; at `max_attempts` it is dead-lettered.

    Called in its own transaction: the run's own one rolled back. Returns whether the event is now dead.
    """
    event = session.get(InboxEvent, inbox_id, with_for_update=True)
    if event is None or event.processed_at is not None or event.dead_at is not None:
        return False
    event.attempts += 1
    event.error = error[:MAX_ERROR_CHARS]
    if event.attempts >= max_attempts:
        event.dead_at = now
        event.error = f"dead-lettered after {event.attempts} failed attempts: {event.error}"[:MAX_ERROR_CHARS]
    return event.dead_at is not None


MAX_ERROR_CHARS = 2000
