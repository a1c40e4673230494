"""Shared fixtures: a throwaway PostgreSQL database and Redis database per run, migrated once with Alembic.

Connection defaults match a developer machine and CI (PostgreSQL on 127.0.0.1:5432 with trust auth, Redis on
127.0.0.1:6379); PGUSER/PGHOST/PGPORT and TEST_REDIS_URL override them.
"""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session, sessionmaker

import models
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.services.accounts import provision
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer
from tests.fakes.sendgrid import EventSigner, SendGridServer
from tests.fakes.twilio import TwilioServer
from tests.fakes.whatsapp import APP_SECRET, PHONE_NUMBER_ID

ROOT = Path(__file__).resolve().parent.parent
_env = os.environ.get
PG = f"{_env('PGUSER', 'postgres')}@{_env('PGHOST', '127.0.0.1')}:{_env('PGPORT', '5432')}"


def migrate(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"atd_test_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"postgresql+psycopg2://{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{PG}/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("TEST_REDIS_URL") or f"redis://127.0.0.1:6379/{random.randint(1, 15)}"
    yield url
    redis.Redis.from_url(url).flushdb()


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphServer]:
    server = GraphServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def twilio_server() -> Iterator[TwilioServer]:
    server = TwilioServer()
    yield server
    server.close()


@pytest.fixture(scope="session")
def sendgrid_server() -> Iterator[SendGridServer]:
    server = SendGridServer()
    yield server
    server.close()


EVENT_SIGNER = EventSigner()
PUBLIC_BASE_URL = "https://atendimento.example.com"


@pytest.fixture
def settings(database_url: str, redis_url: str, graph: GraphServer, twilio_server: TwilioServer,
             sendgrid_server: SendGridServer, tmp_path: Path) -> Settings:
    return Settings.from_env({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret-of-at-least-32-characters",
        "WHATSAPP_GRAPH_BASE_URL": graph.url, "DATA_DIR": str(tmp_path), "HTTP_READ_TIMEOUT": "2",
        "TWILIO_API_BASE_URL": twilio_server.url, "SENDGRID_API_BASE_URL": sendgrid_server.url,
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SOCKETIO_CHANNEL": f"flask-socketio-{uuid.uuid4().hex[:8]}",
    })


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Any]:
    eng = make_engine(Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}))
    yield eng
    eng.dispose()


def truncate_all(engine: Any) -> None:
    tables = ", ".join(t.name for t in models.Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


@pytest.fixture
def sessions(engine: Any, bus: RecordingBus) -> Iterator[sessionmaker[Session]]:
    """Sessions on the test database whose tasks and events are recorded, not sent. Tables are emptied after."""
    yield make_session_factory(engine, bus)
    truncate_all(engine)


@pytest.fixture
def session(sessions: sessionmaker[Session]) -> Iterator[Session]:
    with sessions() as s:
        yield s


TENANTS = {"tenants": [
    {"slug": "acme", "name": "Acme", "queues": [{"name": "Support"}, {"name": "Sales"}],
     "users": [
         {"email": "ana@acme.example", "name": "Ana", "password": "pw-ana", "max_tickets": 2,
          "queues": ["Support"]},
         {"email": "bruno@acme.example", "name": "Bruno", "password": "pw-bruno", "max_tickets": 2,
          "queues": ["Support"]},
         {"email": "carla@acme.example", "name": "Carla", "role": "supervisor", "password": "pw-carla"},
     ],
     "channels": [{"kind": "whatsapp", "external_id": PHONE_NUMBER_ID, "default_queue": "Support",
                   "credentials": {"app_secret": APP_SECRET, "verify_token": "verify-acme",
                                   "access_token": "example-graph-token"}},
                  {"kind": "sms", "external_id": tw.OUR_NUMBER, "default_queue": "Support",
                   "credentials": {"account_sid": tw.ACCOUNT_SID, "auth_token": tw.AUTH_TOKEN}},
                  {"kind": "email", "external_id": sg.SUPPORT, "name": "Acme Support", "default_queue": "Support",
                   "credentials": {"api_key": sg.API_KEY, "inbound_secret": "parse-secret-acme",
                                   "event_public_key": EVENT_SIGNER.public_key_b64}}]},
    {"slug": "globex", "name": "Globex", "queues": [{"name": "Support"}],
     "users": [{"email": "gina@globex.example", "name": "Gina", "password": "pw-gina", "queues": ["Support"]}],
     "channels": [{"kind": "whatsapp", "external_id": "999000111", "default_queue": "Support",
                   "credentials": {"app_secret": "globex-secret", "verify_token": "verify-globex",
                                   "access_token": "globex-token"}}]},
]}


@pytest.fixture
def tenants(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Two tenants, acme and globex, each with a WhatsApp channel, a Support queue and agents (all offline)."""
    with sessions() as s, s.begin():
        provision(s, TENANTS)
    with sessions() as s:
        users = {u.email.split("@")[0]: u for u in s.query(models.User)}
        channels = {c.external_id: c for c in s.query(models.Channel)}
        queues = {(q.tenant_id, q.name): q for q in s.query(models.Queue)}
    return {"users": users, "channels": channels, "queues": queues}
