"""Labels: a tenant's tags (name, colour) on tickets and on contacts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class Label(TenantOwned, Base):
    __tablename__ = "labels"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    color: Mapped[str] = mapped_column(String(7), default="#6b7280")  # "#rrggbb"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TicketLabel(TenantOwned, Base):
    """A label on a ticket; the primary key makes a second add of the same label a no-op, never a second row."""

    __tablename__ = "ticket_labels"

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    # Indexed for the ticket list's label filter and for deleting a label.
    label_id: Mapped[int] = mapped_column(BigId, ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    added_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ContactLabel(TenantOwned, Base):
    __tablename__ = "contact_labels"

    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True)
    label_id: Mapped[int] = mapped_column(BigId, ForeignKey("labels.id", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    added_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
