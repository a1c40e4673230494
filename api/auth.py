"""Login, token refresh, and the `login_required` guard. The tenant always comes from the token."""

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

from api.db import db
from api.errors import ApiError
from models.base import utcnow
from models.infra.config import Settings
from models.org import Role, User
from models.services.accounts import authenticate

log = logging.getLogger(__name__)
blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Login and tokens")

_ALGORITHM = "HS256"


def _settings() -> Settings:
    return current_app.extensions["atendimento.settings"]


def issue_token(settings: Settings, user: User, kind: str) -> str:
    ttl = settings.access_token_ttl if kind == "access" else settings.refresh_token_ttl
    now = utcnow()
    claims = {"sub": str(user.id), "tid": user.tenant_id, "role": user.role.value, "typ": kind,
              "iat": now, "exp": now + timedelta(seconds=ttl), "jti": uuid.uuid4().hex}
    return jwt.encode(claims, settings.secret_key, algorithm=_ALGORITHM)


def decode_token(settings: Settings, token: str, kind: str = "access") -> dict[str, Any]:
    """The token's claims; raises ApiError(401) when it is bad, expired or of the wrong kind."""
    try:
        claims = jwt.decode(token, settings.secret_key, algorithms=[_ALGORITHM],
                            options={"require": ["exp", "sub", "tid", "typ"]})
    except jwt.ExpiredSignatureError as exc:
        raise ApiError(401, "token_expired", "token expired") from exc
    except jwt.InvalidTokenError as exc:
        raise ApiError(401, "invalid_token", "invalid token") from exc
    if claims.get("typ") != kind:
        raise ApiError(401, "invalid_token", f"expected an {kind} token")
    return claims


class Revoked:
    """Token ids revoked by logout, until they would have expired anyway: in Redis, so every instance
    refuses them (in this process's memory in the embedded mode)."""

    def __init__(self, redis_client: Any | None) -> None:
        self._redis, self._local = redis_client, set[str]()

    def add(self, jti: str, seconds_left: int) -> None:
        if self._redis is None:
            self._local.add(jti)
        else:
            self._redis.set(f"atendimento:revoked:{jti}", b"1", ex=max(1, seconds_left))

    def __contains__(self, jti: str) -> bool:
        if self._redis is None:
            return jti in self._local
        try:
            return bool(self._redis.exists(f"atendimento:revoked:{jti}"))
        except Exception as exc:
            # Redis down: serve rather than lock everyone out. Access tokens live ACCESS_TOKEN_TTL (15 min),
            # which bounds how long a logged-out token keeps working while Redis is gone.
            log.warning("revocation list unavailable (%s): accepting the token", exc.__class__.__name__)
            return False


def user_from_token(settings: Settings, token: str, kind: str = "access") -> User:
    claims = decode_token(settings, token, kind)
    if claims.get("jti") in current_app.extensions["atendimento.revoked"]:
        raise ApiError(401, "token_revoked", "this token was logged out")
    user = db().get(User, int(claims["sub"]))
    if user is None or user.tenant_id != claims["tid"] or not user.active:
        raise ApiError(401, "invalid_token", "user no longer exists or is disabled")
    return user


def login_required(*roles: Role) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Require a bearer access token (and one of `roles`, when given); sets `g.user`."""
    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            from flask import request

            header = request.headers.get("Authorization", "")
            if not header.startswith("Bearer "):
                raise ApiError(401, "unauthorized", "missing bearer token")
            g.user = user_from_token(_settings(), header.removeprefix("Bearer ").strip())
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


def _tokens(user: User) -> dict[str, Any]:
    settings = _settings()
    return {"access_token": issue_token(settings, user, "access"),
            "refresh_token": issue_token(settings, user, "refresh"), "token_type": "Bearer",
            "expires_in": settings.access_token_ttl, "user_id": user.id, "tenant_id": user.tenant_id,
            "role": user.role.value}


@blp.route("/login")
class Login(MethodView):
    @blp.arguments(LoginSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="wrong tenant, email or password")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Log in with tenant, email and password"""
        user = authenticate(db(), body["tenant"], body["email"], body["password"])
        if user is None:
            raise ApiError(401, "invalid_credentials", "wrong tenant, email or password")
        return _tokens(user)


class LogoutSchema(Schema):
    refresh_token = fields.String(metadata={"description": "revoked too, when given"})


@blp.route("/logout")
class Logout(MethodView):
    @login_required()
    @blp.arguments(LogoutSchema)
    @blp.response(204)
    @blp.doc(security=[{"bearerAuth": []}])
    def post(self, body: dict[str, Any]) -> None:
        """Log out: this access token (and the refresh token, if given) stop working on every instance"""
        from flask import request

        revoked = current_app.extensions["atendimento.revoked"]
        tokens = [(request.headers["Authorization"].removeprefix("Bearer ").strip(), "access")]
        if body.get("refresh_token"):
            tokens.append((body["refresh_token"], "refresh"))
        for token, kind in tokens:
            claims = decode_token(_settings(), token, kind)
            if int(claims["sub"]) != g.user.id:
                raise ApiError(403, "forbidden", "that refresh token is not yours")
            revoked.add(claims["jti"], int(claims["exp"] - utcnow().timestamp()))


@blp.route("/refresh")
class Refresh(MethodView):
    @blp.arguments(RefreshSchema)
    @blp.response(200, TokensSchema)
    @blp.alt_response(401, description="bad or expired refresh token")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Trade a refresh token for a new pair of tokens"""
        return _tokens(user_from_token(_settings(), body["refresh_token"], kind="refresh"))
