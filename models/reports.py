"""Report facts: each response wait and each resolution, written when it happens (models/services/facts.py).

A row is one measured span of one ticket's cycle (a cycle is the ticket from an opening or a reopening to its
resolve):

- `resolution`: from the cycle's opening (the ticket's creation or reopening) to its resolve;
- `first_response`: from when triage routed the cycle out of the bot (bot time excluded) to the first human reply;
- `next_response`: from the first customer message left unanswered after an agent reply to the next agent reply.

A span is open while `ended_at` is NULL; at most one wait (first or next) and one resolution are open per
ticket, which the partial unique indexes enforce, so a customer message can open a wait with one
INSERT ... ON CONFLICT DO NOTHING. `wall_seconds` and `business_seconds` are written when it ends; a wait
still open at resolve ends then with both NULL: unanswered, counted apart from the times. The agent, queue and
channel are those of the moment the span ended (the replier, for a response), so a later transfer never moves a
figure already made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, Index, Integer, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column
from models.tickets import Message


class FactKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


WAIT_OPEN = "ended_at IS NULL AND kind <> 'resolution'"
CYCLE_OPEN = "ended_at IS NULL AND kind = 'resolution'"


class ResponseFact(TenantOwned, Base):
    __tablename__ = "response_facts"
    __table_args__ = (
        # The report's range scan: the tenant's spans that ended in [start, end).
        Index("ix_response_facts_tenant_ended", "tenant_id", "ended_at"),
        # Tickets opened in a range: the resolution spans by their start.
        Index("ix_response_facts_tenant_opened", "tenant_id", "started_at",
              postgresql_where=text("kind = 'resolution'"), sqlite_where=text("kind = 'resolution'")),
        Index("uq_response_facts_open_wait", "ticket_id", unique=True,
              postgresql_where=text(WAIT_OPEN), sqlite_where=text(WAIT_OPEN)),
        Index("uq_response_facts_open_cycle", "ticket_id", unique=True,
              postgresql_where=text(CYCLE_OPEN), sqlite_where=text(CYCLE_OPEN)),
        # One first response and one resolution per cycle, whatever runs twice.
        Index("uq_response_facts_once", "ticket_id", "cycle", "kind", unique=True,
              postgresql_where=text("kind <> 'next_response'"), sqlite_where=text("kind <> 'next_response'")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"), index=True)
    cycle: Mapped[int] = mapped_column(Integer)
    kind: Mapped[FactKind] = mapped_column(enum_column(FactKind))
    started_at: Mapped[datetime] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    wall_seconds: Mapped[float | None] = mapped_column(Float)
    business_seconds: Mapped[float | None] = mapped_column(Float)
    channel_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("channels.id", ondelete="SET NULL"))
    queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))


# Message volume by range (GET /api/reports/volume): the tenant's messages in order of time. Declared here, beside
# the report that needs it, so models/tickets.py stays as its owners keep it.
MESSAGES_BY_TIME = Index("ix_messages_tenant_created", Message.tenant_id, Message.created_at)
