"""API keys: create (shown once), list, revoke, authenticate, and record their use cheaply."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from models.api_keys import ApiKey, KeyPrincipal
from models.errors import DomainError, Invalid, NotFound
from models.events import AuditEntry
from models.org import Role, User
from models.rules import api_keys as rules

# last_used_at is written at most this often per key: one UPDATE a minute, not one per request.
TOUCH_EVERY = timedelta(minutes=1)


class KeyRefused(DomainError):
    """A key that does not authenticate: `invalid_api_key` (unknown, malformed, wrong secret) or
    `api_key_revoked`."""

    code = "invalid_api_key"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _audit(session: Session, actor: User, action: str, key: ApiKey, now: datetime) -> None:
    session.add(AuditEntry(tenant_id=key.tenant_id, actor_id=actor.id, action=action, entity="api_key",
                           entity_id=key.id, data={"name": key.name, "scopes": list(key.scopes),
                                                   "prefix": key.prefix}, created_at=now))


def create_key(session: Session, actor: User, name: str, scopes: list[str], now: datetime) -> tuple[ApiKey, str]:
    """A new key of the actor's tenant and its full token, which is never available again."""
    unknown = rules.invalid_scopes(scopes)
    if unknown or not scopes:
        raise Invalid(f"unknown scopes: {', '.join(unknown)}" if unknown else "give at least one scope",
                      field="scopes", known=list(rules.SCOPES))
    prefix, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    key = ApiKey(tenant_id=actor.tenant_id, name=name.strip(), prefix=prefix, secret_hash=_digest(secret),
                 scopes=sorted(set(scopes)), created_by=actor.id, created_at=now)
    session.add(key)
    session.flush()
    _audit(session, actor, "api_key.created", key, now)
    return key, f"{rules.TOKEN_PREFIX}{prefix}_{secret}"


def list_keys(session: Session, actor: User) -> list[ApiKey]:
    return list(session.scalars(select(ApiKey).where(ApiKey.tenant_id == actor.tenant_id).order_by(ApiKey.id)))


def revoke_key(session: Session, actor: User, key_id: int, now: datetime) -> ApiKey:
    """Revoke a key of the actor's tenant: it stops working at its next request. Revoking twice changes nothing."""
    key = session.scalars(select(ApiKey).where(ApiKey.id == key_id, ApiKey.tenant_id == actor.tenant_id)
                          .with_for_update()).one_or_none()
    if key is None:
        raise NotFound("api key not found")
    if key.revoked_at is None:
        key.revoked_at = now
        _audit(session, actor, "api_key.revoked", key, now)
    return key


def authenticate(session: Session, token: str) -> ApiKey:
    """The live key a token names; raises KeyRefused otherwise. One indexed lookup by prefix, then a
    constant-time comparison of the secret's hash (the same work whether the prefix exists or not)."""
    parts = rules.split_token(token)
    if parts is None:
        raise KeyRefused("malformed API key")
    prefix, secret = parts
    key = session.scalars(select(ApiKey).where(ApiKey.prefix == prefix)).one_or_none()
    digest = _digest(secret)
    if not hmac.compare_digest(digest, key.secret_hash if key is not None else "0" * 64) or key is None:
        raise KeyRefused("unknown API key")
    if key.revoked_at is not None:
        raise KeyRefused("this API key was revoked", code="api_key_revoked")
    return key


def principal(key: ApiKey) -> KeyPrincipal:
    scopes = frozenset(key.scopes)
    return KeyPrincipal(api_key_id=key.id, tenant_id=key.tenant_id, scopes=scopes, name=key.name,
                        role=Role.ADMIN if "admin" in scopes else Role.SUPERVISOR)


def due_for_touch(key: ApiKey, now: datetime) -> bool:
    """Whether this request should record the key's use (the loaded row says it was not recorded lately)."""
    return key.last_used_at is None or now - key.last_used_at >= TOUCH_EVERY


def touch(session: Session, key_id: int, now: datetime) -> bool:
    """Record that the key was used now, unless that was recorded within the last minute: a conditional UPDATE,
    so concurrent requests of one key write the row once (the second finds the new time and matches nothing)."""
    result = session.execute(update(ApiKey).where(ApiKey.id == key_id, or_(
        ApiKey.last_used_at.is_(None), ApiKey.last_used_at <= now - TOUCH_EVERY)).values(last_used_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]
