"""Canned responses: short codes an agent types to send a prepared reply, the tenant's or their own."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class CannedResponse(TenantOwned, Base):
    """`owner_id` None: the tenant's (supervisors manage it); otherwise one agent's own."""

    __tablename__ = "canned_responses"
    __table_args__ = (
        # A code is unique within its owner's scope; NULL owners are distinct in a plain unique index, hence two.
        Index("uq_canned_responses_tenant_code", "tenant_id", "code", unique=True,
              postgresql_where=text("owner_id IS NULL"), sqlite_where=text("owner_id IS NULL")),
        Index("uq_canned_responses_owner_code", "owner_id", "code", unique=True,
              postgresql_where=text("owner_id IS NOT NULL"), sqlite_where=text("owner_id IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    owner_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200), default="")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
