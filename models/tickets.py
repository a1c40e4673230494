"""What is served: contacts, their tickets and the messages on them."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column, utcnow

if TYPE_CHECKING:
    from models.attachments import Attachment
    from models.labels import Label
    from models.org import Channel
    from models.reactions import Reaction


class TicketStatus(StrEnum):
    QUEUED = "queued"  # waiting in its queue for an agent
    ASSIGNED = "assigned"
    PENDING = "pending"  # waiting on the customer
    RESOLVED = "resolved"


OPEN_STATUSES = (TicketStatus.QUEUED, TicketStatus.ASSIGNED, TicketStatus.PENDING)


class Direction(StrEnum):
    INBOUND = "in"
    OUTBOUND = "out"
    NOTE = "note"  # internal, never sent


class DeliveryStatus(StrEnum):
    RECEIVED = "received"  # inbound
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"


class Contact(TenantOwned, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("tenant_id", "phone"),
        UniqueConstraint("tenant_id", "email"),
        # Partial-number search for agents ("...9876"); pg_trgm exists only on PostgreSQL.
        Index("ix_contacts_phone_trgm", "phone", postgresql_using="gin",
              postgresql_ops={"phone": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))
    # The primary phone and email, shown on tickets; every phone and email is a row of contact_identities
    # (models.contacts), which is what triage looks a sender up by.
    phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    notes: Mapped[str | None] = mapped_column(Text)
    # A merged contact stays as a tombstone pointing at the contact it went into, so a message for one of
    # its old identities that raced the merge still lands on the right ticket.
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="SET NULL"))
    merged_at: Mapped[datetime | None] = mapped_column()
    # Set by an erasure (LGPD/GDPR): the row stays so tickets and audit keep their references, emptied.
    erased_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column()


class Ticket(TenantOwned, Base):
    __tablename__ = "tickets"
    __table_args__ = (
        Index("ix_tickets_tenant_status_created", "tenant_id", "status", text("created_at DESC")),
        # The waiting line of a queue, in the order assignment takes it.
        Index("ix_tickets_queue_waiting", "queue_id", text("priority DESC"), "created_at",
              postgresql_where=text("status = 'queued'"), sqlite_where=text("status = 'queued'")),
        Index("ix_tickets_agent_status", "agent_id", "status"),
        # At most one open ticket per contact and channel: a returning customer never gets a duplicate.
        Index("uq_tickets_open_contact_channel", "contact_id", "channel_id", unique=True,
              postgresql_where=text("status <> 'resolved'"), sqlite_where=text("status <> 'resolved'")),
        # Open conversations by their customer's last message: the 24-hour window check reads a range of it.
        Index("ix_tickets_open_last_customer", "last_customer_message_at",
              postgresql_where=text("status <> 'resolved'"), sqlite_where=text("status <> 'resolved'")),
        # Beat's wake-up scan reads only snoozed tickets.
        Index("ix_tickets_snoozed_until", "snoozed_until", postgresql_where=text("snoozed_until IS NOT NULL"),
              sqlite_where=text("snoozed_until IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    queue_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("queues.id", ondelete="SET NULL"))
    agent_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus), default=TicketStatus.QUEUED)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    required_skills: Mapped[list[Any]] = mapped_column(default=list)
    subject: Mapped[str | None] = mapped_column(String(300))
    # While the bot runs the menu the ticket has no queue; this holds the bot's progress (attempts, since).
    triage_state: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reopened_at: Mapped[datetime | None] = mapped_column()
    # When the assigned agent last marked the conversation read; unread = the customer wrote after it.
    read_at: Mapped[datetime | None] = mapped_column()
    # Snoozed (status pending, put aside): since when, and until when (None: until the customer replies).
    snoozed_at: Mapped[datetime | None] = mapped_column()
    snoozed_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    assigned_at: Mapped[datetime | None] = mapped_column()
    first_response_at: Mapped[datetime | None] = mapped_column()
    resolved_at: Mapped[datetime | None] = mapped_column()
    last_customer_message_at: Mapped[datetime | None] = mapped_column()
    first_response_due_at: Mapped[datetime | None] = mapped_column()
    next_response_due_at: Mapped[datetime | None] = mapped_column()
    resolution_due_at: Mapped[datetime | None] = mapped_column()

    contact: Mapped[Contact] = relationship(lazy="select", viewonly=True)
    # Its kind tells the console what a reply may carry (buttons, reactions); a tenant has few channels, so the
    # identity map answers most loads.
    channel: Mapped[Channel] = relationship(lazy="select", viewonly=True)
    # Loaded on access; lists preload them in one query (models.services.labels.preload).
    labels: Mapped[list[Label]] = relationship(secondary="ticket_labels", lazy="select", viewonly=True,
                                               order_by="Label.name")


class Message(TenantOwned, Base):
    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel_id", "provider_message_id"),
        UniqueConstraint("idempotency_key"),
        Index("ix_messages_ticket_created", "ticket_id", text("created_at DESC")),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(BigId, ForeignKey("tickets.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(BigId, ForeignKey("channels.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    kind: Mapped[str] = mapped_column(String(32), default="text")  # text, image, audio, location, ...
    body: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)  # media ids, location, template, ...
    author_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(enum_column(DeliveryStatus))
    error_code: Mapped[str | None] = mapped_column(String(64))
    error_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    read_at: Mapped[datetime | None] = mapped_column()
    # Loaded only where a page of messages is shown (selectinload); the hot paths never touch it.
    attachments: Mapped[list[Attachment]] = relationship(order_by="Attachment.id", viewonly=True)
    reactions: Mapped[list[Reaction]] = relationship(order_by="Reaction.id", viewonly=True)
