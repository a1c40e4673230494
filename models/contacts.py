"""Who a contact is reached at: every phone and email of a contact, each unique in its tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, StrEnum, TenantOwned, enum_column, utcnow


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
