"""A month's responses report on a tenant with 1 million tickets, beside a plain indexed count of the same rows.

Builds a throwaway PostgreSQL database, migrates it, provisions the test tenants and generates, with
INSERT ... SELECT generate_series, N resolved tickets of acme spread evenly over DAYS days, each with its facts
as the services write them (a first response, a resolution, and a next response on every other ticket) and a
label on every third. Then, alternating, it times `models.services.reports.responses` over the busiest month
(the code the API runs: one grouped SQL statement with percentile_cont, plus the group names) and
`SELECT count(*)` of the facts that ended in that month (the same index, nothing computed): p50 and p99 of each
and their ratio. Every statement has a time limit, and the database is dropped at the end.

    .venv/bin/python -m ops.bench.reports --tickets 1000000 --days 360 --runs 15

PostgreSQL is the machine's (PGUSER / PGHOST / PGPORT, defaults postgres@127.0.0.1:5432, as for the tests).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, text

from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.services.accounts import provision
from models.services.reports import Filters, responses
from tests.conftest import TENANTS, migrate

T0 = datetime(2025, 1, 1, tzinfo=UTC)

# One statement per table; :n tickets, :span seconds between openings. Times are spread by primes so the
# durations look like a distribution rather than a ramp.
GENERATE = [
    """INSERT INTO contacts (tenant_id, phone, attributes, created_at)
       SELECT :tenant, '5511' || lpad(g::text, 9, '0'), '{}', :t0 FROM generate_series(1, 10000) g""",
    """INSERT INTO tickets (tenant_id, contact_id, channel_id, queue_id, agent_id, status, priority, required_skills,
                           triage_state, created_at, updated_at, resolved_at)
       SELECT :tenant, :contact0 + g % 10000, :channel, CASE WHEN g % 3 = 0 THEN :sales ELSE :support END,
              CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN :bruno ELSE :ana END, 'resolved', 0, '[]', '{}',
              :t0 + g * :span * interval '1 second', :t0 + g * :span * interval '1 second',
              :t0 + (g * :span + 3600 + (g * 104729) % 86400) * interval '1 second'
       FROM generate_series(1::bigint, :n) g""",
    """INSERT INTO response_facts (tenant_id, ticket_id, cycle, kind, started_at, ended_at, wall_seconds,
                                  business_seconds, channel_id, queue_id, agent_id)
       SELECT t.tenant_id, t.id, 1, k.kind, s.started, s.started + s.wall * interval '1 second', s.wall,
              s.wall * 0.6, t.channel_id, t.queue_id, t.agent_id
       FROM tickets t
       CROSS JOIN LATERAL (VALUES ('first_response'), ('next_response'), ('resolution')) k(kind)
       CROSS JOIN LATERAL (SELECT CASE k.kind
                   WHEN 'first_response' THEN t.created_at + interval '60 seconds'
                   WHEN 'next_response' THEN t.created_at + interval '1800 seconds'
                   ELSE t.created_at END AS started,
               CASE k.kind WHEN 'first_response' THEN ((t.id * 7919) % 3600)::float8
                   WHEN 'next_response' THEN ((t.id * 7907) % 1500)::float8
                   ELSE extract(epoch FROM t.resolved_at - t.created_at) END AS wall) s
       WHERE t.tenant_id = :tenant AND (k.kind <> 'next_response' OR t.id % 2 = 0)""",
    """INSERT INTO ticket_labels (tenant_id, ticket_id, label_id, created_at)
       SELECT t.tenant_id, t.id, (:labels)[1 + t.id % 4], t.created_at FROM tickets t
       WHERE t.tenant_id = :tenant AND t.id % 3 = 0""",
]


def _ms(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tickets", type=int, default=1_000_000)
    ap.add_argument("--days", type=int, default=360, help="the tickets' openings are spread over this many days")
    ap.add_argument("--runs", type=int, default=15, help="timed runs of each query (after one warm-up)")
    ap.add_argument("--group", default="agent", choices=("none", "agent", "queue", "channel", "label"))
    ap.add_argument("--bucket", default="day", choices=("none", "day", "hour"))
    ap.add_argument("--keep", action="store_true", help="leave the database for EXPLAIN (its name is printed)")
    args = ap.parse_args()
    pg = f"{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:" \
         f"{os.environ.get('PGPORT', '5432')}"
    name = f"atd_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg2://{pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{pg}/{name}"
    engine = None
    try:
        migrate(url)
        engine = make_engine(Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "x" * 32}))
        sessions = make_session_factory(engine, RecordingBus())
        with sessions() as s, s.begin():
            provision(s, TENANTS)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL statement_timeout = '600s'"))
            ids = dict(conn.execute(text(
                "SELECT 'tenant', id FROM tenants WHERE slug = 'acme' UNION ALL "
                "SELECT 'channel', c.id FROM channels c JOIN tenants t ON t.id = c.tenant_id "
                "  WHERE t.slug = 'acme' AND c.kind = 'whatsapp' UNION ALL "
                "SELECT lower(q.name), q.id FROM queues q JOIN tenants t ON t.id = q.tenant_id WHERE t.slug = 'acme' "
                "UNION ALL SELECT split_part(email, '@', 1), id FROM users WHERE email IN "
                "('ana@acme.example', 'bruno@acme.example')")).tuples().all())
            labels = [conn.execute(text("INSERT INTO labels (tenant_id, name, color, created_at) "
                                        "VALUES (:t, :n, '#6b7280', :at) RETURNING id"),
                                   {"t": ids["tenant"], "n": f"label-{i}", "at": T0}).scalar_one() for i in range(4)]
            span = args.days * 86400 / args.tickets
            params: dict[str, Any] = {**ids, "t0": T0, "n": args.tickets, "span": span, "labels": labels}
            started = time.perf_counter()
            for i, sql in enumerate(GENERATE):
                if i == 1:
                    params["contact0"] = conn.execute(text("SELECT min(id) FROM contacts WHERE phone LIKE "
                                                           "'5511_________'")).scalar_one()
                conn.execute(text(sql), params)
            generated = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
            facts = conn.execute(text("SELECT count(*) FROM response_facts")).scalar_one()
        # The busiest month: the 30 days in the middle of the spread.
        start = T0 + timedelta(days=args.days // 2 - 15)
        end = start + timedelta(days=30)
        filters = Filters(ids["tenant"], start, end, group=args.group, bucket=args.bucket)
        count_sql = text("SELECT count(*) FROM response_facts WHERE tenant_id = :t AND ended_at >= :s "
                         "AND ended_at < :e")
        report_t: list[float] = []
        count_t: list[float] = []
        rows = counted = 0
        for run in range(args.runs + 1):
            with sessions() as s:
                s.execute(text("SET statement_timeout = '120s'"))
                t = time.perf_counter()
                rows = len(responses(s, filters))
                elapsed = time.perf_counter() - t
                if run:
                    report_t.append(elapsed)
                t = time.perf_counter()
                counted = s.execute(count_sql, {"t": ids["tenant"], "s": start, "e": end}).scalar_one()
                elapsed = time.perf_counter() - t
                if run:
                    count_t.append(elapsed)
        with engine.connect() as conn:
            plan = "\n".join(r[0] for r in conn.execute(text(
                "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) SELECT count(*) FROM response_facts WHERE tenant_id = :t "
                "AND ended_at >= :s AND ended_at < :e"), {"t": ids["tenant"], "s": start, "e": end}))
        print(f"tickets {args.tickets}, facts {facts}, generated in {generated:.1f} s; "
              f"month {start:%Y-%m-%d}..{end:%Y-%m-%d}: {counted} facts, {rows} report rows "
              f"(group={args.group}, bucket={args.bucket}); load: {os.getloadavg()[0]:.2f}")
        rp50, rp99, cp50, cp99 = _ms(report_t, 0.5), _ms(report_t, 0.99), _ms(count_t, 0.5), _ms(count_t, 0.99)
        print(f"report   p50 {rp50:8.1f} ms  p99 {rp99:8.1f} ms  (mean {statistics.mean(report_t) * 1000:.1f})")
        print(f"count    p50 {cp50:8.1f} ms  p99 {cp99:8.1f} ms  (mean {statistics.mean(count_t) * 1000:.1f})")
        print(f"ratio    p50 {rp50 / cp50:8.1f} x   p99 {rp99 / cp99:8.1f} x")
        print("count plan:\n" + plan)
    finally:
        if engine is not None:
            engine.dispose()
        if args.keep:
            print(f"kept database {name}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
