"""Alembic environment: targets the models' metadata and the settings' database URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

import models
from models.base import UTCDateTime
from models.infra.config import Settings
from models.infra.db import make_engine

config = context.config
target_metadata = models.Base.metadata


def run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"

    def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
        # SQLite reflects neither DESC nor expression index columns, and has no trigram index: comparing its
        # indexes would report drift that is not there. PostgreSQL, the production database, compares all.
        return not (sqlite and type_ == "index")

    def render_item(type_: str, obj: object, autogen_context: object) -> str | bool:
        # Migrations spell plain SQLAlchemy types, so they never depend on the current models' code.
        if type_ == "type" and isinstance(obj, UTCDateTime):
            return "sa.DateTime(timezone=True)"
        return False

    context.configure(connection=connection, target_metadata=target_metadata, compare_type=True,
                      render_as_batch=sqlite, include_object=include_object, render_item=render_item)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:  # tests hand in their own connection
        run_migrations(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    settings = Settings.from_env() if not url else Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "x" * 32})
    engine = make_engine(settings)
    with engine.connect() as conn:
        run_migrations(conn)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline mode is not supported: run against a database")
run_online()
