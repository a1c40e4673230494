"""The audit log as supervisors read it: filtered by ticket, user, action and time, newest first, keyset pages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.errors import Invalid
from models.events import AuditEntry
from models.org import User
from models.services import pagination


def list_entries(session: Session, viewer: User, *, ticket_id: int | None = None, user_id: int | None = None,
                 action: str | None = None, since: datetime | None = None, until: datetime | None = None,
                 cursor: str | None = None, limit: int = 50) -> tuple[list[AuditEntry], str | None]:
    """Entries of the viewer's tenant only. `action` is exact, or a prefix when it ends in "*" ("ticket.*");
    `since` is inclusive, `until` exclusive."""
    if since is not None and until is not None and since >= until:
        raise Invalid("from must be before to", field="from")
    query = select(AuditEntry).where(AuditEntry.tenant_id == viewer.tenant_id)
    if ticket_id is not None:
        query = query.where(AuditEntry.entity == "ticket", AuditEntry.entity_id == ticket_id)
    if user_id is not None:
        query = query.where(AuditEntry.actor_id == user_id)
    if action:
        if action.endswith("*"):
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            query = query.where(AuditEntry.action.like(f"{prefix}%", escape="\\"))
        else:
            query = query.where(AuditEntry.action == action)
    if since is not None:
        query = query.where(AuditEntry.created_at >= since)
    if until is not None:
        query = query.where(AuditEntry.created_at < until)
    return pagination.split(list(session.scalars(pagination.page(query, AuditEntry, cursor, limit))), limit)
