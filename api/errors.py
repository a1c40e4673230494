"""One JSON error shape for every failure: {"error": {"code", "message", "details"?}}."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response, jsonify, request
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


MAX_JSON_DEPTH = 32  # provider deliveries nest ~8 deep, our own bodies ~5; Python's parser gives up near 1000
NUL = "\x00"


def load_json(raw: bytes | str) -> Any:
    """Parse a request body, refusing what must not go further: invalid JSON, nesting deeper than
    MAX_JSON_DEPTH, and NUL characters in any string or key (PostgreSQL refuses them in text). Raises ApiError
    400."""
    try:
        doc = json.loads(raw)
    except RecursionError as exc:
        raise ApiError(400, "malformed_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from exc
    except ValueError as exc:  # JSONDecodeError, and undecodable bytes
        raise ApiError(400, "malformed_json", f"body is not valid JSON: {exc}") from exc
    check_document(doc)
    return doc


def check_document(doc: Any) -> None:
    """Depth and NUL check of a parsed JSON document, iteratively (a recursive walk is the bug it prevents)."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_JSON_DEPTH:
            raise ApiError(400, "malformed_json", f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        if isinstance(value, dict):
            for key, item in value.items():
                _check_text(key)
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)


def check_texts(values: Iterable[str]) -> None:
    for value in values:
        _check_text(value)


def _check_text(value: str) -> None:
    if NUL in value:
        raise ApiError(400, "invalid_text", "text may not contain NUL (U+0000) characters")


def init_input_guard(app: Flask, skip_blueprints: Iterable[str] = ()) -> None:
    """Check every request's path, query, form and JSON body before any view, schema or database sees them.

    The blueprints skipped (the provider webhooks) check the signature first and parse with `load_json`
    themselves: refusing an unsigned body for its content would tell an attacker more than 401 does.
    """
    skipped = frozenset(skip_blueprints)

    @app.before_request
    def _guard() -> None:
        if request.blueprint in skipped:
            return
        # A route that takes larger bodies (file uploads) says so on its view: `body_limit(settings)`, applied
        # before the form below is read (Flask 3.1 lets a request carry its own max_content_length).
        view = app.view_functions.get(request.endpoint or "")
        limit = getattr(getattr(view, "view_class", view), "body_limit", None)
        if limit is not None:
            request.max_content_length = limit(app.extensions["atendimento.settings"])
        _check_text(request.path)
        for key, values in request.args.lists():
            check_texts([key, *values])
        if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
            for key, values in request.form.lists():
                check_texts([key, *values])
        elif request.is_json:
            raw = request.get_data(cache=True)  # the same bytes webargs parses next
            if raw:
                load_json(raw)


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
