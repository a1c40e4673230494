"""Once-only notices about a ticket that are not SLA clocks (e.g. the WhatsApp window about to close).

The unique key makes each one happen once, as with `sla_notices`: the check inserts the row with ON CONFLICT
DO NOTHING in the transaction that emits, and emits only when its insert won, so two beats cannot both warn.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class TicketNotice(TenantOwned, Base):
    __tablename__ = "ticket_notices"
    __table_args__ = (UniqueConstraint("ticket_id", "kind", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(32))  # window.closing
    at: Mapped[datetime] = mapped_column()  # the instant the notice is about (the window's end)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
