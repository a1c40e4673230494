"""Assignment benchmark: tickets assigned per second with two worker processes, beside a no-op Celery task on the
same broker, and the creation-to-assignment latency at a fixed rate of new tickets.

One run, one private stack (PostgreSQL cluster + Redis of its own):

1. no-op baseline (`ops/bench/noop_app.py`, queue `noop`, same worker flags): `--workers` worker processes drain
   `--noop-tasks` tasks (tasks/s), then one task at a time (round trip p50/p99: publish -> task ran).
2. drain: `--backlog` tickets wait in the queue (created by webhooks while every agent is offline); the agents go
   online at once (each `PUT /api/me/status` asks for assignment); tickets/s until all are assigned.
3. steady state: `--rate` new tickets/s (webhooks from distinct senders) for `--duration` s with `--agents` agents
   online: latency from the webhook POST to the `ticket.assigned` event at a supervisor's socket, and from
   tickets.created_at to assigned_at (both p50/p99). Target p99 < 250 ms.

    .venv/bin/python -m ops.bench.assignment --rate 100 --duration 30
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import sys
import time

from ops.bench import loadgen, sampling
from ops.bench import tenants as tn
from ops.bench.loadgen import ms, pct, ratio
from tests.harness import agents as harness_agents
from tests.harness import processes as procs
from tests.harness import sockets, stack
from tests.harness.stack import log


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=2, help="worker processes (each `celery worker --concurrency N`)")
    ap.add_argument("--concurrency", type=int, default=1)
    ap.add_argument("--agents", type=int, default=20)
    ap.add_argument("--noop-tasks", type=int, default=2000)
    ap.add_argument("--round-trips", type=int, default=300)
    ap.add_argument("--backlog", type=int, default=1000, help="tickets waiting before the agents go online")
    ap.add_argument("--rate", type=float, default=100, help="new tickets per second in the steady phase")
    ap.add_argument("--duration", type=float, default=30, help="seconds of the steady phase")
    ap.add_argument("--api-threads", type=int, default=15, help="gunicorn --threads (see RESULTS.md: > 15 can "
                    "exhaust the default SQLAlchemy pool)")
    ap.add_argument("--profile", action="store_true", help="py-spy a worker and the API during the steady phase")
    args = ap.parse_args()
    loadgen.install_deadline(args.duration * 4 + 900)

    st = stack.Stack("assignment")
    listener = None
    try:
        st.start_services()
        st.migrate()
        tenants, doc = tn.make_tenants(1, args.agents, 100000, st.run_id)
        st.provision(doc)
        tenant = tenants[0]
        db = st.db
        assert db is not None and st.redis is not None
        import redis

        r = redis.Redis.from_url(st.redis.url)

        # 1. no-op baseline on the same broker
        noops = [st.start_worker(f"noop{k}", args.concurrency, app="ops.bench.noop_app", extra=["-Q", "noop"])
                 for k in range(args.workers)]
        for w in noops:
            st.worker_ready(w)
        import os

        os.environ["REDIS_URL"] = st.redis.url
        from ops.bench import noop_app

        noop_app.app.conf.broker_url = st.redis.url
        # warm up
        for _ in range(50):
            noop_app.noop.delay("warm", time.time())
        procs.wait_until(lambda: r.llen("noop:warm") >= 50, 60, "warm-up no-ops", ignore=(Exception,))
        t0 = time.monotonic()
        with noop_app.app.producer_or_acquire() as producer:
            for _ in range(args.noop_tasks):
                noop_app.noop.apply_async(("bulk", time.time()), producer=producer)
        procs.wait_until(lambda: r.llen("noop:bulk") >= args.noop_tasks, 300, "bulk no-ops", interval=0.02,
                         ignore=(Exception,))
        noop_rate = args.noop_tasks / (time.monotonic() - t0)
        rtts = []
        for i in range(args.round_trips):
            tag = f"rt{i}"
            start = time.monotonic()
            noop_app.noop.delay(tag, time.time())
            r.blpop([f"noop:{tag}"], timeout=10)
            rtts.append(time.monotonic() - start)
        log(f"no-op: {noop_rate:.0f} tasks/s; round trip p50 {ms(pct(rtts, 50))} "
               f"p99 {ms(pct(rtts, 99))}")
        for w in noops:
            w.stop()

        # the app: API + workers
        base = st.start_api("api", threads=args.api_threads)
        st.wait_http(base)
        workers = [st.start_worker(f"worker{k}", args.concurrency) for k in range(args.workers)]
        for w in workers:
            st.worker_ready(w)
        api = st.apis["api"][0]
        log(f"logging in {len(tenant.agents)} agents (offline) and the supervisor")
        with cf.ThreadPoolExecutor(4) as pool:
            tokens = list(pool.map(lambda a: harness_agents.login(base, tenant.slug, a[0], a[1], online=False),
                                   tenant.agents))
        sup_token = harness_agents.login(base, tenant.slug, *tenant.supervisor, online=False)
        listener = sockets.Listener(base, sup_token, names=["ticket.assigned"], transports=["websocket"],
                                    reconnection=True, wait_timeout=20)

        # 2. drain a backlog
        senders = iter(range(10**9))
        backlog = [tn.signed(tenant, f"wamid.drain.{st.run_id}.{i}", tn.sender_number(next(senders)), f"d{i}")
                   for i in range(args.backlog)]
        shots = loadgen.open_loop([base], 150, args.backlog / 150, lambda i: backlog[i], threads=16)
        bad = sum(1 for s in shots if s.status != 200)
        procs.wait_until(lambda: db.one("SELECT count(*) FROM tickets WHERE status = 'queued'") >= args.backlog - bad,
                    300, "backlog tickets queued", interval=0.3, ignore=(Exception,))
        procs.wait_until(lambda: db.one("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL") == 0, 120,
                    "inbox drained", interval=0.3, ignore=(Exception,))
        waiting = db.one("SELECT count(*) FROM tickets WHERE status = 'queued'")
        log(f"{waiting} tickets waiting; agents going online")
        cpu_groups = lambda: {"api": procs.tree(api.pid), "postgres": procs.tree(st.pg.postmaster_pid() or 0),  # noqa: E731
                              "redis": [st.redis.child.pid], **{w.name: procs.tree(w.pid) for w in workers}}
        cpu = sampling.CpuSampler(cpu_groups)
        cpu.start()
        t_online = time.time()
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(len(tokens)) as pool:
            list(pool.map(lambda tok: harness_agents.Api(base, tok).call("PUT", "/api/me/status",
                                                                         {"status": "online"}), tokens))
        procs.wait_until(lambda: db.one("SELECT count(*) FROM tickets WHERE status = 'queued'") == 0, 300,
                    "backlog assigned", interval=0.05, ignore=(Exception,))
        drain = time.monotonic() - t0
        drain_cpu = cpu.stop()
        first, last = db.rows("SELECT extract(epoch FROM min(assigned_at)), extract(epoch FROM max(assigned_at)) "
                              "FROM tickets")[0]
        drain_rate = waiting / drain
        log(f"drain: {waiting} tickets in {drain:.2f} s = {drain_rate:.0f} tickets/s (first assignment "
               f"{float(first) - t_online:.2f} s after the first PUT, last-first {float(last) - float(first):.2f} s)")
        log(sampling.format_cpu(drain_cpu))

        # 3. steady state: new tickets at a fixed rate
        listener.clear()
        t_steady = time.time()
        steady = [tn.signed(tenant, f"wamid.steady.{st.run_id}.{i}", tn.sender_number(next(senders)), f"s{i}")
                  for i in range(int(args.rate * args.duration) + 5)]
        phone_of = {i: tn.sender_number(args.backlog + i) for i in range(len(steady))}
        cpu = sampling.CpuSampler(cpu_groups)
        cpu.start()
        profiles: list[str] = []
        if args.profile:
            import threading

            targets = [(procs.proc_children(workers[0].pid)[0], "worker0-child"),
                       (procs.proc_children(api.pid)[0], "api")]
            spies = [threading.Thread(target=lambda p=p, n=n: profiles.append(
                sampling.profile(p, max(5, args.duration - 5), st.logdir, n)), daemon=True) for p, n in targets]
            for t in spies:
                t.start()
        shots = loadgen.open_loop([base], args.rate, args.duration, lambda i: steady[i], threads=32)
        steady_cpu = cpu.stop()
        intake = loadgen.summarize_shots(shots)
        expected = sum(1 for s in shots if s.status == 200)
        procs.wait_until(lambda: db.one("SELECT count(*) FROM tickets WHERE assigned_at IS NOT NULL AND "
                                   "created_at >= to_timestamp(%s)", (t_steady,)) >= expected, 120,
                    "steady tickets assigned", interval=0.2, ignore=(Exception,))
        time.sleep(1)  # the last socket events
        sent_at = {phone_of[s.index]: s.wall for s in shots if s.status == 200}
        seen: dict[str, float] = {}
        for _name, env, at in list(listener.arrivals):
            phone = env["data"].get("contact_phone")
            if phone in sent_at and phone not in seen:
                seen[phone] = at
        e2e = [seen[p] - sent_at[p] for p in seen]
        rows = db.rows("SELECT extract(epoch FROM assigned_at - created_at) FROM tickets WHERE "
                       "created_at >= to_timestamp(%s) AND assigned_at IS NOT NULL", (t_steady,))
        dbl = [float(x[0]) for x in rows]
        span = db.rows("SELECT extract(epoch FROM max(assigned_at) - min(created_at)) FROM tickets WHERE "
                       "created_at >= to_timestamp(%s)", (t_steady,))[0][0]
        steady_rate = len(dbl) / float(span) if span else float("nan")

        print(f"\n=== assignment ({args.workers} worker processes x concurrency {args.concurrency}, one tenant, "
              f"one queue, {args.agents} agents; private PostgreSQL + Redis; app {st.commit}) ===")
        print(f"no-op Celery task, same broker: {noop_rate:8.0f} tasks/s   round trip p50 "
              f"{ms(pct(rtts, 50))} p99 {ms(pct(rtts, 99))}")
        print(f"drain of {waiting} waiting tickets:   {drain_rate:8.0f} tickets/s ({drain:.2f} s; batches of up to 100 "
              f"per assign_queue task)   ratio to no-op tasks/s: {ratio(drain_rate, noop_rate)}")
        print(f"steady {args.rate:.0f} new tickets/s for {args.duration:.0f} s: {len(dbl)} tickets assigned at "
              f"{steady_rate:.0f}/s (each: 1 webhook + 1 triage task + 1 assign_queue task)")
        print(f"  webhook POST -> ticket.assigned at the supervisor socket: p50 {ms(pct(e2e, 50))} "
              f"p99 {ms(pct(e2e, 99))} max {ms(max(e2e) if e2e else float('nan'))} "
              f"({len(e2e)}/{expected} seen)   (target p99 < 250 ms)")
        print(f"  tickets.created_at -> assigned_at:                 p50 {ms(pct(dbl, 50))} "
              f"p99 {ms(pct(dbl, 99))} max {ms(max(dbl) if dbl else float('nan'))}")
        print(f"  p99 vs no-op round trip p99: {ratio(pct(e2e, 99), pct(rtts, 99))} (socket), "
              f"{ratio(pct(dbl, 99), pct(rtts, 99))} (DB)")
        print(f"  webhook intake during it: {intake['ok']}/{intake['sent']} ok, p50 {ms(intake['p50'])} "
              f"p99 {ms(intake['p99'])}")
        print(f"  {sampling.format_cpu(steady_cpu)}")
        print(f"drain phase {sampling.format_cpu(drain_cpu)}")
        for text in profiles:
            print(text)
        return 0
    finally:
        if listener is not None:
            listener.close()
        st.close()


if __name__ == "__main__":
    sys.exit(main())
