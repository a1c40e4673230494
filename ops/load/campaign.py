"""Load campaign: two API instances, two workers, beat, `--tenants` x `--agents` agents logged in, online and connected
over Socket.IO, and a steady stream of signed WhatsApp deliveries across the tenants.

Everything runs on loopback against a private PostgreSQL cluster and a private Redis started by this script.
Run it with the tools interpreter (aiohttp for the socket clients): `bash ops/bench/tools.sh` prints it.

    $(bash ops/bench/tools.sh) -m ops.load.campaign --rate 200 --duration 600            # the full campaign
    $(bash ops/bench/tools.sh) -m ops.load.campaign --tenants 2 --agents 20 --duration 30  # a quick look

Measured: webhook intake requests/s and p50/p99 (open loop, from the scheduled send time); end to end from the
webhook POST to the first `message.created` (direction in) at any agent socket of the tenant (a ticket's first
message reaches the whole queue room before assignment, later ones the assigned agent's room); assignment latency
(tickets.assigned_at - created_at); where a message's time goes (POST -> stored by the API -> picked up by a
worker -> seen at a socket, overall and for every second in which a message took over 300 ms); errors; RSS of the
API and worker processes every 10 s; RSS per socket; where the CPU goes (per process group) and, with --profile,
py-spy's hot frames.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import random
import subprocess
import sys
import threading
import time
from typing import Any

from ops.bench import loadgen, sampling
from ops.bench import tenants as tn
from ops.bench.loadgen import STEADY_AFTER, ms, pct, ratio
from tests.harness import agents as harness_agents
from tests.harness import processes as procs
from tests.harness import services, stack
from tests.harness.stack import log


def slope_mb_per_min(samples: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, bytes) samples, in MB per minute."""
    if len(samples) < 3:
        return float("nan")
    n = len(samples)
    mx = sum(t for t, _ in samples) / n
    my = sum(v for _, v in samples) / n
    den = sum((t - mx) ** 2 for t, _ in samples)
    return (sum((t - mx) * (v - my) for t, v in samples) / den) * 60 / 1e6 if den else float("nan")


def stage_times(db: Any, since: float, sent: dict[str, tuple[float, float | None]]) -> list[tuple[float, ...]]:
    """(sent, stored by the API, picked up by a worker, seen at a socket) wall times of each message seen, from the
    inbox row's received_at and processed_at (the worker's clock at the task's start)."""
    rows = db.rows("SELECT m.body, extract(epoch FROM i.received_at), extract(epoch FROM i.processed_at) "
                   "FROM messages m JOIN inbox_events i ON i.event_id = m.provider_message_id "
                   "WHERE m.direction = 'in' AND m.created_at >= to_timestamp(%s)", (since,))
    out = []
    for body, received, processed in rows:
        wall, at_socket = sent.get(body, (None, None))
        if wall is not None and at_socket is not None and received is not None and processed is not None:
            out.append((wall, float(received), float(processed), at_socket))
    return sorted(out)


def print_stages(stages: list[tuple[float, ...]], t0: float) -> None:
    """Where a message's time goes, overall and in each second where some message took over 300 ms: stalls that
    hit one stage show which part of the system waited."""
    if not stages:
        return
    api = [r[1] - r[0] for r in stages]
    queue = [r[2] - r[1] for r in stages]
    rest = [r[3] - r[2] for r in stages]
    print(f"stages (n={len(stages)}): POST -> stored p50 {ms(pct(api, 50))} p99 {ms(pct(api, 99))}; stored -> "
          f"worker start p50 {ms(pct(queue, 50))} p99 {ms(pct(queue, 99))}; worker start -> socket p50 "
          f"{ms(pct(rest, 50))} p99 {ms(pct(rest, 99))}")
    by_second: dict[int, list[tuple[float, ...]]] = {}
    for r in stages:
        by_second.setdefault(int(r[0] - t0), []).append(r)
    for second, rs in sorted(by_second.items()):
        if max(r[3] - r[0] for r in rs) > 0.3:
            med = [pct([r[k + 1] - r[k] for r in rs], 50) for k in range(3)]
            worst = max(rs, key=lambda r: r[3] - r[0])
            print(f"  slow second {second:3d}: n={len(rs)} medians {ms(med[0])} / {ms(med[1])} / {ms(med[2])}; "
                  f"worst {ms(worst[1] - worst[0])} / {ms(worst[2] - worst[1])} / {ms(worst[3] - worst[2])}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=float, default=600, help="seconds of steady webhook load")
    ap.add_argument("--rate", type=float, default=200, help="webhook deliveries per second (all tenants)")
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--agents", type=int, default=100, help="agents per tenant")
    ap.add_argument("--max-tickets", type=int, default=100, help="capacity of each agent")
    ap.add_argument("--new-ticket-ratio", type=float, default=0.05,
                    help="share of deliveries from a new customer (opens a ticket); the rest continue a conversation")
    ap.add_argument("--api-threads", type=int, default=600,
                    help="gunicorn --threads per API instance (each websocket holds one thread in threading mode)")
    ap.add_argument("--workers", type=int, default=2, help="celery worker processes")
    ap.add_argument("--concurrency", type=int, default=1, help="--concurrency of each worker")
    ap.add_argument("--worker-args", default="", help="extra celery worker arguments, e.g. '--prefetch-multiplier 4'")
    ap.add_argument("--gen-threads", type=int, default=24, help="load generator connections (bounds in-flight)")
    ap.add_argument("--drain-timeout", type=float, default=60, help="seconds to wait for the backlog after the load")
    ap.add_argument("--profile", action="store_true", help="py-spy an API and a worker mid-run")
    ap.add_argument("--no-beat", action="store_true")
    ap.add_argument("--sockets-tier", action="store_true",
                    help="agents connect to a Socket.IO tier (ops/gunicorn.sockets.conf.py, gevent) instead of the "
                         "API instances, which then serve only webhooks and the REST API")
    args = ap.parse_args()
    loadgen.install_deadline(args.duration + args.drain_timeout + 1800)

    st = stack.Stack("load")
    sockets_proc = None
    stop_sampling = threading.Event()
    try:
        st.start_services()
        st.migrate()
        tenants, doc = tn.make_tenants(args.tenants, args.agents, args.max_tickets, st.run_id)
        t0 = time.monotonic()
        st.provision(doc)
        log(f"provisioned {args.tenants} tenants x {args.agents} agents in {time.monotonic() - t0:.0f} s")
        db = st.db
        assert db is not None and st.redis is not None and st.pg is not None

        bases = [st.start_api(f"api{k}", threads=args.api_threads) for k in range(2)]
        socket_bases = bases
        if args.sockets_tier:
            port = procs.free_port()
            st.apis["sockets"] = (st.spawn("sockets", stack.sockets_argv(port, bin_dir=stack.VENV_BIN)),
                                  f"http://127.0.0.1:{port}")
            socket_bases = [st.apis["sockets"][1]]
        workers = [st.start_worker(f"worker{k}", args.concurrency, extra=args.worker_args.split())
                   for k in range(args.workers)]
        beat = None if args.no_beat else st.start_beat()
        for b in {*bases, *socket_bases}:
            st.wait_http(b)
        for w in workers:
            st.worker_ready(w)
        apis = [st.apis[f"api{k}"][0] for k in range(2)] + ([st.apis["sockets"][0]] if args.sockets_tier else [])
        socket_procs = [st.apis["sockets"][0]] if args.sockets_tier else apis

        # log in every agent (online), spread over both instances
        specs = []
        jobs = [(t, email, pw, k) for t in tenants for k, (email, pw) in enumerate(t.agents)]
        t0 = time.monotonic()
        with cf.ThreadPoolExecutor(8) as pool:
            tokens = list(pool.map(lambda j: harness_agents.login(bases[j[3] % 2], j[0].slug, j[1], j[2]), jobs))
        login_s = time.monotonic() - t0
        for (t, _email, _pw, k), token in zip(jobs, tokens, strict=True):
            specs.append({"base": socket_bases[k % len(socket_bases)], "token": token, "tenant": t.slug, "agent": k})
        log(f"{len(tokens)} agents logged in and online in {login_s:.0f} s")
        online = db.one("SELECT count(*) FROM users WHERE status = 'online'")

        # sockets: RSS before/after
        time.sleep(2)
        api_rss_before = [sum(procs.rss_bytes(p) for p in procs.tree(a.pid)) for a in socket_procs]
        spec_file = st.logdir / "sockets.json"
        spec_file.write_text(json.dumps(specs))
        out_file = st.logdir / "sockets-out.json"
        sockets_proc = subprocess.Popen([sys.executable, "-m", "ops.load.sockets", str(spec_file),
                                         str(out_file), "--max-seconds", str(args.duration + args.drain_timeout + 900)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, cwd=procs.ROOT, start_new_session=True)
        status_lines: list[str] = []
        connected_line = ""
        for line in sockets_proc.stdout:  # type: ignore[union-attr]
            status_lines.append(line.rstrip())
            if line.startswith("CONNECTED"):
                connected_line = line.strip()
                break
        if not connected_line:
            raise RuntimeError("socket clients died:\n" + "\n".join(status_lines[-20:]))
        threading.Thread(target=lambda: [status_lines.append(ln.rstrip()) for ln in sockets_proc.stdout],
                         daemon=True).start()
        log(connected_line)
        time.sleep(5)
        api_rss_after = [sum(procs.rss_bytes(p) for p in procs.tree(a.pid)) for a in socket_procs]
        n_sockets = int(connected_line.split()[1])
        per_socket = (sum(api_rss_after) - sum(api_rss_before)) / max(1, n_sockets)

        # samplers: RSS every 10 s, backlog
        samples: list[dict[str, float]] = []
        import redis

        rclient = redis.Redis.from_url(st.redis.url)
        run_start = time.monotonic()

        def sample() -> None:
            sdb = services.Db(st.pg.dsn("atendimento"))
            while not stop_sampling.is_set():
                row: dict[str, float] = {"t": time.monotonic() - run_start}
                for a in apis:
                    row[a.name] = sum(procs.rss_bytes(p) for p in procs.tree(a.pid))
                    row[a.name + "_threads"] = sum(procs.thread_count(p) for p in procs.tree(a.pid))
                for w in workers:
                    row[w.name] = sum(procs.rss_bytes(p) for p in procs.tree(w.pid))
                    kids = procs.proc_children(w.pid)
                    row[w.name + "_children"] = sum(procs.rss_bytes(p) for p in kids)
                try:
                    row["inbox_backlog"] = sdb.one("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL")
                    row["broker_queue"] = rclient.llen("celery")
                except Exception:
                    row["inbox_backlog"] = row["broker_queue"] = -1
                samples.append(row)
                stop_sampling.wait(10)
            sdb.close()

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()

        # the message stream
        rng = random.Random(11)
        lock = threading.Lock()
        active: list[list[str]] = [[] for _ in tenants]
        counter = iter(range(10**9))
        run_tag = st.run_id[:6]
        sender_of: dict[int, tuple[int, bool]] = {}

        def payload(i: int) -> tuple[bytes, str]:
            k = i % len(tenants)
            with lock:
                new = not active[k] or rng.random() < args.new_ticket_ratio
                if new:
                    sender = tn.sender_number(next(counter))
                    active[k].append(sender)
                else:
                    sender = rng.choice(active[k])
                sender_of[i] = (k, new)
            return tn.signed(tenants[k], f"wamid.load.{st.run_id}.{i}", sender, f"m{run_tag}-{i}")

        groups = lambda: {  # noqa: E731
            **{a.name: procs.tree(a.pid) for a in apis}, **{w.name: procs.tree(w.pid) for w in workers},
            **({"beat": procs.tree(beat.pid)} if beat else {}), "postgres": procs.tree(st.pg.postmaster_pid() or 0),
            "redis": [st.redis.child.pid], "socket-clients": [sockets_proc.pid]}
        cpu = sampling.CpuSampler(groups)
        profiles: list[str] = []
        if args.profile:
            def spy() -> None:
                time.sleep(min(30, args.duration / 3))
                targets = [(procs.proc_children(apis[0].pid)[0], "api0"),
                           ((procs.proc_children(workers[0].pid) or [workers[0].pid])[0], "worker0-child")]
                threads = [threading.Thread(target=lambda p=p, n=n: profiles.append(
                    sampling.profile(p, min(20, args.duration / 3), st.logdir, n))) for p, n in targets]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join()

            threading.Thread(target=spy, daemon=True).start()
        t_load = time.time()
        stored_before = db.one("SELECT count(*) FROM messages WHERE direction = 'in'")
        cpu.start()
        t_cpu = time.monotonic()
        log(f"steady load: {args.rate:.0f} deliveries/s for {args.duration:.0f} s over {len(bases)} API instances")
        shots = loadgen.open_loop(bases, args.rate, args.duration, payload, threads=args.gen_threads)
        shares = cpu.stop()
        load_end = time.monotonic()
        processed_in_window = db.one("SELECT count(*) FROM messages WHERE direction = 'in'") - stored_before
        window = load_end - t_cpu
        log("load stopped; waiting for the backlog")
        backlog_at_stop = db.one("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL")
        drained = None
        while time.monotonic() - load_end < args.drain_timeout:
            if db.one("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL") == 0:
                drained = time.monotonic() - load_end
                break
            time.sleep(0.5)
        time.sleep(2)
        stop_sampling.set()
        sampler.join(timeout=30)
        backlog_end = db.one("SELECT count(*) FROM inbox_events WHERE processed_at IS NULL")
        sockets_proc.stdin.close()  # type: ignore[union-attr]
        sockets_proc.wait(timeout=300)
        seen = json.loads(out_file.read_text())

        # results
        intake = loadgen.summarize_shots(shots)
        ok = [s for s in shots if s.status == 200]
        e2e_all, e2e_first, e2e_next, missing = [], [], [], 0
        e2e_steady: list[float] = []  # sent after the first STEADY_AFTER seconds: the start's queue left out
        for s in ok:
            got = seen["first_message"].get(f"m{run_tag}-{s.index}")
            if got is None:
                missing += 1
                continue
            lat = got[0] - s.wall
            e2e_all.append(lat)
            if s.wall >= t_load + STEADY_AFTER:
                e2e_steady.append(lat)
            (e2e_first if sender_of[s.index][1] else e2e_next).append(lat)
        # the same, only for messages sent in the first half (before any backlog of the second half)
        rows = db.rows("SELECT extract(epoch FROM assigned_at - created_at) FROM tickets WHERE created_at >= "
                       "to_timestamp(%s) AND assigned_at IS NOT NULL", (t_load,))
        assign = [float(r[0]) for r in rows]
        tickets = db.one("SELECT count(*) FROM tickets WHERE created_at >= to_timestamp(%s)", (t_load,))
        stored = db.one("SELECT count(*) FROM messages WHERE direction = 'in' AND created_at >= to_timestamp(%s)",
                        (t_load,))
        stages = stage_times(db, t_load, {f"m{run_tag}-{s.index}": (s.wall, seen["first_message"].get(
            f"m{run_tag}-{s.index}", [None])[0]) for s in ok})
        errors = [s for s in shots if s.status != 200]
        codes: dict[int, int] = {}
        for s in errors:
            codes[s.status] = codes.get(s.status, 0) + 1

        print(f"\n=== load campaign: {args.rate:.0f} deliveries/s for {args.duration:.0f} s, {args.tenants} tenants x "
              f"{args.agents} agents, 2 API instances (gthread, {args.api_threads} threads), {args.workers} workers x "
              f"concurrency {args.concurrency} {args.worker_args}, new-ticket ratio {args.new_ticket_ratio}, "
              f"app {st.commit} ===")
        print(f"agents online: {online}; login+online took {login_s:.0f} s; {connected_line}; "
              f"socket disconnects during run {seen['disconnects']}, live at end {seen['live_at_end']}")
        print(f"API RSS per socket: {per_socket / 1024:.0f} KiB  (API RSS {sum(api_rss_before) / 1e6:.0f} MB -> "
              f"{sum(api_rss_after) / 1e6:.0f} MB with {n_sockets} sockets)")
        offered = int(args.rate * args.duration)
        print(f"webhook intake: {intake['ok']}/{intake['sent']} ok ({intake['rps']:.0f} req/s achieved of "
              f"{args.rate:.0f} offered; {offered - intake['sent']} of {offered} never sent: the server fell behind "
              f"and sending stops at duration + 10 %), p50 {ms(intake['p50'])} p99 {ms(intake['p99'])} "
              f"(service time p50 {ms(intake['svc_p50'])} p99 {ms(intake['svc_p99'])})")
        print(f"error rate: {len(errors)}/{len(shots)} = {len(errors) / max(1, len(shots)):.4%} {codes or ''}")
        print(f"end to end (POST -> first message.created at an agent socket of the tenant): p50 "
              f"{ms(pct(e2e_all, 50))} p99 {ms(pct(e2e_all, 99))} max "
              f"{ms(max(e2e_all) if e2e_all else float('nan'))}; never seen {missing}   (target p99 < 500 ms)")
        print(f"  after the first {STEADY_AFTER:.0f} s: p99 {ms(pct(e2e_steady, 99))} (n={len(e2e_steady)})")
        print(f"  first message of a ticket (queue room): p50 {ms(pct(e2e_first, 50))} p99 "
              f"{ms(pct(e2e_first, 99))} (n={len(e2e_first)}); later messages (agent room): p50 "
              f"{ms(pct(e2e_next, 50))} p99 {ms(pct(e2e_next, 99))} (n={len(e2e_next)})")
        print(f"  ratio e2e p99 / intake p99: {ratio(pct(e2e_all, 99), intake['p99'])}")
        print(f"assignment (assigned_at - created_at): p50 {ms(pct(assign, 50))} p99 {ms(pct(assign, 99))}"
              f" ({len(assign)}/{tickets} tickets assigned); {stored} inbound messages stored of {len(ok)} accepted")
        print(f"inbox backlog at load stop {backlog_at_stop}; "
              f"{'drained after ' + format(drained, '.1f') + ' s' if drained is not None else 'not drained'}"
              f" (left {backlog_end} after {args.drain_timeout:.0f} s)")
        print_stages(stages, t_load)
        print(sampling.format_cpu(shares))
        accepted_n = max(1, sum(1 for s in shots if s.status == 200))
        api_ms = sum(v for k, v in shares.items() if k.startswith("api")) * window / accepted_n * 1000
        processed_n = max(1, processed_in_window)
        wk_ms = sum(v for k, v in shares.items() if k.startswith("worker")) * window / processed_n * 1000
        pg_ms = shares.get("postgres", 0) * window / processed_n * 1000
        sk_ms = shares.get("sockets", 0) * window / processed_n * 1000  # the Socket.IO tier, with --sockets-tier
        print(f"CPU per message: API {api_ms:.1f} ms per accepted delivery ({accepted_n} in {window:.0f} s); workers "
              f"{wk_ms:.1f} ms and PostgreSQL {pg_ms:.1f} ms per message processed ({processed_in_window} processed)"
              f"{f'; Socket.IO tier {sk_ms:.1f} ms' if args.sockets_tier else ''}; so {args.rate:.0f} msg/s needs "
              f"about {args.rate * (api_ms + wk_ms + pg_ms + sk_ms) / 1000:.1f} cores")
        print("samples every 10 s (MB; backlog = unprocessed inbox events, broker = tasks waiting in Redis):")
        names = [a.name for a in apis] + [w.name for w in workers]
        print("   t(s) " + " ".join(f"{n:>9}" for n in names) + "   backlog  broker  API threads")
        for row in samples:
            print(f"  {row['t']:5.0f} " + " ".join(f"{row[n] / 1e6:9.1f}" for n in names) +
                  f" {row['inbox_backlog']:9.0f} {row['broker_queue']:7.0f}  " +
                  "/".join(str(int(row[a.name + "_threads"])) for a in apis))
        warm = [r for r in samples if r["t"] >= min(60, args.duration / 4) and r["t"] <= args.duration]
        for n in names:
            pts = [(r["t"], r[n]) for r in warm]
            if pts:
                print(f"  {n}: {pts[0][1] / 1e6:.1f} -> {pts[-1][1] / 1e6:.1f} MB after warm-up, slope "
                      f"{slope_mb_per_min(pts):+.2f} MB/min")
        for text in profiles:
            print(text)
        return 0
    finally:
        stop_sampling.set()
        if sockets_proc is not None and sockets_proc.poll() is None:
            sockets_proc.kill()
        st.close()


if __name__ == "__main__":
    sys.exit(main())
