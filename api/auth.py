"""Login, token refresh (rotating, with reuse detection), logout, and the `login_required` guard (user tokens and
API keys).

Every token belongs to a session family (`fam`, a row of auth_sessions). The tenant always comes from the token.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

import jwt
from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.db import commit, db
from api.errors import ApiError
from models.api_keys import ACTING_KEY, KeyPrincipal
from models.auth import AuthSession
from models.base import utcnow
from models.infra.config import Settings
from models.org import Role, User
from models.rules import api_keys as key_rules
from models.services import api_keys
from models.services.accounts import SessionRefused, authenticate, end_session, rotate_session, start_session

log = logging.getLogger(__name__)
blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Login and tokens")

_ALGORITHM = "HS256"


def _settings() -> Settings:
    return current_app.extensions["atendimento.settings"]


def issue_token(settings: Settings, user: User, kind: str, family: AuthSession) -> str:
    """A signed token of the session `family`; a refresh token's jti is the one the family will accept."""
    ttl = settings.access_token_ttl if kind == "access" else settings.refresh_token_ttl
    now = utcnow()
    jti = family.refresh_jti if kind == "refresh" else uuid.uuid4().hex
    claims = {"sub": str(user.id), "tid": user.tenant_id, "role": user.role.value, "typ": kind, "fam": family.id,
              "iat": now, "exp": now + timedelta(seconds=ttl), "jti": jti}
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM)


def decode_token(settings: Settings, token: str, kind: str = "access") -> dict[str, Any]:
    """The token's claims; raises ApiError(401) when it is bad, expired or of the wrong kind."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[_ALGORITHM],
                            options={"require": ["exp", "sub", "tid", "typ", "fam", "jti"]})
        claims["sub"] = int(claims["sub"])
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "token_expired", "token expired") from exc
    except (jwt.InvalidTokenError, TypeError, ValueError) as exc:
        raise ApiError(401, "invalid_token", "invalid token") from exc
    if claims.get("typ") != kind:
        raise ApiError(401, "invalid_token", f"expected an {kind} token")
    if not isinstance(claims["fam"], str) or not isinstance(claims["jti"], str):
        raise ApiError(401, "invalid_token", "invalid token")
    return claims


def user_from_token(settings: Settings, token: str) -> tuple[User, dict[str, Any]]:
    """The live user of an access token and its claims; raises ApiError(401) otherwise.

    One query loads the user together with the token's session family, so an ended session (logout, reuse,
    password change, deactivation) is refused on every instance at once, with no Redis round trip, and still is
    while Redis is down.
    """
    claims = decode_token(settings, token)
    row = db().execute(select(User, AuthSession.ended_at)
                       .join(AuthSession, (AuthSession.user_id == User.id) & (AuthSession.id == claims["fam"]))
                       .where(User.id == claims["sub"])).one_or_none()
    if row is None or row[0].tenant_id != claims["tid"] or not row[0].active:
        raise ApiError(401, "invalid_token", "user no longer exists or is disabled")
    if row[1] is not None:
        raise ApiError(401, "token_revoked", "this session has ended: log in again")
    return row[0], claims


def disconnect_sockets(user_id: int, families: set[str] | None = None) -> None:
    """Close the user's sockets of these session families (all of them when None), on whichever instance."""
    from api.sockets import disconnect_sessions

    disconnect_sessions(user_id, families)


def _credential() -> tuple[str, str]:
    """("key", token) for an API key (`Authorization: Bearer atd_...` or `X-Api-Key`), else ("user", token)."""
    from flask import request

    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header.removeprefix("Bearer ").strip()
        return ("key" if key_rules.looks_like_key(token) else "user"), token
    key = request.headers.get("X-Api-Key", "").strip()
    if key:
        return "key", key
    raise ApiError(401, "unauthorized", "missing bearer token or API key")


def api_key_prefix() -> str | None:
    """The prefix of the API key the request carries (no database: the rate limit's key function), or None."""
    try:
        kind, token = _credential()
    except ApiError:
        return None
    parts = key_rules.split_token(token) if kind == "key" else None
    return parts[0] if parts else None


def principal_from_key(token: str, roles: tuple[Role, ...] = ()) -> KeyPrincipal:
    """The principal an API key acts as on this request; raises ApiError(401) for a bad or revoked key and
    ApiError(403) where a key may not go (an endpoint for a person, or one its scopes do not cover)."""
    from flask import request

    try:
        key = api_keys.authenticate(db(), token)
    except api_keys.KeyRefused as exc:
        raise ApiError(401, exc.code, exc.message) from exc
    rule = request.url_rule.rule if request.url_rule is not None else request.path
    if key_rules.person_only(rule):
        raise ApiError(403, "user_required", "an API key cannot do this: it needs a signed-in user")
    needed = key_rules.required_scope(request.method, rule, bool(roles) and Role.AGENT not in roles)
    if not key_rules.allows(key.scopes, needed):
        raise ApiError(403, "insufficient_scope", f"this API key lacks the {needed} scope",
                       {"required": needed, "scopes": list(key.scopes)})
    now = utcnow()
    if api_keys.due_for_touch(key, now):
        # Its own commit, before the view: a GET never commits, and its use must still be recorded.
        api_keys.touch(db(), key.id, now)
        commit()
    db().info[ACTING_KEY] = key.id  # audit entries of this request name the key
    return api_keys.principal(key)


def login_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a bearer access token or an API key (and one of `roles`, when given); sets `g.user`.

    With a key, `g.user` is a KeyPrincipal of the key's tenant (its role follows its scopes) and `g.api_key_id`
    names the key; a user's token leaves `g.api_key_id` None.
    """
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            kind, token = _credential()
            if kind == "key":
                g.user, g.token_claims = principal_from_key(token, roles), {}
                g.api_key_id = g.user.api_key_id
            else:
                g.user, g.token_claims = user_from_token(_settings(), token)
                g.api_key_id = None
            if roles and g.user.role not in roles:
                raise ApiError(403, "forbidden", "your role may not do this")
            return view(*args, **kwargs)
        return wrapper
    return decorator


class LoginSchema(Schema):
    tenant = fields.String(required=True, validate=validate.Length(1, 64), metadata={"example": "acme"})
    email = fields.Email(required=True, metadata={"example": "ana@acme.example"})
    password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True)


class TokensSchema(Schema):
    access_token = fields.String()
    refresh_token = fields.String()
    token_type = fields.String(metadata={"example": "Bearer"})
    expires_in = fields.Integer(metadata={"description": "access token lifetime in seconds"})
    user_id = fields.Integer()
    tenant_id = fields.Integer()
    role = fields.String()


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True, load_only=True, validate=validate.Length(1, 200))
    new_password = fields.String(required=True, load_only=True, validate=validate.Length(8, 200))


def tokens_for(user: User, family: AuthSession) -> dict[str, Any]:
    """A new token pair of `family` (the body of login, refresh and a password change)."""
    settings = _settings()
    return {"access_token": issue_token(settings, user, "access", family),
            "refresh_token": issue_token(settings, user, "refresh", family), "token_type": "Bearer",
            "expires_in": settings.access_token_ttl, "user_id": user.id, "tenant_id": user.tenant_id,
            "role": user.role.value}


def _invalid_login() -> ApiError:
    return ApiError(401, "invalid_credentials", "wrong tenant, email or password")


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="wrong tenant, email or password")
    @blp.alt_response(429, description="too many failed logins for this account: wait Retry-After seconds")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log in with tenant, email and password (each login is a new session)"""
        failures = current_app.extensions["atendimento.login_failures"]
        # Checked before the password and counted for unknown emails too: the answer never tells whether the
        # account exists, and a locked account refuses even the right password until the window has passed.
        failures.check(body["tenant"], body["email"])
        user = authenticate(db(), body["tenant"], body["email"], body["password"])
        if user is None:
            failures.record(body["tenant"], body["email"])
            raise _invalid_login()
        family = start_session(db(), user, user.password_hash, utcnow(), _settings().refresh_token_ttl)
        if family is None:  # the password changed or the user was disabled while we checked
            raise _invalid_login()
        commit()
        failures.clear(body["tenant"], body["email"])
        return tokens_for(user, family)


class LogoutSchema(Schema):
    refresh_token = fields.String(metadata={"description": "ends that token's session too, when given"})


@blp.route("/logout")
class Logout(MethodView):
    @login_required()
    @blp.arguments(LogoutSchema)
    @blp.response(204)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, body: dict[str, Any]) -> None:
        """Log out: this session's tokens stop working on every instance and its sockets are closed"""
        families = {g.token_claims["fam"]}
        if body.get("refresh_token"):
            claims = decode_token(_settings(), body["refresh_token"], "refresh")
            if claims["sub"] != g.user.id:
                raise ApiError(403, "forbidden", "that refresh token is not yours")
            families.add(claims["fam"])
        for family_id in sorted(families):
            end_session(db(), family_id, g.user.id, utcnow(), "logout")
        commit()
        disconnect_sockets(g.user.id, families)


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="bad, expired, ended or already used refresh token")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Trade a refresh token for a new pair; the old one stops working (used again, the session ends)"""
        settings = _settings()
        claims = decode_token(settings, body["refresh_token"], kind="refresh")
        try:
            family = rotate_session(db(), claims["fam"], claims["jti"], claims["sub"], utcnow(),
                                    settings.refresh_token_ttl)
        except SessionRefused as exc:
            commit()  # a detected reuse has just ended the family: that must stick
            if exc.code == "refresh_token_reused":
                disconnect_sockets(claims["sub"], {claims["fam"]})
            raise ApiError(401, exc.code, exc.message) from exc
        user = db().get(User, claims["sub"])
        if user is None or user.tenant_id != claims["tid"] or not user.active:
            raise ApiError(401, "invalid_token", "user no longer exists or is disabled")
        commit()
        return tokens_for(user, family)
