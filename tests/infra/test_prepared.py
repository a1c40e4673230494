"""Statements marked `prepared()` run as PostgreSQL prepared statements and answer exactly as they did as text."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Integer, bindparam, text
from sqlalchemy.exc import IntegrityError, OperationalError

from models.infra.config import Settings
from models.infra.db import make_engine
from models.infra.prepared import prepared

_ECHO = prepared(text("SELECT :word || '%' AS word, :n + 1 AS next").bindparams(bindparam("n", type_=Integer)))
_OURS = "SELECT name, statement FROM pg_prepared_statements WHERE name LIKE 'atd\\_%'"


def _engine(database_url: str) -> Any:
    settings = Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32})
    return make_engine(settings, pool_size=1, max_overflow=0)


def test_a_marked_statement_is_prepared_once_per_connection(database_url: str) -> None:
    pooled = _engine(database_url)
    for n in range(8):  # past the five custom plans after which PostgreSQL may switch to a generic one
        with pooled.begin() as conn:
            row = conn.execute(_ECHO, {"word": f"100{n}", "n": n}).one()
            assert (row.word, row.next) == (f"100{n}%", n + 1)  # the literal percent sign survives
    with pooled.connect() as conn:
        ours = conn.execute(text(_OURS)).all()
        assert conn.execute(text("SELECT 1")).scalar_one() == 1  # an unmarked statement is sent as it was
    assert len(ours) == 1 and "$1 || '%'" in ours[0].statement and "$2 + 1" in ours[0].statement
    pooled.dispose()


def test_it_outlives_a_rollback_and_is_prepared_again_on_a_new_connection(database_url: str, engine: Any) -> None:
    pooled = _engine(database_url)
    with pooled.connect() as conn:
        with conn.begin() as tx:
            conn.execute(_ECHO, {"word": "a", "n": 1})
            tx.rollback()  # PREPARE is not transactional: the statement is still there
        assert conn.execute(_ECHO, {"word": "b", "n": 2}).one().word == "b%"
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
    with engine.begin() as admin:  # PostgreSQL drops the pooled connection (a restart, an idle timeout)
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    with pytest.raises(OperationalError), pooled.connect() as conn:
        conn.execute(_ECHO, {"word": "c", "n": 3})  # fails as any statement on a dead connection does
    with pooled.connect() as conn:  # a fresh connection: prepared again, not assumed
        assert conn.execute(_ECHO, {"word": "d", "n": 4}).one().word == "d%"
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar_one() != pid
    pooled.dispose()


def test_row_counts_and_errors_are_the_statements_own(database_url: str) -> None:
    pooled = _engine(database_url)
    with pooled.begin() as conn:
        conn.execute(text("CREATE TEMPORARY TABLE prepared_probe (id integer PRIMARY KEY, seen integer)"))
        add = prepared(text("INSERT INTO prepared_probe (id, seen) VALUES (:id, 0)"))
        bump = prepared(text("UPDATE prepared_probe SET seen = seen + 1 WHERE id <= :top"))
        for i in range(1, 4):
            conn.execute(add, {"id": i})
        assert conn.execute(bump, {"top": 2}).rowcount == 2  # what SQLAlchemy's version checks read
        assert conn.execute(bump, {"top": 9}).rowcount == 3
        with pytest.raises(IntegrityError), conn.begin_nested():
            conn.execute(add, {"id": 1})  # a duplicate key is still the IntegrityError callers catch
        assert conn.execute(text("SELECT sum(seen) FROM prepared_probe")).scalar_one() == 5
    pooled.dispose()


def test_a_migration_that_changes_a_returned_column_costs_one_failed_call(database_url: str, engine: Any) -> None:
    pooled = _engine(database_url)
    with engine.begin() as admin:
        admin.execute(text("CREATE TABLE prepared_probe_migrated (id integer PRIMARY KEY, seen integer)"))
        admin.execute(text("INSERT INTO prepared_probe_migrated VALUES (1, 7)"))
    read = prepared(text("SELECT id, seen FROM prepared_probe_migrated WHERE id = :id"))
    try:
        with pooled.connect() as conn:
            assert conn.execute(read, {"id": 1}).one().seen == 7
        with engine.begin() as admin:
            admin.execute(text("ALTER TABLE prepared_probe_migrated ALTER COLUMN seen TYPE text"))
        with pytest.raises(OperationalError), pooled.connect() as conn:  # as for a dropped connection
            conn.execute(read, {"id": 1})
        with pooled.connect() as conn:  # a new connection, which prepares it against the new table
            assert conn.execute(read, {"id": 1}).one().seen == "7"
    finally:
        pooled.dispose()
        with engine.begin() as admin:
            admin.execute(text("DROP TABLE prepared_probe_migrated"))
