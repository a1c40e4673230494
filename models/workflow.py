"""Per-queue workflow settings: resolving tickets the customer has left idle."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Integer, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class AutoResolveSetting(TenantOwned, Base):
    """A queue's auto-resolve: after `idle_seconds` business seconds without a customer reply to an agent's last
    message, the ticket is resolved, with `closing_message` (or `closing_template` outside WhatsApp's window)."""

    __tablename__ = "queue_auto_resolve"

    queue_id: Mapped[int] = mapped_column(BigId, ForeignKey("queues.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    idle_seconds: Mapped[int] = mapped_column(Integer)
    closing_message: Mapped[str | None] = mapped_column(Text)
    closing_template: Mapped[dict[str, Any] | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
