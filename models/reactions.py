"""Reactions: an emoji someone put on a message. An annotation of that message, never a message of its own.

One reaction per reactor per message, as WhatsApp has it: a new emoji replaces the old one, an empty one removes
it. `reactor` is "customer" or "user:<id>", so the unique key holds for both (NULLs would not be unique).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow

CUSTOMER = "customer"


def user_reactor(user_id: int) -> str:
    return f"user:{user_id}"


class Reaction(TenantOwned, Base):
    __tablename__ = "message_reactions"
    __table_args__ = (UniqueConstraint("message_id", "reactor"), Index("ix_message_reactions_message_id",
                                                                        "message_id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(BigId, ForeignKey("messages.id", ondelete="CASCADE"))
    reactor: Mapped[str] = mapped_column(String(40))
    emoji: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
