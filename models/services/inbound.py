"""Webhook intake: find the channel a delivery is for and store each of its events exactly once."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.base import utcnow
from models.events import InboxEvent
from models.infra import tasks
from models.infra.db import insert_or_ignore
from models.infra.metrics import WEBHOOK_EVENTS, count
from models.infra.outbox import enqueue
from models.org import Channel, ChannelKind
from models.providers.adapter import ChannelAdapter
from models.providers.base import InboundEvent, MalformedDelivery, WebhookRequest


@dataclass(frozen=True)
class StoreResult:
    stored: int
    duplicates: int


def find_channels(session: Session, kind: ChannelKind, refs: Iterable[str]) -> dict[str, Channel]:
    """Active channels of `kind` by the external id the provider uses for them."""
    refs = set(refs)
    if not refs:
        return {}
    rows = session.scalars(select(Channel).where(Channel.kind == kind, Channel.external_id.in_(refs),
                                                 Channel.active.is_(True)))
    return {c.external_id: c for c in rows}


@dataclass(frozen=True)
class Directory:
    """The active channels of one kind, looked up on this session (what an adapter's verify_delivery asks)."""

    session: Session
    kind: ChannelKind

    def find(self, refs: Iterable[str]) -> dict[str, Channel]:
        return find_channels(self.session, self.kind, refs)

    def active(self) -> list[Channel]:
        return list(self.session.scalars(select(Channel).where(Channel.kind == self.kind, Channel.active.is_(True))
                                         .order_by(Channel.id)))


def receive(session: Session, adapter: ChannelAdapter, request: WebhookRequest) -> StoreResult:
    """Take in one webhook delivery: parse, authenticate against the channel's secret, store each event once.

    Raises the adapter's `Refused` (malformed, unsigned, bad signature, unknown channel) before writing anything.
    The signature is checked before anything that depends on the body's content, where the scheme allows it.
    """
    directory = Directory(session, adapter.kind)
    adapter.authenticate(request, directory)
    delivery = adapter.parse_delivery(request)
    verified = adapter.verify_delivery(request, delivery, directory)
    for event in verified.events:
        refuse_unstorable(event)
    return store_events(session, adapter.provider, verified.channels, verified.events)


def refuse_unstorable(event: InboundEvent) -> None:
    """400 for an event carrying text PostgreSQL cannot store (a NUL character, an unpaired surrogate from a
    `\\ud800` escape), wherever it is: signed by the provider or not, it would fail the insert with a 500."""
    stack: list[tuple[str, Any]] = [("event_id", event.event_id), ("payload", event.payload)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{where}.{key}", key) for key in value)
            stack.extend((f"{where}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str) and not _storable(value):
            raise MalformedDelivery(f"{where[:200]}: contains a character that cannot be stored (NUL or an unpaired "
                                    "surrogate)", code="unstorable_text")


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def store_events(session: Session, provider: str, channels: dict[str, Channel],
                 events: Iterable[InboundEvent]) -> StoreResult:
    """Insert each event once (unique provider + event id) with its processing task in the outbox.

    A redelivery inserts nothing and enqueues nothing: the unique constraint, not a prior SELECT, decides.
    """
    stored = duplicates = 0
    now = utcnow()
    for event in events:
        channel = channels[event.channel_ref]
        inbox_id = insert_or_ignore(session, InboxEvent, {
            "tenant_id": channel.tenant_id, "channel_id": channel.id, "provider": provider,
            "event_id": event.event_id, "kind": event.kind, "payload": event.payload, "received_at": now,
            "attempts": 0,
        }, conflict=["provider", "event_id"])
        if inbox_id is None:
            duplicates += 1
            count(session, WEBHOOK_EVENTS, provider=provider, outcome="duplicate")
            continue
        stored += 1
        count(session, WEBHOOK_EVENTS, provider=provider, outcome="stored")
        enqueue(session, channel.tenant_id, tasks.PROCESS_EVENT, inbox_id)
    return StoreResult(stored, duplicates)


def requeue_stale(session: Session, now: datetime, min_age_seconds: float = 60, max_attempts: int = 50,
                  limit: int = 500) -> int:
    """Ask again for inbox events still unprocessed after `min_age_seconds` (a task that exhausted its retries,
    e.g. a status that arrived long before its message was recorded). Processing is idempotent."""
    rows = session.execute(
        select(InboxEvent.id, InboxEvent.tenant_id)
        .where(InboxEvent.processed_at.is_(None), InboxEvent.attempts < max_attempts,
               InboxEvent.received_at < now - timedelta(seconds=min_age_seconds))
        .order_by(InboxEvent.id).limit(limit)
    ).all()
    for inbox_id, tenant_id in rows:
        enqueue(session, tenant_id, tasks.PROCESS_EVENT, inbox_id)
    return len(rows)
