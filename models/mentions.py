"""Mentions: a note naming a colleague. One row per mentioned user, so "my recent mentions" is an index scan."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class Mention(TenantOwned, Base):
    __tablename__ = "note_mentions"
    __table_args__ = (UniqueConstraint("message_id", "user_id"),
                      Index("ix_note_mentions_user_recent", "user_id", "created_at", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    author_id: Mapped[int] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
