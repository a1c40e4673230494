"""Who a contact is reached at (every phone and email, each unique in its tenant), and the data-subject
requests (export, erasure) run about a contact."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, JsonDoc, StrEnum, TenantOwned, enum_column, utcnow


class IdentityKind(StrEnum):
    PHONE = "phone"  # E.164 digits without the plus, as models.rules.phones.normalize_phone writes it
    EMAIL = "email"  # lower-cased


class ContactIdentity(TenantOwned, Base):
    """One phone or email of a contact. Unique per tenant: one address is one person, and triage finds the
    contact of an inbound message by it. A merge moves these rows to the surviving contact."""

    __tablename__ = "contact_identities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "kind", "value"),
        # Partial phone numbers and email fragments in search ("9876", "@acme"); pg_trgm exists only on PostgreSQL.
        Index("ix_contact_identities_value_trgm", "value", postgresql_using="gin",
              postgresql_ops={"value": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[IdentityKind] = mapped_column(enum_column(IdentityKind, length=8))
    value: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class JobKind(StrEnum):
    EXPORT = "export"  # everything held about a contact, as one JSON document
    ERASURE = "erasure"  # message text anonymised, identities and profile removed; the audit entry stays


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ContactJob(TenantOwned, Base):
    """A data-subject request (LGPD/GDPR) run in the background, in steps that each commit: progress is
    visible while it runs, and a worker that dies resumes after the last step (`cursor`) instead of redoing."""

    __tablename__ = "contact_jobs"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    contact_id: Mapped[int] = mapped_column(BigId, ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[JobKind] = mapped_column(enum_column(JobKind))
    status: Mapped[JobStatus] = mapped_column(enum_column(JobStatus), default=JobStatus.QUEUED)
    requested_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    total: Mapped[int] = mapped_column(Integer, default=0)  # tickets to visit
    done: Mapped[int] = mapped_column(Integer, default=0)
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)  # last ticket id handled
    result: Mapped[dict[str, Any] | None] = mapped_column(JsonDoc)  # the export document; erasure: counts
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
