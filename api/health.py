"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint
from sqlalchemy import text

from api.db import db
from api.schemas import HealthSchema

blp = Blueprint("health", __name__, description="Liveness and readiness")


@blp.get("/healthz")
@blp.response(200, HealthSchema)
def healthz() -> dict[str, str]:
    """The process is alive (nothing else is checked)."""
    return {"status": "ok"}


@blp.get("/readyz")
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="a dependency is down")
def readyz() -> tuple[dict[str, Any], int]:
    """The database and Redis answer: safe to route traffic here; 503 otherwise."""
    checks: dict[str, str] = {}
    try:
        db().execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"down: {exc.__class__.__name__}"
    redis_client = current_app.extensions.get("atendimento.redis")
    if redis_client is not None:
        try:
            redis_client.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"down: {exc.__class__.__name__}"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
