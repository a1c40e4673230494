"""Cost of one customer message in the database layer: statements and CPU for intake (store the webhook event)
and triage (turn it into a message on its ticket), in-process, on a throwaway PostgreSQL database.

No HTTP, no broker, no Socket.IO: the session factory records tasks and events instead of sending them, so what is
measured is the domain code and SQLAlchemy. The baseline, measured in the same run on the same connection pool, is
a transaction running one `SELECT 1`; CPU figures are printed as multiples of it.

    .venv/bin/python -m ops.bench.triage_cost --messages 500

PostgreSQL is the machine's (PGUSER / PGHOST / PGPORT, defaults postgres@127.0.0.1:5432, as for the tests).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections import Counter
from typing import Any

from sqlalchemy import create_engine, event, select, text

from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.infra.outbox import Marker, attach_marker
from models.org import AgentStatus, User
from models.services import assignment, triage
from models.services.accounts import provision
from tests.conftest import TENANTS, migrate
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import store


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=500, help="customers; each sends a first and a second message")
    ap.add_argument("--show", action="store_true", help="also list each step's statements (per message)")
    ap.add_argument("--online", action="store_true",
                    help="the tenant's agents online with room for every ticket, so first messages get assigned")
    args = ap.parse_args()
    pg = f"{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:" \
         f"{os.environ.get('PGPORT', '5432')}"
    name = f"atd_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg2://{pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{pg}/{name}"
    engine = marker = None
    try:
        migrate(url)
        engine = make_engine(Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "x" * 32}))
        statements: Counter[str] = Counter()
        shapes: Counter[tuple[str, str]] = Counter()
        phase = ["setup"]

        @event.listens_for(engine, "before_cursor_execute")
        def _count(_c: Any, _cur: Any, stmt: str, _p: Any, _ctx: Any, _many: bool) -> None:
            if not stmt.startswith("UPDATE outbox_tasks SET dispatched_at"):  # the batching marker's thread
                statements[phase[0]] += 1
                shapes[phase[0], " ".join(stmt.split())[:110]] += 1

        bus = RecordingBus()
        sessions = make_session_factory(engine, bus)
        marker = Marker(engine)  # as the API and workers mark: batched, from a thread (models.infra.wiring)
        attach_marker(sessions, marker)
        with sessions() as s, s.begin():
            provision(s, TENANTS)
            if args.online:
                for user in s.scalars(select(User)):
                    user.status, user.max_tickets = AgentStatus.ONLINE, 10 * args.messages

        def intake(prefix: str) -> None:
            for i in range(args.messages):
                store(sessions, text_delivery(f"wamid.{prefix}.{i}", sender=f"5511987{i:06d}"))

        def work() -> None:
            while bus.tasks:
                task, task_args = bus.tasks.pop(0)
                with sessions() as s, s.begin():
                    if task == "triage.process_event":
                        triage.process_event(s, task_args[0], utcnow())
                    elif task == "assignment.assign_queue":
                        assignment.assign_queue(s, task_args[0], utcnow())
            bus.events.clear()

        def measure(label: str, fn: Any) -> float:
            phase[0] = label
            start = time.process_time()
            fn()
            return (time.process_time() - start) / args.messages

        def baseline() -> None:
            for _ in range(args.messages):
                with sessions() as s, s.begin():
                    s.execute(text("SELECT 1"))

        measure("warm-up", baseline)
        base = measure("baseline", baseline)
        first_in, first_triage = measure("first intake", lambda: intake("a")), measure("first triage", work)
        next_in, next_triage = measure("next intake", lambda: intake("b")), measure("next triage", work)
        print(f"=== cost of one message, {args.messages} customers x 2 messages, database layer only ===")
        print(f"baseline: one-statement transaction  {base * 1000:6.3f} ms CPU  (1 statement)")
        for label, cpu in (("first intake", first_in), ("first triage", first_triage), ("next intake", next_in),
                           ("next triage", next_triage)):
            print(f"{label:13s}: {cpu * 1000:6.3f} ms CPU = {cpu / base:5.1f} x baseline, "
                  f"{statements[label] / args.messages:5.2f} statements")
        if args.show:
            for label in ("first intake", "first triage", "next intake", "next triage"):
                print(f"--- {label}")
                for (step, shape), n in sorted(shapes.items(), key=lambda kv: -kv[1]):
                    if step == label:
                        print(f"  {n / args.messages:5.2f}  {shape}")
        print("(first: opens the ticket, routes it and asks for assignment; next: a message on that open ticket. "
              "Outbox dispatch marks are batched by a thread and not counted.)")
    finally:
        if marker is not None:
            marker.stop()
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
