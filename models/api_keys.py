"""API keys: a tenant's credentials for integrations (a CRM, a BI tool), scoped, stored hashed, revocable.

A key is `atd_<prefix>_<secret>`. The prefix is stored in the clear and finds the row with one indexed lookup;
only a SHA-256 of the secret is stored (the secret is 256 random bits, so a fast hash is enough: nobody can
guess their way back from it, unlike a password). The whole key is shown once, at creation.

Requests made with a key act as a `KeyPrincipal`: a tenant-scoped principal that is not a user. Audit entries
written while one acts carry its id (`audit_log.api_key_id`), stamped at flush from the session's info, so every
service that audits names the key without knowing about keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, event
from sqlalchemy.orm import Mapped, Session, mapped_column

from models.base import Base, BigId, TenantOwned, utcnow
from models.events import AuditEntry
from models.org import Role

ACTING_KEY = "atendimento.api_key_id"  # Session.info key: the API key the request acts as


class ApiKey(TenantOwned, Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))  # hex SHA-256 of the secret part
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    created_by: Mapped[int | None] = mapped_column(BigId, ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Updated at most once a minute per key (models.services.api_keys.touch): a cheap "is it still used?".
    last_used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column()


@dataclass(frozen=True)
class KeyPrincipal:
    """Who acts when a request carries an API key: the tenant, through this key, within its scopes.

    It has the attributes services read from a user (`id`, `tenant_id`, `role`, `max_tickets`), so every
    tenant-scoped query filters by the key's tenant exactly as for a user. `id` is None: the key is nobody, so
    messages it writes have no author and audit entries no user (they name the key instead). The role is
    ADMIN for an `admin` key, else SUPERVISOR (it reads the tenant's tickets, not one agent's); what it may
    change is decided by its scopes before any view runs (api.auth).
    """

    api_key_id: int
    tenant_id: int
    scopes: frozenset[str]
    name: str
    role: Role
    id: None = None
    max_tickets: int = 0
    active: bool = True


@event.listens_for(Session, "before_flush")
def _name_the_key(session: Session, _context: Any, _instances: Any) -> None:
    key_id = session.info.get(ACTING_KEY)
    if key_id is None:
        return
    for obj in session.new:
        if isinstance(obj, AuditEntry) and obj.api_key_id is None:
            obj.api_key_id = key_id
