"""The request's database session: opened on first use, closed (and rolled back if not committed) at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session


def db() -> Session:
    if "db" not in g:
        g.db = current_app.extensions["atendimento.sessions"]()
    return g.db


def commit() -> None:
    """Commit the request's transaction; tasks and events it queued go out after this."""
    db().commit()


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close(_exc: BaseException | None) -> None:
        session = g.pop("db", None)
        if session is not None:
            session.close()
