"""Message templates: each WhatsApp channel's catalogue as Meta last reported it (synced, never edited here)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class MessageTemplate(TenantOwned, Base):
    __tablename__ = "message_templates"
    __table_args__ = (UniqueConstraint("channel_id", "name", "language"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))  # pt_BR, en_US, ...
    category: Mapped[str] = mapped_column(String(32))  # MARKETING, UTILITY, AUTHENTICATION
    status: Mapped[str] = mapped_column(String(32))  # APPROVED, PENDING, REJECTED, PAUSED, DISABLED
    components: Mapped[list[Any]] = mapped_column(default=list)  # as Meta lists them: HEADER, BODY, FOOTER, BUTTONS
    provider_id: Mapped[str | None] = mapped_column(String(64))
    synced_at: Mapped[datetime] = mapped_column(default=utcnow)
