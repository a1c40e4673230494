"""Shared fixtures: a throwaway PostgreSQL database and a Redis database per run (per xdist worker), migrated once.

Connection defaults match a developer machine and CI (PostgreSQL on 127.0.0.1:5432 with trust auth, Redis on
127.0.0.1:6379); PGUSER/PGHOST/PGPORT and TEST_REDIS_URL override them. TEST_REDIS_URL names the base database:
xdist worker gwN uses database base + N (the suite FLUSHES them, so never point it at a Redis that matters).

Each test that touches the database runs in one of two modes, chosen per test by `_database` (see `needs_commits`):

- **a transaction** (the default): `sessions` are joined into one connection's transaction with a SAVEPOINT per
  session transaction (SQLAlchemy's "join a session into an external transaction"), rolled back after the test.
  Code under test may commit as usual; nothing reaches the database for real, so nothing needs emptying.
- **real commits**, then every table emptied: for tests whose work is read by another connection (API requests,
  worker processes, threads, a second engine). A test gets it by asking for `app`, `client` or `real_stack`, by
  asking for `engine` or `database_url` itself, by living in tests/e2e or tests/faults, by importing threading,
  multiprocessing, concurrent.futures, subprocess or `create_app` in its module, or by `@pytest.mark.commits`.

Either way a test starts on empty tables whose ids start at 1, and on an empty Redis database.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, select, text
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.security import generate_password_hash

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
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "commits: the test's work must really commit (read by another connection)")


def worker_number() -> int:
    """0 without xdist, N for xdist worker gwN."""
    name = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    return int(name[2:]) if name.startswith("gw") and name[2:].isdigit() else 0


def migrate(url: str) -> None:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("sqlalchemy.url", url)
    command.upgrade(cfg, "head")


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    name = f"atd_test_{uuid.uuid4().hex[:10]}_{worker_number()}"
    admin = create_engine(f"postgresql+psycopg2://{PG}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
        # A throwaway database: a commit need not wait for the disk (visibility and locking are unchanged).
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    url = f"postgresql+psycopg2://{PG}/{name}"
    try:
        migrate(url)
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def worker_redis_url(base: str, worker: int) -> str:
    """`base` with its database number moved up by `worker` (Redis has databases 0-15 unless configured)."""
    parts = urlsplit(base)
    db = int(parts.path.strip("/") or 0) + worker
    if db > 15:
        raise pytest.UsageError(f"TEST_REDIS_URL {base}: worker {worker} would need Redis database {db}; "
                                "use a lower base database or fewer xdist workers")
    return urlunsplit(parts._replace(path=f"/{db}"))


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = worker_redis_url(os.environ.get("TEST_REDIS_URL") or DEFAULT_REDIS_URL, worker_number())
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


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


@pytest.fixture(scope="session")
def shared_settings(database_url: str, redis_url: str, graph: GraphServer, twilio_server: TwilioServer,
                    sendgrid_server: SendGridServer, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """The settings of this run (and of the shared `app`)."""
    return Settings.from_env({
        "DATABASE_URL": database_url, "REDIS_URL": redis_url, "SECRET_KEY": "test-secret-of-at-least-32-characters",
        "WHATSAPP_GRAPH_BASE_URL": graph.url, "DATA_DIR": str(tmp_path_factory.mktemp("data")),
        "HTTP_READ_TIMEOUT": "2", "TWILIO_API_BASE_URL": twilio_server.url,
        "SENDGRID_API_BASE_URL": sendgrid_server.url, "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "SOCKETIO_CHANNEL": f"flask-socketio-{uuid.uuid4().hex[:8]}",
    })


@pytest.fixture
def settings(shared_settings: Settings) -> Settings:
    """The run's settings, the ones `app` was built with (`settings.with_(...)` for a test's own variant)."""
    return shared_settings


@pytest.fixture(scope="session")
def engine(database_url: str) -> Iterator[Any]:
    eng = make_engine(Settings.from_env({"DATABASE_URL": database_url, "SECRET_KEY": "x" * 32}))
    yield eng
    eng.dispose()


@cache
def _sequences(url: str) -> str:
    """One statement restarting every sequence of the database at `url` (as TRUNCATE ... RESTART IDENTITY)."""
    eng = create_engine(url)
    with eng.connect() as conn:
        names = conn.execute(text("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename) "
                                  "FROM pg_sequences")).scalars().all()
    eng.dispose()
    return "SELECT " + ", ".join(f"setval('{name}', 1, false)" for name in names) if names else "SELECT 1"


def restart_sequences(conn: Connection) -> None:
    conn.execute(text(_sequences(conn.engine.url.render_as_string(hide_password=False))))


def truncate_all(engine: Any) -> None:
    """Empty every table and restart the ids. DELETE, children first: on tables this small it costs a few ms,
    where TRUNCATE (new files for every table and index) cost about a second per test on this box."""
    with engine.begin() as conn:
        for table in reversed(models.Base.metadata.sorted_tables):
            conn.execute(table.delete())
        restart_sequences(conn)


def wait_for_outbox_markers() -> None:
    """Let marking threads of apps a test built itself finish (each ends within its interval once idle), so
    none marks a row of the next test."""
    for thread in threading.enumerate():
        if thread.name == "outbox-marks":
            for _ in range(1000):
                try:
                    thread.join(timeout=5)
                    break
                except RuntimeError:  # enumerate() lists a thread still starting, which join() refuses
                    time.sleep(0.001)


_THREADED = {"threading", "multiprocessing", "concurrent", "subprocess"}
_OWN_CONNECTIONS = {"engine", "database_url"}
_COMMITTING_FIXTURES = {"app", "client", "real_stack"}
# The fixtures of this file and tests/api/conftest.py: asking for `engine` through them is not using it oneself.
_SHARED_FIXTURES = {"database_url", "redis_url", "graph", "twilio_server", "sendgrid_server", "shared_settings",
                    "settings", "engine", "_database", "bus", "sessions", "session", "tenants", "shared_app", "app",
                    "client"}


def _starts_threads_or_apps(module: ModuleType | None) -> bool:
    if module is None:
        return False
    for value in vars(module).values():
        name = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None) or ""
        if name.split(".")[0] in _THREADED or getattr(value, "__name__", "") == "create_app":
            return True
    return False


def needs_commits(item: pytest.Item) -> bool:
    """Whether `item`'s work must really commit (see the module docstring for the rules)."""
    if item.get_closest_marker("commits") or item.get_closest_marker("e2e"):
        return True
    if {"e2e", "faults"} & set(Path(str(item.path)).resolve().parts[-3:-1]):
        return True
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    if _COMMITTING_FIXTURES & set(info.names_closure):
        return True
    if _OWN_CONNECTIONS & set(info.argnames):
        return True
    for name, defs in info.name2fixturedefs.items():
        if name not in _SHARED_FIXTURES and any(_OWN_CONNECTIONS & set(d.argnames) for d in defs):
            return True
    return _starts_threads_or_apps(getattr(item, "module", None))


@dataclass
class TestDatabase:
    """This test's way into the database: a connection inside a transaction, or the engine (real commits)."""

    bind: Connection | Engine
    commits: bool


@pytest.fixture
def _database(engine: Any, request: pytest.FixtureRequest) -> Iterator[TestDatabase]:
    if needs_commits(request.node):
        yield TestDatabase(engine, commits=True)
        if "shared_app" in request.fixturenames:
            request.getfixturevalue("shared_app").extensions["atendimento.system"].settle()
        wait_for_outbox_markers()
        truncate_all(engine)
    else:
        conn = engine.connect()
        outer = conn.begin()
        restart_sequences(conn)
        yield TestDatabase(conn, commits=False)
        outer.rollback()
        conn.close()
    if "redis_url" in request.fixturenames:
        redis.Redis.from_url(request.getfixturevalue("redis_url")).flushdb()


@pytest.fixture
def bus() -> RecordingBus:
    return RecordingBus()


_ONE_THREAD = ("this test's sessions share one connection inside its transaction, so they work only in the "
               "test's own thread: mark the test @pytest.mark.commits to give it real commits and its own "
               "connections (tests/conftest.py explains the two modes)")


@pytest.fixture
def sessions(_database: TestDatabase, bus: RecordingBus) -> sessionmaker[Session]:
    """Sessions on the test database whose tasks and events are recorded, not sent. Nothing of a test stays."""
    factory = make_session_factory(_database.bind, bus)  # type: ignore[arg-type]  # an Engine or a Connection
    if not _database.commits:
        owner = threading.get_ident()

        class OneThreadSession(Session):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                if threading.get_ident() != owner:
                    raise RuntimeError(_ONE_THREAD)
                super().__init__(*args, **kwargs)

        factory.class_ = OneThreadSession
        factory.configure(join_transaction_mode="create_savepoint")
    return factory


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


@cache
def _password_hashes() -> dict[str, str]:
    # Hashing is slow on purpose (scrypt, ~0.1 s each): once per run, not four times per test.
    return {u["email"]: generate_password_hash(u["password"]) for t in TENANTS["tenants"] for u in t["users"]}


def provision_tenants(session: Session) -> None:
    """`provision(session, TENANTS)`, with the users' password hashes computed once per run: the users are
    created first with their hash, and provisioning an existing user without a password keeps it."""
    hashes = _password_hashes()
    for t in TENANTS["tenants"]:
        tenant = models.Tenant(slug=t["slug"], name=t["name"])
        session.add(tenant)
        session.flush()
        for u in t["users"]:
            session.add(models.User(tenant_id=tenant.id, email=u["email"], name=u["name"],
                                    password_hash=hashes[u["email"]]))
        session.flush()
    provision(session, {"tenants": [{**t, "users": [{k: v for k, v in u.items() if k != "password"}
                                                    for u in t["users"]]} for t in TENANTS["tenants"]]})


@pytest.fixture
def tenants(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Two tenants, acme and globex, each with a WhatsApp channel, a Support queue and agents (all offline)."""
    with sessions() as s, s.begin():
        provision_tenants(s)
    with sessions() as s:
        users = {u.email.split("@")[0]: u for u in s.scalars(select(models.User))}
        channels = {c.external_id: c for c in s.scalars(select(models.Channel))}
        queues = {(q.tenant_id, q.name): q for q in s.scalars(select(models.Queue))}
    return {"users": users, "channels": channels, "queues": queues}
