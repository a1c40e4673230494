"""Accounts: password checks, login sessions (families of rotating refresh tokens), provisioning tenants."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from models.auth import AuthSession
from models.base import utcnow
from models.errors import DomainError, Forbidden, Invalid
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


class SessionRefused(DomainError):
    """A refresh token that may not be traded: `token_revoked` (its session ended) or `refresh_token_reused`
    (an older token of a live session: the session is ended now, and the caller must commit that)."""

    code = "token_revoked"


# Families that expired this long ago are deleted when their user next logs in (they are only history).
_KEEP_EXPIRED = timedelta(days=30)


def _new_id() -> str:
    return uuid.uuid4().hex


def start_session(session: Session, user: User, verified_hash: str, now: datetime, ttl: int) -> AuthSession | None:
    """Open a session family for a user whose password was just checked against `verified_hash`.

    None when the password changed or the user was disabled since the check: the user row is locked here, so a
    concurrent password change either ends this family (it commits after us) or is seen here (it committed first).
    """
    current = session.scalars(select(User).where(User.id == user.id).with_for_update()
                              .execution_options(populate_existing=True)).one()
    if current.password_hash != verified_hash or not current.active:
        return None
    session.execute(delete(AuthSession).where(AuthSession.user_id == user.id,
                                              AuthSession.expires_at < now - _KEEP_EXPIRED))
    family = AuthSession(id=_new_id(), tenant_id=user.tenant_id, user_id=user.id, refresh_jti=_new_id(),
                         created_at=now, refreshed_at=now, expires_at=now + timedelta(seconds=ttl))
    session.add(family)
    session.flush()
    return family


def rotate_session(session: Session, family_id: str, jti: str, user_id: int, now: datetime, ttl: int) -> AuthSession:
    """Trade the family's current refresh token (`jti`) for a new one; raises SessionRefused otherwise.

    The row lock makes two trades of the same token one success and one reuse. A reuse means the token was
    copied (or a client lost a response): the whole family ends, whoever holds it.
    """
    family = session.scalars(select(AuthSession).where(AuthSession.id == family_id, AuthSession.user_id == user_id)
                             .with_for_update()).one_or_none()
    if family is None or family.ended_at is not None or family.expires_at <= now:
        raise SessionRefused("this session has ended: log in again")
    if family.refresh_jti != jti:
        family.ended_at, family.end_reason = now, "refresh_reused"
        session.flush()
        raise SessionRefused("this refresh token was already used: the session is ended, log in again",
                             code="refresh_token_reused")
    family.refresh_jti, family.refreshed_at = _new_id(), now
    family.expires_at = now + timedelta(seconds=ttl)
    session.flush()
    return family


def end_session(session: Session, family_id: str, user_id: int, now: datetime, reason: str) -> None:
    """End one family of this user (logout); ending an ended one changes nothing."""
    session.execute(update(AuthSession).where(AuthSession.id == family_id, AuthSession.user_id == user_id,
                                              AuthSession.ended_at.is_(None))
                    .values(ended_at=now, end_reason=reason))


def end_all_sessions(session: Session, user_id: int, now: datetime, reason: str) -> list[str]:
    """End every live family of the user (password change or reset, deactivation); their ids."""
    return list(session.scalars(update(AuthSession).where(AuthSession.user_id == user_id,
                                                          AuthSession.ended_at.is_(None))
                                .values(ended_at=now, end_reason=reason).returning(AuthSession.id)))


def change_password(session: Session, user: User, current: str, new: str, now: datetime) -> list[str]:
    """The user's own password change: checks the current one, ends every session of the user."""
    row = session.scalars(select(User).where(User.id == user.id).with_for_update()
                          .execution_options(populate_existing=True)).one()
    if not check_password_hash(row.password_hash, current):
        raise Forbidden("the current password is wrong", code="wrong_password", field="current_password")
    if current == new:
        raise Invalid("the new password must differ from the current one", field="new_password")
    row.password_hash = generate_password_hash(new)
    return end_all_sessions(session, row.id, now, "password_changed")


def _get_or_new(session: Session, model: Any, **key: Any) -> Any:
    row = session.scalars(select(model).filter_by(**key)).one_or_none()
    if row is None:
        row = model(**key)
        session.add(row)
    return row


def provision(session: Session, doc: dict[str, Any], now: datetime | None = None) -> list[str]:
    """Create or update tenants with their departments, queues, agents and channels (see ops/provision.example.json).

    Keys are natural: tenant slug, department/queue name, user email, channel kind + external_id. Running the same
    document twice changes nothing (a password is re-hashed, and the user's sessions ended, only when it differs).
    Returns one line per tenant for the operator.
    """
    now = now or utcnow()
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
            if u.get("password") and (user.password_hash is None
                                      or not check_password_hash(user.password_hash, u["password"])):
                if user.password_hash is not None:  # a reset by the operator: no session survives it
                    session.flush()
                    end_all_sessions(session, user.id, now, "password_reset")
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
