"""Fault campaign: inject one fault (or each in turn) into a private stack under steady load, then check the ledger.

The stack: a private PostgreSQL cluster and a private Redis (never the machine's own), the API (gunicorn), two
Celery workers, beat, and a local Graph API server in this process. The load: `--rate` new customers a second, each
sending one WhatsApp message (a provider that re-sends whatever is answered 5xx or not answered, with backoff), and
one agent who answers every ticket through the API and resolves it, so replies flow out through the Graph server.

Faults (`--fault`, or `all`, each on a fresh stack):
  kill-worker     SIGKILL a worker's whole process group while it is calling the Graph API; start a new one
  restart-redis   stop the private Redis (no persistence: what it held is gone) for `--redis-down` s, start it again
  stop-postgres   stop the private PostgreSQL cluster for `--pg-down` s (10), start it again
  provider-500    the Graph server answers 500 to every send for `--provider-down` s (30)
  restart-redis-backlog (not in `all`)  like restart-redis, but Graph calls take 1 s for 10 s first, so tasks are
                  waiting in the broker when Redis loses them

Each ends with a ledger: deliveries sent / accepted / refused and re-sent; messages stored; tickets created and
assigned; replies requested (202) and delivered (received by the Graph server; duplicates counted per customer);
lost and duplicated; and how long after recovery everything that entered before it was done (target 60 s).

    $(bash ops/bench/tools.sh) -m ops.faults.campaign --fault all
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from typing import Any

from ops.bench import loadgen
from ops.bench import tenants as tn
from ops.bench.loadgen import ms, pct
from ops.faults import lib
from tests.harness import processes as procs
from tests.harness import stack
from tests.harness.agents import Agent
from tests.harness.providers import FlakyGraph
from tests.harness.stack import log

FAULTS = ("kill-worker", "restart-redis", "stop-postgres", "provider-500")
EXTRA = ("restart-redis-backlog",)  # not in `all`: Redis restarted while tasks wait in it


def run_fault(fault: str, args: argparse.Namespace) -> dict[str, Any]:
    graph = FlakyGraph(delay=args.graph_delay)
    extra_env = {"HTTP_READ_TIMEOUT": "5"}
    if args.visibility_timeout:
        extra_env["CELERY_VISIBILITY_TIMEOUT"] = str(args.visibility_timeout)
    st = stack.Stack(f"fault-{fault}", extra_env=extra_env)
    provider = agent = None
    try:
        st.start_services(graph_url=graph.url)
        st.migrate()
        tenants, doc = tn.make_tenants(1, 1, 1_000_000, st.run_id)
        st.provision(doc)
        tenant = tenants[0]
        db = st.db
        assert db is not None and st.pg is not None and st.redis is not None
        base = st.start_api("api", threads=args.api_threads)
        # The Graph server reports each accepted send to the API, echoing our reference as Meta does.
        graph.callback_url, graph.app_secret = base, tenant.app_secret
        workers = [st.start_worker(f"worker{k}", 1) for k in range(2)]
        st.start_beat()
        st.wait_http(base)
        for w in workers:
            st.worker_ready(w)
        agent = Agent(base, tenant.slug, *tenant.agents[0])
        agent.start()
        provider = lib.Provider(base, tenant, args.rate, st.run_id)
        provider.start()
        log(f"{fault}: steady load {args.rate}/s for {args.before:.0f} s before the fault")
        time.sleep(args.before)

        # the fault
        t_fault = time.time()
        note = ""
        if fault == "kill-worker":
            graph.delay = 1.0  # sends take a second now, so the kill lands inside a provider call
            deadline = time.monotonic() + 20
            victim = None
            while time.monotonic() < deadline and victim is None:
                if graph.inflight > 0:
                    for w in workers:
                        if lib.graph_connections(procs.tree(w.pid), int(graph.url.rsplit(":", 1)[1])):
                            victim = w
                            break
                time.sleep(0.005)
            mid_send = victim is not None
            victim = victim or workers[0]
            pids = procs.tree(victim.pid)
            victim.kill()
            graph.delay = args.graph_delay
            note = (f"SIGKILL {victim.name} (pids {pids}) "
                    f"{'while it was calling the Graph API' if mid_send else '(no send in flight was caught)'}")
            log(note)
            victim.start()  # the same command again
            st.worker_ready(victim)
        elif fault in ("restart-redis", "restart-redis-backlog"):
            waiting = 0
            if fault == "restart-redis-backlog":
                import redis

                graph.delay = 1.0
                time.sleep(10)
                waiting = redis.Redis.from_url(st.redis.url).llen("celery")
                graph.delay = args.graph_delay
                log(f"{waiting} tasks waiting in the broker when Redis stops")
                t_fault = time.time()
            st.redis.stop()
            time.sleep(args.redis_down)
            st.redis.start()
            note = f"Redis stopped for {args.redis_down:.0f} s (no persistence: broker queue and unacked tasks gone)"
            if fault == "restart-redis-backlog":
                note += f"; {waiting} tasks were waiting in it"
        elif fault == "stop-postgres":
            st.pg.stop("fast")
            time.sleep(args.pg_down)
            st.pg.start()
            note = f"PostgreSQL stopped (fast) for {args.pg_down:.0f} s"
        elif fault == "provider-500":
            graph.mode = "error"
            time.sleep(args.provider_down)
            graph.mode = "ok"
            note = f"Graph API answered 500 to every send for {args.provider_down:.0f} s ({graph.failed} calls)"
        t_recover = time.time()
        log(f"{fault}: recovered after {t_recover - t_fault:.1f} s; load goes on for {args.after:.0f} s")
        time.sleep(args.after)
        provider.stop_new.set()

        # drain: everything accepted is stored, assigned, answered, delivered
        def done_state() -> dict[str, Any]:
            accepted = [d for d in provider.deliveries if d.accepted_at is not None]
            stored = db.one("SELECT count(*) FROM messages WHERE direction = 'in'")
            tickets = db.one("SELECT count(*) FROM tickets")
            unassigned = db.one("SELECT count(*) FROM tickets WHERE assigned_at IS NULL")
            delivered = sum(1 for d in accepted if d.sender in graph.accepted)
            in_doubt = db.one("SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued'")
            return {"accepted": len(accepted), "outstanding": provider.outstanding(), "stored": stored,
                    "tickets": tickets, "unassigned": unassigned, "replied": len(agent.replied),
                    "delivered": delivered, "queued_out": in_doubt}

        t_stop = time.monotonic()
        state: dict[str, Any] = {}
        while time.monotonic() - t_stop < args.drain_timeout:
            try:
                state = done_state()
            except Exception:
                time.sleep(1)
                continue
            if (state["outstanding"] == 0 and state["stored"] == state["accepted"] == state["tickets"]
                    and state["unassigned"] == 0 and state["replied"] == state["tickets"]
                    and state["delivered"] == state["accepted"] and state["queued_out"] == 0):
                break
            time.sleep(0.5)
        settled = time.time() - t_recover  # all done, and no reply left `queued` in the database
        time.sleep(2)  # late duplicates
        agent.close()
        provider.close()
        state = done_state()

        # the ledger
        ds = provider.deliveries
        accepted = [d for d in ds if d.accepted_at is not None]
        wamids = {r[0] for r in db.rows("SELECT provider_message_id FROM messages WHERE direction = 'in'")}
        lost_in = [d.wamid for d in accepted if d.wamid not in wamids]
        dup_in = db.one("SELECT count(*) - count(DISTINCT provider_message_id) FROM messages WHERE direction='in'")
        out_rows = db.rows("SELECT status, count(*) FROM messages WHERE direction = 'out' GROUP BY status")
        in_doubt = db.one("SELECT count(*) FROM messages WHERE direction = 'out' AND status = 'queued' AND "
                          "(payload->'delivery'->'inflight') IS NOT NULL")
        interrupted = db.one("SELECT count(*) FROM messages WHERE direction = 'out' AND "
                             "(payload->'delivery'->>'interrupted') IS NOT NULL")
        by_callback = db.one("SELECT count(*) FROM messages WHERE direction = 'out' AND "
                             "(payload->'delivery'->>'settled_by_callback') IS NOT NULL")
        sends = {d.sender: graph.accepted.get(d.sender, []) for d in accepted}
        not_delivered = [s for s, v in sends.items() if not v]
        duplicated = {s: len(v) for s, v in sends.items() if len(v) > 1}
        before = [d for d in accepted if d.first_sent < t_fault - 5]  # done (or not) well before the fault
        done_at = [min(sends[d.sender]) for d in ds if d.first_sent < t_recover and sends.get(d.sender)]
        all_before_done = all(sends.get(d.sender) for d in ds if d.first_sent < t_recover)
        drain = (max(done_at) - t_recover) if done_at and all_before_done else float("nan")
        base_lat = [min(sends[d.sender]) - d.first_sent for d in before if sends.get(d.sender)]
        after = [d for d in accepted if d.first_sent >= t_recover]
        after_lat = [min(sends[d.sender]) - d.first_sent for d in after if sends.get(d.sender)]
        # where the time went, per customer: accepted -> ticket created -> assigned -> reply requested -> delivered
        trows = db.rows("SELECT c.phone, t.id, extract(epoch FROM t.created_at), extract(epoch FROM t.assigned_at) "
                        "FROM tickets t JOIN contacts c ON c.id = t.contact_id")
        tinfo = {r[0]: (int(r[1]), float(r[2]), float(r[3]) if r[3] is not None else None) for r in trows}
        phases: dict[str, list[float]] = {"intake": [], "to_ticket": [], "to_assigned": [], "to_reply": [],
                                          "to_delivered": []}
        for d in accepted:
            info = tinfo.get(d.sender)
            phases["intake"].append(d.accepted_at - d.first_sent)
            if info is None:
                continue
            tid, created, assigned = info
            phases["to_ticket"].append(created - d.accepted_at)
            if assigned is None:
                continue
            phases["to_assigned"].append(assigned - created)
            replied = agent.replied.get(tid)
            if replied is None:
                continue
            phases["to_reply"].append(replied - assigned)
            if sends.get(d.sender):
                phases["to_delivered"].append(min(sends[d.sender]) - replied)
        ledger = {
            "phases": {k: (pct(v, 50), pct(v, 99), max(v) if v else float("nan")) for k, v in phases.items()},
            "fault": fault, "commit": st.commit, "note": note, "fault_s": t_recover - t_fault,
            "sent": len(ds), "attempts": sum(d.attempts for d in ds), "accepted": len(accepted),
            "refused_5xx": sum(d.refused for d in ds), "no_answer": sum(d.conn_errors for d in ds),
            "resent_deliveries": sum(1 for d in ds if d.attempts > 1), "never_accepted": len(ds) - len(accepted),
            "stored": state["stored"], "lost_inbound": len(lost_in), "dup_inbound": dup_in,
            "tickets": state["tickets"], "assigned": state["tickets"] - state["unassigned"],
            "replies_requested": len(agent.replied), "agent_errors": dict(agent.errors),
            "out_status": {str(s): n for s, n in out_rows}, "interrupted_sends": interrupted, "in_doubt": in_doubt,
            "settled_by_callback": by_callback,
            "delivered": len(accepted) - len(not_delivered), "not_delivered": len(not_delivered),
            "duplicated": sum(n - 1 for n in duplicated.values()), "graph_500": graph.failed,
            "drain_s": drain, "settled_s": settled if state["queued_out"] == 0 else float("nan"),
            "base_p50": pct(base_lat, 50), "base_p99": pct(base_lat, 99),
            "after_p99": pct(after_lat, 99),
        }
        if not_delivered:
            sample = not_delivered[:5]
            ledger["undelivered_sample"] = db.rows(
                "SELECT c.phone, t.status, t.assigned_at IS NOT NULL, m.status, m.attempts, m.payload::text "
                "FROM contacts c JOIN tickets t ON t.contact_id = c.id LEFT JOIN messages m ON m.ticket_id = t.id "
                "AND m.direction = 'out' WHERE c.phone = ANY(%s)", (sample,))
        return ledger
    finally:
        if agent is not None:
            agent.close()
        if provider is not None:
            provider.close()
        st.close()
        graph.close()


def print_ledger(x: dict[str, Any]) -> None:
    lost = x["lost_inbound"] + x["not_delivered"] + x["never_accepted"]
    print(f"\n=== fault: {x['fault']} (app {x['commit']}) === {x['note']}")
    print(f"webhook deliveries: {x['sent']} customers, {x['attempts']} POSTs: {x['accepted']} accepted (200), "
          f"{x['refused_5xx']} refused with 5xx and {x['no_answer']} unanswered, all re-sent "
          f"({x['resent_deliveries']} deliveries needed a re-send); never accepted {x['never_accepted']}")
    print(f"messages stored {x['stored']} (lost {x['lost_inbound']}, duplicated {x['dup_inbound']}); tickets "
          f"{x['tickets']}, assigned {x['assigned']}")
    print(f"replies requested {x['replies_requested']} (agent retries: {x['agent_errors'] or 'none'}); outbound rows "
          f"by status {x['out_status']}; sends interrupted and retried {x['interrupted_sends']}, interrupted and "
          f"settled by the provider's callback {x['settled_by_callback']}; still queued with "
          f"an attempt in flight (its task waits in Redis for the visibility timeout) {x['in_doubt']}")
    print(f"replies delivered to the Graph server: {x['delivered']} of {x['accepted']} (missing {x['not_delivered']},"
          f" duplicated {x['duplicated']}); Graph 500s served {x['graph_500']}")
    print(f"LEDGER lost={lost} duplicated={x['duplicated'] + x['dup_inbound']}   (target 0 / 0)")
    drain = x["drain_s"]
    print(f"drain: everything that entered before recovery was answered {ms(drain) if drain == drain else 'NOT'}"
          f" after recovery (target 60 s); database settled (no reply left queued) "
          f"{ms(x['settled_s']) if x['settled_s'] == x['settled_s'] else 'NOT within the drain timeout'}")
    print(f"pipeline latency (POST -> reply at Graph) of customers who wrote 5+ s before the fault: p50 "
          f"{ms(x['base_p50'])} p99 {ms(x['base_p99'])}, after recovery p99 {ms(x['after_p99'])}")
    print("  where the time went (all customers, the fault included; p50 / p99 / max): " + "; ".join(
        f"{k} {ms(a)} / {ms(b)} / {ms(c)}" for k, (a, b, c) in x["phases"].items()))
    if x.get("undelivered_sample"):
        print("  undelivered sample (phone, ticket status, assigned, reply status, attempts, payload):")
        for row in x["undelivered_sample"]:
            print(f"    {row}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fault", choices=(*FAULTS, *EXTRA, "all"), default="all")
    ap.add_argument("--rate", type=float, default=8, help="new customers (deliveries) per second")
    ap.add_argument("--before", type=float, default=15, help="seconds of load before the fault")
    ap.add_argument("--after", type=float, default=15, help="seconds of load after recovery")
    ap.add_argument("--duration", type=float, default=None,
                    help="shortcut: before = after = duration/2 (the fault's own length comes on top)")
    ap.add_argument("--redis-down", type=float, default=5)
    ap.add_argument("--pg-down", type=float, default=10)
    ap.add_argument("--provider-down", type=float, default=30)
    ap.add_argument("--drain-timeout", type=float, default=180)
    ap.add_argument("--graph-delay", type=float, default=0.05, help="seconds each Graph call takes")
    ap.add_argument("--api-threads", type=int, default=15)
    ap.add_argument("--visibility-timeout", type=int, default=0,
                    help="CELERY_VISIBILITY_TIMEOUT for the workers (0: the app's default, 3600 s)")
    args = ap.parse_args()
    if args.duration:
        args.before = args.after = args.duration / 2
    faults = FAULTS if args.fault == "all" else (args.fault,)
    per = args.before + args.after + args.drain_timeout + max(args.pg_down, args.provider_down) + 180
    loadgen.install_deadline(per * len(faults) + 60)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ledgers = []
    for fault in faults:
        ledger = run_fault(fault, args)
        print_ledger(ledger)
        ledgers.append(ledger)
    print("\n=== summary ===")
    for x in ledgers:
        lost = x["lost_inbound"] + x["not_delivered"] + x["never_accepted"]
        drain = x["drain_s"]
        settled = x["settled_s"]
        print(f"{x['fault']:14} lost {lost:3d}  duplicated {x['duplicated'] + x['dup_inbound']:3d}  "
              f"refused+re-sent {x['refused_5xx'] + x['no_answer']:4d}  drain "
              f"{(format(drain, '.1f') + ' s') if drain == drain else 'not drained':>12}  settled "
              f"{(format(settled, '.1f') + ' s') if settled == settled else 'no':>8}  (targets 0 / 0 / <= 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
