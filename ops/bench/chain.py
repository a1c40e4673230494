"""The minimal chain: the end-to-end baseline the project is measured against (issue 19), and its driver.

What a webhook-to-agent-socket path costs with nothing but the libraries the project uses, on the same server
settings: a signed Flask webhook (gunicorn gthread, HMAC-SHA256 of the body as WhatsApp signs it) doing one
`INSERT ... ON CONFLICT DO NOTHING RETURNING id` and its commit, then `send_task`; a Celery task (same settings as
the project's: late acks, prefetch 1, JSON) doing one SELECT and one UPDATE, then an emit through Flask-SocketIO's
write-only Redis manager; a Flask-SocketIO process (gthread, threading mode) holding every agent's websocket. A
sender's first message goes to its tenant's room (every agent, as a new ticket reaches its queue room), later ones
to one agent's room (as a continuing message reaches its assigned agent).

    $(bash ops/bench/tools.sh) -m ops.bench.chain --rates 30,60,100 --duration 60             # the chain alone
    $(bash ops/bench/tools.sh) -m ops.bench.chain --rates 30,60 --duration 60 --project      # and the project

With --project each rate also runs `ops.load.campaign` (the project: 2 API instances, 2 workers, beat) with the
same tenants, agents, rate, duration and new-sender ratio, one after the other in this session, and the ratios
are printed. The chain's own processes: `create_api()`, `celery` (this module's Celery app), `create_sockets()`.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import random
import re
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from celery import Celery
from flask import Flask, request
from sqlalchemy import create_engine, text

SCHEMA = """
CREATE TABLE IF NOT EXISTS chain_messages (
    id bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE, tenant text NOT NULL, sender text NOT NULL,
    body text NOT NULL, received_at timestamptz NOT NULL DEFAULT now(), processed_at timestamptz);
CREATE INDEX IF NOT EXISTS ix_chain_messages_sender ON chain_messages (tenant, sender, id);
"""
_INSERT = text("INSERT INTO chain_messages (event_id, tenant, sender, body) VALUES (:event_id, :tenant, :sender, "
               ":body) ON CONFLICT (event_id) DO NOTHING RETURNING id")
_SELECT = text("SELECT m.tenant, m.sender, m.body, NOT EXISTS (SELECT 1 FROM chain_messages p WHERE p.tenant = "
               "m.tenant AND p.sender = m.sender AND p.id < m.id) AS first FROM chain_messages m WHERE m.id = :id")
_UPDATE = text("UPDATE chain_messages SET processed_at = now() WHERE id = :id")
TASK = "chain.deliver"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if value is None:
        raise RuntimeError(f"{name} is not set")
    return value


def _tenants() -> dict[str, dict[str, Any]]:
    """phone_number_id -> {"slug", "secret", "agents"}, from the JSON file CHAIN_TENANTS names."""
    return dict(json.loads(Path(_env("CHAIN_TENANTS")).read_text()))


def _engine() -> Any:
    return create_engine(_env("DATABASE_URL"), pool_size=20, max_overflow=80, pool_pre_ping=False)


def create_api() -> Flask:
    """The chain's webhook: verify, one INSERT + commit, publish."""
    app = Flask(__name__)
    engine, tenants = _engine(), _tenants()

    @app.post("/webhooks/whatsapp")
    def whatsapp() -> Any:
        raw = request.get_data()
        value = json.loads(raw)["entry"][0]["changes"][0]["value"]
        tenant = tenants.get(value["metadata"]["phone_number_id"])
        if tenant is None:
            return {"error": "unknown channel"}, 404
        expected = "sha256=" + hmac.new(tenant["secret"].encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("X-Hub-Signature-256", "")):
            return {"error": "bad signature"}, 401
        message = value["messages"][0]
        with engine.begin() as conn:
            row = conn.execute(_INSERT, {"event_id": message["id"], "tenant": tenant["slug"],
                                         "sender": message["from"], "body": message["text"]["body"]}).first()
        if row is not None:
            celery.send_task(TASK, [row.id])
        return {"stored": int(row is not None), "duplicates": int(row is None)}

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def create_sockets() -> Flask:
    """The chain's Socket.IO process: an agent's auth token is "<tenant>:<agent number>"."""
    from flask_socketio import SocketIO, join_room

    app = Flask(__name__)
    sio = SocketIO(app, message_queue=_env("REDIS_URL"), channel=_env("SOCKETIO_CHANNEL"),
                   async_mode="threading", cors_allowed_origins="*")

    @sio.on("connect")
    def connect(auth: Any = None) -> bool:
        tenant, _, agent = str((auth or {}).get("token", "")).partition(":")
        if not tenant or not agent:
            return False
        join_room(f"{tenant}:all")
        join_room(f"{tenant}:agent:{agent}")
        return True

    @app.get("/readyz")
    def readyz() -> dict[str, str]:
        return {"status": "ok"}

    app.extensions["chain.sio"] = sio
    return app


celery = Celery("chain", broker=os.environ.get("REDIS_URL", "memory://"))
celery.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                   task_serializer="json", accept_content=["json"], task_ignore_result=True,
                   broker_connection_retry_on_startup=True)
_worker: dict[str, Any] = {}


@celery.task(name=TASK)
def deliver(message_id: int) -> None:
    """One SELECT, one UPDATE, one emit (to the tenant's agents for a sender's first message, else to one)."""
    if not _worker:
        from flask_socketio import SocketIO

        _worker.update(engine=_engine(), tenants={t["slug"]: t for t in _tenants().values()},
                       emitter=SocketIO(message_queue=_env("REDIS_URL"), channel=_env("SOCKETIO_CHANNEL")))
    with _worker["engine"].begin() as conn:
        row = conn.execute(_SELECT, {"id": message_id}).one()
        conn.execute(_UPDATE, {"id": message_id})
    agents = int(_worker["tenants"][row.tenant]["agents"])
    room = (f"{row.tenant}:all" if row.first else
            f"{row.tenant}:agent:{zlib.crc32(row.sender.encode()) % agents}")
    _worker["emitter"].emit("message.created", {"id": message_id, "name": "message.created",
                                                "data": {"id": message_id, "direction": "in", "body": row.body}},
                            to=room)


# --- the driver ---------------------------------------------------------------------------------------------------

_PROJECT_E2E = re.compile(r"end to end .*?: p50 (?P<p50>[\d.]+) ms p99 (?P<p99>[\d.]+) ms")
_PROJECT_CPU = re.compile(r"CPU per message: API (?P<api>[\d.]+) ms .*?workers (?P<wk>[\d.]+) ms and PostgreSQL "
                          r"(?P<pg>[\d.]+) ms[^;]*(?:; Socket.IO tier (?P<sk>[\d.]+) ms)?")
_PROJECT_INTAKE = re.compile(r"webhook intake: .*?\((?P<rps>[\d.]+) req/s achieved")
_PROJECT_SOCKET = re.compile(r"API RSS per socket: (?P<kib>[\d.]+) KiB")


def _run_chain(args: argparse.Namespace, rates: list[float]) -> dict[float, dict[str, float]]:
    from ops.bench import loadgen, sampling
    from ops.bench import tenants as tn
    from ops.bench.loadgen import STEADY_AFTER, ms, pct
    from tests.harness import processes as procs
    from tests.harness import stack

    st = stack.Stack("chain")
    sockets_proc = None
    results: dict[float, dict[str, float]] = {}
    try:
        st.start_services()
        assert st.db is not None and st.pg is not None and st.redis is not None
        for statement in SCHEMA.split(";"):
            if statement.strip():
                st.db.rows(statement)
        tenants, _doc = tn.make_tenants(args.tenants, args.agents, 1, st.run_id)
        config = st.logdir / "chain-tenants.json"
        config.write_text(json.dumps({t.phone_number_id: {"slug": t.slug, "secret": t.app_secret,
                                                          "agents": args.agents} for t in tenants}))
        st.env["CHAIN_TENANTS"] = str(config)
        api = st.start_api("api0", threads=100, app="ops.bench.chain:create_api()")
        holders = args.agents * args.tenants + 100  # a thread and a connection slot per websocket, and spare
        sockets = st.start_api("sockets", threads=holders, app="ops.bench.chain:create_sockets()",
                               extra=["--worker-connections", str(holders)])
        worker = st.start_worker("worker0", 1, app="ops.bench.chain:celery")
        for base in (api, sockets):
            st.wait_http(base)
        st.worker_ready(worker)
        sock_proc = st.apis["sockets"][0]
        rss_before = sum(procs.rss_bytes(p) for p in procs.tree(sock_proc.pid))
        specs = [{"base": sockets, "token": f"{t.slug}:{k}", "tenant": t.slug, "agent": k}
                 for t in tenants for k in range(args.agents)]
        spec_file, out_file = st.logdir / "sockets.json", st.logdir / "sockets-out.json"
        spec_file.write_text(json.dumps(specs))
        sockets_proc = subprocess.Popen([sys.executable, "-m", "ops.load.sockets", str(spec_file), str(out_file),
                                         "--max-seconds", str(len(rates) * (args.duration + 60) + 600)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, cwd=procs.ROOT, start_new_session=True)
        connected = ""
        for line in sockets_proc.stdout:  # type: ignore[union-attr]
            if line.startswith("CONNECTED"):
                connected = line.strip()
                break
        if not connected:
            raise RuntimeError("the socket clients died")
        out = sockets_proc.stdout

        def drain() -> None:  # the clients' status lines, read so their pipe never fills
            for _line in out or ():
                pass

        threading.Thread(target=drain, daemon=True).start()
        stack.log(f"chain: {connected}")
        time.sleep(5)
        n_sockets = int(connected.split()[1])
        per_socket = (sum(procs.rss_bytes(p) for p in procs.tree(sock_proc.pid)) - rss_before) / max(1, n_sockets)
        api_proc = st.apis["api0"][0]
        groups = lambda: {"api": procs.tree(api_proc.pid), "sockets": procs.tree(sock_proc.pid),  # noqa: E731
                          "worker": procs.tree(worker.pid), "postgres": procs.tree(st.pg.postmaster_pid() or 0),
                          "redis": [st.redis.child.pid]}
        rng = random.Random(11)
        sent: dict[str, tuple[float, int]] = {}
        for rate in rates:
            active: list[list[str]] = [[] for _ in tenants]
            counter = iter(range(10**9))
            lock = threading.Lock()
            tag = f"r{int(rate)}"

            def payload(i: int, active: list[list[str]] = active, counter: Any = counter, lock: Any = lock,
                        tag: str = tag, first: int = int(rate) * 10**6) -> tuple[bytes, str]:
                k = i % len(tenants)
                with lock:
                    if not active[k] or rng.random() < args.new_ticket_ratio:
                        sender = tn.sender_number(first + next(counter))  # new senders for each rate
                        active[k].append(sender)
                    else:
                        sender = rng.choice(active[k])
                return tn.signed(tenants[k], f"wamid.chain.{st.run_id}.{tag}.{i}", sender, f"c{tag}-{i}")

            cpu = sampling.CpuSampler(groups)
            cpu.start()
            t_start = time.monotonic()
            before = st.db.one("SELECT count(*) FROM chain_messages WHERE processed_at IS NOT NULL")
            shots = loadgen.open_loop([api], rate, args.duration, payload, threads=args.gen_threads)
            shares = cpu.stop()
            window = time.monotonic() - t_start
            processed = st.db.one("SELECT count(*) FROM chain_messages WHERE processed_at IS NOT NULL") - before
            for s in shots:
                sent[f"c{tag}-{s.index}"] = (s.wall, s.status)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and st.db.one(
                    "SELECT count(*) FROM chain_messages WHERE processed_at IS NULL"):
                time.sleep(0.5)
            time.sleep(3)
            accepted = sum(1 for s in shots if s.status == 200)
            intake = loadgen.summarize_shots(shots)
            results[rate] = {"accepted": accepted, "intake_rps": intake["rps"], "intake_p99": intake["p99"],
                             "api_ms": shares.get("api", 0) * window / max(1, accepted) * 1000,
                             "sockets_ms": shares.get("sockets", 0) * window / max(1, processed) * 1000,
                             "worker_ms": shares.get("worker", 0) * window / max(1, processed) * 1000,
                             "pg_ms": shares.get("postgres", 0) * window / max(1, processed) * 1000,
                             "per_socket_kib": per_socket / 1024}
            stack.log(f"chain at {rate:.0f}/s: {accepted} accepted, intake p99 {ms(intake['p99'])}")
        sockets_proc.stdin.close()  # type: ignore[union-attr]
        sockets_proc.wait(timeout=300)
        seen = json.loads(out_file.read_text())["first_message"]
        for rate in rates:
            tag = f"r{int(rate)}"
            got = [(wall, seen[body][0] - wall) for body, (wall, status) in sent.items()
                   if body.startswith(f"c{tag}-") and status == 200 and body in seen]
            lat = [late for _wall, late in got]
            start = min((wall for wall, _late in got), default=0.0)
            results[rate].update(e2e_p50=pct(lat, 50), e2e_p99=pct(lat, 99),
                                 e2e_p99_steady=pct([late for wall, late in got if wall >= start + STEADY_AFTER], 99),
                                 missing=sum(1 for b, (_w, s) in sent.items()
                                             if b.startswith(f"c{tag}-") and s == 200 and b not in seen))
        return results
    finally:
        if sockets_proc is not None and sockets_proc.poll() is None:
            sockets_proc.kill()
        st.close()


def _run_project(args: argparse.Namespace, rate: float) -> dict[str, float]:
    argv = [sys.executable, "-m", "ops.load.campaign", "--rate", str(rate), "--duration", str(args.duration),
            "--tenants", str(args.tenants), "--agents", str(args.agents), "--drain-timeout", "60",
            "--new-ticket-ratio", str(args.new_ticket_ratio), "--gen-threads", str(args.gen_threads),
            *(["--sockets-tier"] if args.sockets_tier else []),
            *([f"--worker-args={args.worker_args}"] if args.worker_args else [])]
    out = subprocess.run(argv, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2],
                         timeout=args.duration + 3600, check=False).stdout
    Path(f"/tmp/atd-project-{int(rate)}.txt").write_text(out)
    found: dict[str, float] = {}
    for pattern in (_PROJECT_E2E, _PROJECT_CPU, _PROJECT_INTAKE, _PROJECT_SOCKET):
        m = pattern.search(out)
        if m:
            found.update({k: float(v) for k, v in m.groupdict().items() if v is not None})
    return found


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rates", default="30,60,100", help="deliveries per second, comma-separated")
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--tenants", type=int, default=10)
    ap.add_argument("--agents", type=int, default=100, help="agents per tenant, each with one websocket")
    ap.add_argument("--new-ticket-ratio", type=float, default=0.05)
    ap.add_argument("--gen-threads", type=int, default=24)
    ap.add_argument("--project", action="store_true", help="also run ops.load.campaign at each rate")
    ap.add_argument("--sockets-tier", action="store_true", help="the project's agents on its gevent Socket.IO tier")
    ap.add_argument("--worker-args", default="", help="extra arguments for the project's workers ('--pool solo')")
    args = ap.parse_args()
    from ops.bench import loadgen
    from ops.bench.loadgen import STEADY_AFTER, ms, ratio

    rates = [float(r) for r in args.rates.split(",")]
    loadgen.install_deadline(len(rates) * (args.duration * 2 + 3600))
    chain = _run_chain(args, rates)
    project = {rate: _run_project(args, rate) for rate in rates} if args.project else {}
    print(f"\n=== webhook -> agent socket, {args.tenants} tenants x {args.agents} agents, {args.duration:.0f} s a "
          f"rate, new-sender ratio {args.new_ticket_ratio} ===")
    for rate in rates:
        c = chain[rate]
        cpu = c["api_ms"] + c["sockets_ms"] + c["worker_ms"] + c["pg_ms"]
        print(f"chain   {rate:5.0f}/s: e2e p50 {ms(c['e2e_p50'])} p99 {ms(c['e2e_p99'])} ("
              f"{ms(c['e2e_p99_steady'])} after the first {STEADY_AFTER:.0f} s; never seen "
              f"{c['missing']:.0f}); intake {c['intake_rps']:.0f} req/s; CPU per message {cpu:.1f} ms (API "
              f"{c['api_ms']:.1f}, Socket.IO {c['sockets_ms']:.1f}, worker {c['worker_ms']:.1f}, PostgreSQL "
              f"{c['pg_ms']:.1f}); {c['per_socket_kib']:.0f} KiB per socket")
        p = project.get(rate)
        if p:
            pcpu = p.get("api", float("nan")) + p.get("wk", float("nan")) + p.get("pg", float("nan")) + p.get("sk", 0)
            print(f"project {rate:5.0f}/s: e2e p50 {p.get('p50', float('nan')):.1f} ms p99 "
                  f"{p.get('p99', float('nan')):.1f} ms; intake {p.get('rps', float('nan')):.0f} req/s; CPU per "
                  f"message {pcpu:.1f} ms; {p.get('kib', float('nan')):.0f} KiB per socket")
            print(f"  ratio project / chain: e2e p99 {ratio(p.get('p99', float('nan')) / 1000, c['e2e_p99'])}, "
                  f"CPU per message {ratio(pcpu, cpu)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
