"""One JSON error shape for every failure: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify
from redis.exceptions import RedisError
from sqlalchemy.exc import DataError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from models.errors import Conflict, DomainError, Forbidden, Invalid, NotFound, TooLarge, UnsupportedType

log = logging.getLogger(__name__)

_DOMAIN_STATUS = {NotFound: 404, Forbidden: 403, Conflict: 409, Invalid: 422, TooLarge: 413, UnsupportedType: 415}


def error_response(status: int, code: str, message: str, details: Any = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    resp = jsonify(error=body)
    resp.status_code = status
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


class ApiError(Exception):
    """Raised by views for a precise 4xx with a machine-readable code."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError) -> Response:
        status = next((s for cls, s in _DOMAIN_STATUS.items() if isinstance(exc, cls)), 400)
        return error_response(status, exc.code, exc.message, exc.details or None)

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        data = getattr(exc, "data", None) or {}
        code = (exc.name or "error").lower().replace(" ", "_")
        resp = error_response(exc.code or 500, code, exc.description or exc.name, data.get("messages"))
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            resp.headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return resp

    @app.errorhandler(DataError)
    def _bad_value(exc: DataError) -> Response:
        # A value the database refuses (a NUL character in text, a number out of range): the caller's input.
        return error_response(400, "invalid_value", "a value in the request cannot be stored")

    @app.errorhandler(RedisError)
    def _redis_down(exc: RedisError) -> Response:
        log.error("redis unavailable: %s", exc.__class__.__name__)
        return error_response(503, "unavailable", "a dependency is unavailable, retry later",
                              headers={"Retry-After": "5"})

    @app.errorhandler(OperationalError)
    @app.errorhandler(InterfaceError)
    def _db_down(exc: Exception) -> Response:
        # Providers retry on 5xx: answering 503 keeps the event at the sender instead of losing it.
        log.error("database unavailable: %s", exc.__class__.__name__)
        return error_response(503, "unavailable", "database unavailable, retry later", headers={"Retry-After": "5"})
