"""Plumbing tables: the webhook inbox, the task outbox, the real-time event log and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class InboxEvent(TenantOwned, Base):
    """One provider event (an inbound message or a status callback), stored once however often it arrives."""

    __tablename__ = "inbox_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id"),
        Index("ix_inbox_events_unprocessed", "received_at",
              postgresql_where=text("processed_at IS NULL"), sqlite_where=text("processed_at IS NULL")),
        # The requeue takes the least-tried live rows first, so poison rows cannot crowd out fresh ones.
        Index("ix_inbox_events_requeue", "attempts", "id",
              postgresql_where=text("processed_at IS NULL AND dead_at IS NULL"),
              sqlite_where=text("processed_at IS NULL AND dead_at IS NULL")),
        Index("ix_inbox_events_dead", "tenant_id", "dead_at",
              postgresql_where=text("dead_at IS NOT NULL"), sqlite_where=text("dead_at IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(255))
    kind: Mapped[str] = mapped_column(String(32))  # message | status
    payload: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # runs that ended, processed or failed
    error: Mapped[str | None] = mapped_column(Text)  # the last failure
    dead_at: Mapped[datetime | None] = mapped_column()  # dead-lettered: no longer re-asked until retried


class OutboxTask(TenantOwned, Base):
    """A task to enqueue, written in the transaction that caused it and published after commit.

    If the broker was down or the process died between commit and publish, the relay finds the row
    (`dispatched_at IS NULL`) and publishes it again; tasks are idempotent, so twice is harmless.
    """

    __tablename__ = "outbox_tasks"
    __table_args__ = (
        Index("ix_outbox_tasks_pending", "created_at",
              postgresql_where=text("dispatched_at IS NULL"), sqlite_where=text("dispatched_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task: Mapped[str] = mapped_column(String(100))
    args: Mapped[list[Any]] = mapped_column()
    headers: Mapped[dict[str, Any]] = mapped_column(default=dict)  # trace context survives the relay
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    dispatched_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)


class RealtimeEvent(TenantOwned, Base):
    """Every Socket.IO event, kept so a client that reconnects can fetch what it missed."""

    __tablename__ = "realtime_events"
    __table_args__ = (Index("ix_realtime_events_tenant_since", "tenant_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    rooms: Mapped[list[Any]] = mapped_column()
    data: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(TenantOwned, Base):
    __tablename__ = "audit_log"
    __table_args__ = (
        Index("ix_audit_log_entity", "tenant_id", "entity", "entity_id"),
        # The supervisors' audit page: a tenant's entries newest first, in keyset order.
        Index("ix_audit_log_tenant_created", "tenant_id", "created_at", "id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column(BigId)
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
