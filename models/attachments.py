"""Attachments: a file carried by a message, in either direction, whose bytes live in the object store.

A row exists from the moment we know of the file (an inbound media reference, or an agent's upload); `status`
says whether its bytes are stored yet. Inbound media are fetched by a task after the message is stored, so
the message reaches the agent at once and the file follows; an upload is stored before its row is committed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column, utcnow


class AttachmentStatus(StrEnum):
    PENDING = "pending"  # known, bytes not fetched yet (inbound) or being stored
    STORED = "stored"  # bytes in the object store, downloadable
    FAILED = "failed"  # refused (size, type, checksum) or never fetched: `error` says why
    EXPIRED = "expired"  # the provider no longer serves the media; it will never be fetched
    ERASED = "erased"  # bytes deleted on an erasure request; the row stays for the record


class Attachment(TenantOwned, Base):
    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_message_id", "message_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(127))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))
    storage_key: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[AttachmentStatus] = mapped_column(enum_column(AttachmentStatus))
    # Where the bytes come from: {"media_id", "mime_type", "sha256"} (WhatsApp), {"url"} (Twilio), ...
    source: Mapped[dict[str, Any]] = mapped_column(default=dict)
    inline_id: Mapped[str | None] = mapped_column(String(255))  # an email's Content-ID for inline images
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column()
