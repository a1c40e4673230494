"""Customer satisfaction: one survey per resolved ticket, asked through the ticket's channel, answered once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, SmallInteger, String, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow


class CsatSurvey(TenantOwned, Base):
    """The question asked when a ticket was resolved and, once the customer answers, its score (1 to 5).

    Unique per ticket: a ticket resolved again after a reopen is not asked twice, and the first answer stands.
    The agent and queue are those of the resolution, so a later transfer does not move the rating.
    """

    __tablename__ = "csat_surveys"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="score_range"),
        # Triage looks for a contact's unanswered question on a channel with every inbound "1".."5".
        Index("ix_csat_surveys_pending", "contact_id", "channel_id", "expires_at",
              postgresql_where=text("score IS NULL"), sqlite_where=text("score IS NULL")),
        Index("ix_csat_surveys_answered", "tenant_id", "answered_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), unique=True)
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    question_message_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("messages.id", ondelete="SET NULL"))
    asked_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()  # a bare "1".."5" after this is an ordinary message again
    score: Mapped[int | None] = mapped_column(SmallInteger)
    answered_at: Mapped[datetime | None] = mapped_column()
    source: Mapped[str | None] = mapped_column(String(16))  # button | reply | link
