"""SLA tables: policies, each ticket's clock state, the pauses while a ticket waits on the customer, and the
notices (warnings and breaches) already emitted.

The due times themselves live on the ticket (`first_response_due_at`, `next_response_due_at`,
`resolution_due_at`); `ticket_sla` holds the rest, one row per ticket with a policy, so the periodic check is an
indexed range scan over `next_check_at` instead of a scan of every open ticket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Float, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column, utcnow


class SlaClock(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"  # runs from a customer message until the agent's next reply
    RESOLUTION = "resolution"


class NoticeKind(StrEnum):
    WARNING = "warning"
    BREACH = "breach"


class SlaPolicy(TenantOwned, Base):
    """Targets in business seconds (None = no target) for the tickets it is scoped to.

    Scope: a queue, a priority, both, or neither (the tenant default); the most specific match wins
    (`models.rules.sla_policy.choose_policy`). At most one policy per scope: NULLs compare equal in the key.
    """

    __tablename__ = "sla_policies"
    __table_args__ = (UniqueConstraint("tenant_id", "queue_id", "priority", postgresql_nulls_not_distinct=True),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="CASCADE"))
    priority: Mapped[int | None] = mapped_column(Integer)
    first_response_seconds: Mapped[int | None] = mapped_column(Integer)
    next_response_seconds: Mapped[int | None] = mapped_column(Integer)
    resolution_seconds: Mapped[int | None] = mapped_column(Integer)
    warning_fraction: Mapped[float] = mapped_column(Float, default=0.8)
    # Escalation on breach: the supervisors always hear it; then priority +1 (capped) and, optionally, a move.
    escalate_priority: Mapped[bool] = mapped_column(Boolean, default=True)
    escalate_queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="SET NULL"))
    escalate_agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class TicketSla(TenantOwned, Base):
    """A ticket's SLA state besides its due times: warning instants, the next instant to look at, results."""

    __tablename__ = "ticket_sla"
    __table_args__ = (
        # What the periodic check reads: tickets whose next warning or breach instant has come.
        Index("ix_ticket_sla_next_check_at", "next_check_at", postgresql_where=text("next_check_at IS NOT NULL"),
              sqlite_where=text("next_check_at IS NOT NULL")),
    )

    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), primary_key=True)
    policy_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("sla_policies.id", ondelete="SET NULL"))
    first_response_warning_at: Mapped[datetime | None] = mapped_column()
    next_response_warning_at: Mapped[datetime | None] = mapped_column()
    resolution_warning_at: Mapped[datetime | None] = mapped_column()
    # Start of the running next-response clock: the oldest customer message the agent has not answered.
    next_response_started_at: Mapped[datetime | None] = mapped_column()
    # The earliest warning or breach instant not yet handled by the check; None when there is none (or paused).
    next_check_at: Mapped[datetime | None] = mapped_column()
    # How many next-response clocks (with a target) this ticket has had: the breach rate's denominator.
    next_response_clocks: Mapped[int] = mapped_column(Integer, default=0)
    # Business seconds, pauses excluded, recorded when the clock stops: what reports aggregate.
    first_response_seconds: Mapped[float | None] = mapped_column(Float)
    resolution_seconds: Mapped[float | None] = mapped_column(Float)


class SlaPause(TenantOwned, Base):
    """A span in which the ticket waited on the customer (status pending): no SLA clock ran."""

    __tablename__ = "sla_pauses"
    __table_args__ = (
        Index("uq_sla_pauses_open", "ticket_id", unique=True, postgresql_where=text("ended_at IS NULL"),
              sqlite_where=text("ended_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class SlaNotice(TenantOwned, Base):
    """A warning or breach that was emitted. The unique key makes each one happen once: the check inserts the row
    with ON CONFLICT DO NOTHING in the transaction that emits, and emits only when the insert won.

    `threshold_at` is the instant that was crossed (the warning instant, or the due time for a breach).
    """

    __tablename__ = "sla_notices"
    __table_args__ = (UniqueConstraint("ticket_id", "clock", "kind", "threshold_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    clock: Mapped[SlaClock] = mapped_column(enum_column(SlaClock))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind))
    threshold_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    policy_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("sla_policies.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
