"""Accounts: password checks and provisioning tenants from a JSON document."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.errors import Invalid
from models.org import Channel, ChannelKind, Department, Queue, QueueMember, Role, Strategy, Tenant, User

# Verifying against this when the user does not exist keeps the response time the same either way.
_DUMMY_HASH = generate_password_hash("not-a-password")


def authenticate(session: Session, tenant_slug: str, email: str, password: str) -> User | None:
    """The active user with these credentials, or None (same cost whether the user exists or not)."""
    user = session.scalars(select(User).join(Tenant, Tenant.id == User.tenant_id)
                           .where(Tenant.slug == tenant_slug, User.email == email.lower().strip(),
                                  User.active.is_(True))).one_or_none()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def _get_or_new(session: Session, model: Any, **key: Any) -> Any:
    row = session.scalars(select(model).filter_by(**key)).one_or_none()
    if row is None:
        row = model(**key)
        session.add(row)
    return row


def provision(session: Session, doc: dict[str, Any]) -> list[str]:
    """Create or update tenants with their departments, queues, agents and channels (see ops/provision.example.json).

    Keys are natural: tenant slug, department/queue name, user email, channel kind + external_id. Running the same
    document twice changes nothing. Returns one line per tenant for the operator.
    """
    if not isinstance(doc, dict) or not isinstance(doc.get("tenants"), list):
        raise Invalid("document must be an object with a 'tenants' list")
    report = []
    for t in doc["tenants"]:
        tenant = _get_or_new(session, Tenant, slug=t["slug"])
        tenant.name = t.get("name", t["slug"])
        session.flush()
        departments = {}
        for d in t.get("departments", []):
            departments[d["name"]] = _get_or_new(session, Department, tenant_id=tenant.id, name=d["name"])
        session.flush()
        queues = {}
        for q in t.get("queues", []):
            queue = _get_or_new(session, Queue, tenant_id=tenant.id, name=q["name"])
            queue.strategy = Strategy(q.get("strategy", "least_busy"))
            dept = departments.get(q.get("department", ""))
            queue.department_id = dept.id if dept else None
            queues[q["name"]] = queue
        session.flush()
        for u in t.get("users", []):
            user = _get_or_new(session, User, tenant_id=tenant.id, email=u["email"].lower().strip())
            user.name = u.get("name", u["email"])
            user.role = Role(u.get("role", "agent"))
            user.max_tickets = int(u.get("max_tickets", 5))
            user.skills = list(u.get("skills", []))
            if u.get("password"):
                user.password_hash = generate_password_hash(u["password"])
            elif user.password_hash is None:
                raise Invalid(f"user {u['email']}: password is required for a new user")
            session.flush()
            for name in u.get("queues", []):
                if name not in queues:
                    raise Invalid(f"user {u['email']}: unknown queue {name!r}")
                _get_or_new(session, QueueMember, tenant_id=tenant.id, queue_id=queues[name].id, user_id=user.id)
        for c in t.get("channels", []):
            channel = _get_or_new(session, Channel, kind=ChannelKind(c["kind"]), external_id=str(c["external_id"]))
            if channel.tenant_id not in (None, tenant.id):
                raise Invalid(f"channel {c['kind']}:{c['external_id']} belongs to another tenant")
            channel.tenant_id = tenant.id
            channel.name = c.get("name", c["external_id"])
            channel.credentials = dict(c.get("credentials", {}))
            channel.settings = dict(c.get("settings", {}))
            default = c.get("default_queue")
            if default and default not in queues:
                raise Invalid(f"channel {c['external_id']}: unknown queue {default!r}")
            channel.default_queue_id = queues[default].id if default else None
        session.flush()
        report.append(f"tenant {tenant.slug}: {len(queues)} queues, {len(t.get('users', []))} users, "
                      f"{len(t.get('channels', []))} channels")
    return report
