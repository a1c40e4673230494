"""Cost of the access check per request: a user's access token against an API key, through `login_required`,
in-process, on a throwaway PostgreSQL database (no HTTP, no rate limiter).

Each call runs in its own request context with its own database session, as a request would, and checks
`GET /api/tickets`. Calls alternate between the two kinds so both see the same machine load. The key's
last-used time is recorded once a minute, so a run of a few seconds includes that UPDATE about once.

    .venv/bin/python -m ops.bench.auth_check --calls 3000

PostgreSQL is the machine's (PGUSER / PGHOST / PGPORT, defaults postgres@127.0.0.1:5432, as for the tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import uuid

from sqlalchemy import create_engine, select, text

from api import create_app
from api.auth import issue_token, login_required
from models.base import utcnow
from models.infra.config import Settings
from models.org import User
from models.services import api_keys
from models.services.accounts import provision, start_session
from tests.conftest import TENANTS, migrate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--calls", type=int, default=3000, help="checks of each kind")
    args = ap.parse_args()
    pg = f"{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:" \
         f"{os.environ.get('PGPORT', '5432')}"
    name = f"atd_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg2://{pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{pg}/{name}"
    app = None
    try:
        migrate(url)
        app = create_app(Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "x" * 32}))
        sessions = app.extensions["atendimento.sessions"]
        with sessions() as s, s.begin():
            provision(s, TENANTS)
        with sessions() as s, s.begin():
            user = s.scalars(select(User).where(User.email == "carla@acme.example")).one()
            family = start_session(s, user, user.password_hash, utcnow(), 3600)
            _key, key_token = api_keys.create_key(s, user, "bench", ["tickets:read"], utcnow())
        user_token = issue_token(app.extensions["atendimento.settings"], user, "access", family)
        check = login_required()(lambda: None)
        timings: dict[str, list[float]] = {"user token": [], "api key": []}
        for i in range(args.calls * 2):
            kind = "user token" if i % 2 == 0 else "api key"
            headers = {"Authorization": f"Bearer {user_token if kind == 'user token' else key_token}"}
            with app.test_request_context("/api/tickets", headers=headers):
                start = time.perf_counter()
                check()
                timings[kind].append(time.perf_counter() - start)
        for kind, all_values in timings.items():
            values = all_values[100:]  # warm-up: pool connections, statement caches
            q = statistics.quantiles(values, n=100)
            print(f"{kind:>10}: p50 {statistics.median(values) * 1000:.3f} ms, p90 {q[89] * 1000:.3f} ms, "
                  f"p99 {q[98] * 1000:.3f} ms over {len(values)} checks")
        return 0
    finally:
        if app is not None:
            app.extensions["atendimento.system"].close()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
