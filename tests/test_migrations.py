"""Alembic from empty to head and back on a throwaway PostgreSQL database, with no drift from the models."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from tests.conftest import PG, ROOT


@pytest.fixture
def empty_database() -> Iterator[str]:
    name = f"atd_mig_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"postgresql+psycopg2://{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://{PG}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def config(url: str) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def test_one_head() -> None:
    assert len(ScriptDirectory.from_config(config("sqlite://")).get_heads()) == 1


def test_upgrade_check_downgrade_upgrade(empty_database: str) -> None:
    cfg = config(empty_database)
    command.upgrade(cfg, "head")
    command.check(cfg)  # raises when the models and the migrated schema differ
    engine = create_engine(empty_database)
    try:
        insp = inspect(engine)
        assert {"tickets", "messages", "inbox_events", "outbox_tasks"} <= set(insp.get_table_names())
        indexes = {ix["name"]: ix for ix in insp.get_indexes("contacts")}
        assert "ix_contacts_phone_trgm" in indexes
        with engine.connect() as conn:
            ddl = conn.execute(text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"),
                               {"n": "ix_tickets_tenant_status_created"}).scalar_one()
        assert "created_at DESC" in ddl
        command.downgrade(cfg, "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        command.upgrade(cfg, "head")
    finally:
        engine.dispose()
