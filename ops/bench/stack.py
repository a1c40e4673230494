"""Shared machinery for the benchmarks, the load campaign and the fault campaign.

Everything here runs on loopback and is owned by the calling script: a private PostgreSQL cluster and a private
Redis (never the machine's own), the API under the README's gunicorn command, Celery workers, beat, signed
WhatsApp deliveries (tests.fakes), a load generator that measures latency from the scheduled send time, and
/proc sampling for CPU and memory. `Stack.close()` (call it in a finally block) stops every child it started.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import math
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.fakes import whatsapp as wa  # noqa: E402 - the repo root is put on sys.path just above

VENV_BIN = ROOT / ".venv" / "bin"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
SECRET_KEY = "bench-secret-key-of-at-least-thirty-two-chars"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------------------------- small helpers

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def pct(values: Sequence[float], p: float) -> float:
    """Percentile by nearest rank (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return "n/a" if not b or a != a or b != b else f"{a / b:.2f}"


def install_deadline(seconds: float) -> None:
    """Whatever happens, interrupt this script after `seconds` so its finally blocks stop every child."""
    def fire() -> None:
        log(f"hard deadline of {seconds:.0f} s reached: interrupting")
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()

    def on_term(*_: Any) -> None:  # SIGTERM behaves like Ctrl-C, so `finally` blocks run
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except Exception:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


# --------------------------------------------------------------------------------------------- processes

class Child:
    """A child process in its own session (so its whole group can be signalled), output to a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path, cwd: Path = ROOT,
                 user: str | None = None) -> None:
        self.name, self.argv, self.env, self.logdir, self.cwd, self.user = name, argv, env, logdir, cwd, user
        self.log = logdir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        fh = self.log.open("ab")
        argv = ["runuser", "-u", self.user, "--", *self.argv] if self.user else self.argv
        self.popen = subprocess.Popen(argv, env=self.env, cwd=self.cwd, stdout=fh, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        fh.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait()
        # children left in the group (a prefork pool whose parent died)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole group at once (a crash, not a shutdown)."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def proc_children(pid: int) -> list[int]:
    """Direct and indirect children of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in parents.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def thread_count(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return 0.0


def tree(pid: int) -> list[int]:
    return [pid, *proc_children(pid)]


# --------------------------------------------------------------------------------------------- private services

class PrivateRedis:
    """redis-server on a free port as a child of this script: no persistence, gone when stopped."""

    def __init__(self, logdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.child = Child("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "no", "--daemonize", "no",
                                     "--maxclients", "4000"], {"PATH": os.environ["PATH"]}, logdir)
        self.wait()

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def wait(self) -> None:
        wait_for(self.ping, 20, f"redis on {self.port}")

    def stop(self) -> None:
        self.child.stop()

    def start(self) -> None:
        self.child.start()
        self.wait()


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster in a temp dir, run as the `postgres` user, trust auth, on a free port."""

    def __init__(self, logdir: Path, port: int | None = None, max_connections: int = 400) -> None:
        self.port = port or free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="atd-pg-"))
        shutil.chown(self.dir, "postgres", "postgres")
        self.data = self.dir / "data"
        self.logfile = logdir / "postgres.log"
        self.logfile.touch()
        shutil.chown(self.logfile, "postgres", "postgres")
        self._as_postgres([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust",
                           "-E", "UTF8", "--no-sync"])
        self.options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                        f"-c max_connections={max_connections}")
        self.start()

    def _as_postgres(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess[bytes]:
        out = subprocess.run(["runuser", "-u", "postgres", "--", *argv], cwd=self.dir, check=False,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if check and out.returncode:
            raise RuntimeError(f"{argv[0]} failed: {out.stdout.decode(errors='replace')[-2000:]}")
        return out

    def start(self) -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-o", self.options, "-l",
                           str(self.logfile), "-w", "-t", "60", "start"])

    def stop(self, mode: str = "fast") -> None:
        self._as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop"],
                          check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{db}"

    def dsn(self, db: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user=postgres dbname={db}"

    def createdb(self, name: str) -> str:
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        return self.url(name)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


class Db:
    """A tiny psycopg2 helper for the measuring side (its own connection, autocommit, reconnects)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self.conn: Any = None

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        import psycopg2

        for attempt in range(2):
            try:
                if self.conn is None or self.conn.closed:
                    self.conn = psycopg2.connect(self.dsn, connect_timeout=2)
                    self.conn.autocommit = True
                with self.conn.cursor() as cur:
                    cur.execute(sql, tuple(args) or None)
                    return list(cur.fetchall()) if cur.description else []
            except psycopg2.OperationalError:
                with contextlib.suppress(Exception):
                    self.conn.close()
                self.conn = None
                if attempt:
                    raise
        return []

    def one(self, sql: str, args: Sequence[Any] = ()) -> Any:
        rows = self.rows(sql, args)
        return rows[0][0] if rows else None

    def close(self) -> None:
        if self.conn is not None:
            with contextlib.suppress(Exception):
                self.conn.close()


# --------------------------------------------------------------------------------------------- tenants

@dataclass
class Tenant:
    slug: str
    phone_number_id: str
    app_secret: str
    agents: list[tuple[str, str]]  # (email, password)
    supervisor: tuple[str, str]


def make_tenants(count: int, agents: int, max_tickets: int, run_id: str) -> tuple[list[Tenant], dict[str, Any]]:
    """`count` tenants, each with one WhatsApp channel, a Support queue, `agents` agents and a supervisor."""
    tenants, docs = [], []
    for i in range(count):
        slug = f"t{i:02d}"
        t = Tenant(slug=slug, phone_number_id=f"9{i:03d}{run_id[:6].encode().hex()[:8]}",
                   app_secret=f"secret-{slug}-{run_id}", agents=[], supervisor=(f"sup@{slug}.example", "pw-sup"))
        # The supervisor hears every ticket of the tenant (supervisors room) and is no queue member (so it neither
        # takes tickets nor hears the queue room twice).
        users = [{"email": t.supervisor[0], "name": "Supervisor", "role": "supervisor", "password": t.supervisor[1]}]
        for a in range(agents):
            email, pw = f"a{a:03d}@{slug}.example", f"pw-{slug}-{a}"
            t.agents.append((email, pw))
            users.append({"email": email, "name": f"Agent {a}", "password": pw, "max_tickets": max_tickets,
                          "queues": ["Support"]})
        docs.append({"slug": slug, "name": f"Tenant {i}", "queues": [{"name": "Support"}], "users": users,
                     "channels": [{"kind": "whatsapp", "external_id": t.phone_number_id, "default_queue": "Support",
                                   "credentials": {"app_secret": t.app_secret, "verify_token": f"v-{slug}",
                                                   "access_token": wa_token()}}]})
        tenants.append(t)
    return tenants, {"tenants": docs}


def wa_token() -> str:
    from tests.fakes.graph import GraphServer

    return GraphServer.token


def signed(tenant: Tenant, wamid: str, sender: str, body: str) -> tuple[bytes, str]:
    raw = wa.encode(wa.text_delivery(wamid, sender=sender, body=body, name=f"C {sender[-4:]}",
                                     phone_number_id=tenant.phone_number_id))
    return raw, wa.sign(raw, tenant.app_secret)


def sender_number(n: int) -> str:
    """A distinct Brazilian mobile number with the ninth digit (normalisation leaves it as is)."""
    return f"55119{n:08d}"


# --------------------------------------------------------------------------------------------- the stack

@dataclass
class Stack:
    """Private PostgreSQL + Redis and the app's processes on them."""

    name: str = "bench"
    pg_max_connections: int = 400
    extra_env: dict[str, str] = field(default_factory=dict)
    source: str = field(default_factory=lambda: os.environ.get("ATD_SOURCE", "head"))

    def __post_init__(self) -> None:
        self.run_id = uuid.uuid4().hex[:10]
        self.logdir = Path(tempfile.mkdtemp(prefix=f"atd-{self.name}-"))
        self.logdir.chmod(0o755)  # the private PostgreSQL (user postgres) writes its log here too
        # The app runs from a snapshot of the committed HEAD (`git archive`, read-only), so that edits other people
        # make in the work tree during a run cannot change the code under test half-way. ATD_SOURCE=live: the tree.
        # Any other value names a commit to measure instead of HEAD (a before/after pair in one session).
        rev = "HEAD" if self.source in ("head", "live") else self.source
        self.commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev], capture_output=True,
                                     text=True).stdout.strip()
        if self.source != "live":
            self.src = self.logdir / "src"
            self.src.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(self.src)], input=archive.stdout, check=True)
        else:
            self.src = ROOT
            self.commit += "+work-tree"
        self.children: list[Child] = []
        self.pg: PrivatePostgres | None = None
        self.redis: PrivateRedis | None = None
        self.db: Db | None = None
        self.env: dict[str, str] = {}
        self.apis: dict[str, tuple[Child, str]] = {}
        log(f"logs in {self.logdir}; app code: {self.commit} ({self.src})")

    # services
    def start_services(self, graph_url: str = "http://127.0.0.1:9") -> None:
        self.redis = PrivateRedis(self.logdir)
        self.pg = PrivatePostgres(self.logdir, max_connections=self.pg_max_connections)
        url = self.pg.createdb("atendimento")
        self.db = Db(self.pg.dsn("atendimento"))
        self.env = {
            "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}", "HOME": os.environ.get("HOME", "/root"),
            "LANG": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONPATH": f"{self.src}:{ROOT}",
            "DATABASE_URL": url, "REDIS_URL": self.redis.url, "SECRET_KEY": SECRET_KEY,
            "WHATSAPP_GRAPH_BASE_URL": graph_url, "SOCKETIO_CHANNEL": f"bench-{self.run_id}",
            "RATELIMIT_DEFAULT": "1000000/minute", "RATELIMIT_WEBHOOKS": "1000000/minute",
            "LOG_LEVEL": "WARNING", "DATA_DIR": str(self.logdir), "ACCESS_TOKEN_TTL": "14400",
            **self.extra_env,
        }
        log(f"private redis :{self.redis.port}, private postgres :{self.pg.port}")

    def run(self, argv: list[str], timeout: float = 600) -> str:
        out = subprocess.run(argv, env=self.env, cwd=self.src, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             timeout=timeout)
        if out.returncode:
            raise RuntimeError(f"{' '.join(argv)} failed:\n{out.stdout.decode(errors='replace')[-3000:]}")
        return out.stdout.decode(errors="replace")

    def migrate(self) -> None:
        self.run([str(VENV_BIN / "alembic"), "upgrade", "head"])

    def provision(self, doc: dict[str, Any], parallel: int = 2) -> None:
        """`flask --app api provision` in `parallel` processes, tenants split between them (passwords are
        scrypt-hashed one by one, ~0.1 s each)."""
        chunks = [doc["tenants"][i::parallel] for i in range(parallel)]
        procs = []
        for i, chunk in enumerate(c for c in chunks if c):
            path = self.logdir / f"provision-{i}.json"
            path.write_text(json.dumps({"tenants": chunk}))
            procs.append(subprocess.Popen([str(VENV_BIN / "flask"), "--app", "api", "provision", str(path)],
                                          env=self.env, cwd=self.src, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        for p in procs:
            out, _ = p.communicate(timeout=900)
            if p.returncode:
                raise RuntimeError(f"provision failed:\n{out.decode(errors='replace')[-3000:]}")

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        child = Child(name, argv, env or self.env, self.logdir, cwd=self.src)
        self.children.append(child)
        return child

    def gunicorn_argv(self, port: int, threads: int = 100, app: str = "api:create_app()",
                      extra: Sequence[str] = ()) -> list[str]:
        """The README's API command (gthread, one worker, 100 threads) on a loopback port."""
        return [str(VENV_BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads",
                str(threads), "--bind", f"127.0.0.1:{port}", *extra, app]

    def start_api(self, name: str = "api", threads: int = 100, app: str = "api:create_app()",
                  env: dict[str, str] | None = None, extra: Sequence[str] = ()) -> str:
        port = free_port()
        child = self.spawn(name, self.gunicorn_argv(port, threads, app, extra), env)
        base = f"http://127.0.0.1:{port}"
        self.apis[name] = (child, base)
        return base

    def wait_http(self, base: str, path: str = "/readyz", timeout: float = 60) -> None:
        def ok() -> bool:
            for c in self.children:
                if c.popen is not None and c.popen.poll() is not None and c.name.startswith("api"):
                    raise RuntimeError(f"{c.name} exited:\n{c.tail()}")
            return http_get_status(base + path) == 200

        wait_for(ok, timeout, f"{base}{path}")

    def worker_argv(self, name: str, concurrency: int = 1, app: str = "workers",
                    extra: Sequence[str] = ()) -> list[str]:
        return [str(VENV_BIN / "celery"), "-A", app, "worker", "--concurrency", str(concurrency), "--loglevel",
                "WARNING", "--without-mingle", "--without-gossip", "--hostname", f"{name}-{self.run_id}@%h",
                *extra]

    def start_worker(self, name: str, concurrency: int = 1, app: str = "workers",
                     extra: Sequence[str] = (), env: dict[str, str] | None = None) -> Child:
        return self.spawn(name, self.worker_argv(name, concurrency, app, extra), env)

    def start_beat(self) -> Child:
        return self.spawn("beat", [str(VENV_BIN / "celery"), "-A", "workers", "beat", "--loglevel", "WARNING",
                                   "--schedule", str(self.logdir / "celerybeat-schedule")])

    def worker_ready(self, child: Child, timeout: float = 60) -> None:
        """Wait until the worker's pool children exist (celery logs nothing at WARNING level)."""
        def ready() -> bool:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
            pooled = not any(pool in child.argv for pool in ("solo", "threads"))  # those run tasks in-process
            return (len(proc_children(child.pid)) >= 1 or not pooled) and cpu_settled(child.pid)

        wait_for(ready, timeout, f"worker {child.name}", interval=0.3)

    def close(self) -> None:
        for c in reversed(self.children):
            with contextlib.suppress(Exception):
                c.stop()
        if self.db is not None:
            self.db.close()
        if self.redis is not None:
            with contextlib.suppress(Exception):
                self.redis.stop()
        if self.pg is not None:
            with contextlib.suppress(Exception):
                self.pg.destroy()
        log(f"stack stopped (logs kept in {self.logdir})")


def cpu_settled(pid: int, window: float = 0.5) -> bool:
    """The process tree spent under 20% of a core during `window` (it finished importing)."""
    pids = tree(pid)
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(window)
    return sum(cpu_seconds(p) for p in pids) - before < 0.2 * window


def http_get_status(url: str, timeout: float = 2) -> int:
    from urllib.parse import urlsplit

    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
    try:
        conn.request("GET", u.path or "/")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------- HTTP client bits

class Api:
    """A keep-alive JSON client for one API instance (one per thread)."""

    def __init__(self, base: str, token: str | None = None, timeout: float = 10) -> None:
        import requests

        self.base, self.session = base, requests.Session()
        self.timeout = timeout
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        resp = self.session.request(method, self.base + path, json=body, timeout=self.timeout)
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, None


def login(base: str, tenant: str, email: str, password: str, online: bool = True, attempts: int = 5) -> str:
    """Log in (retrying 5xx), optionally go online; returns the access token."""
    api = Api(base, timeout=60)
    for i in range(attempts):
        status, doc = api.call("POST", "/api/auth/login", {"tenant": tenant, "email": email, "password": password})
        if status == 200:
            token = doc["access_token"]
            break
        time.sleep(0.5 * (i + 1))
    else:
        raise RuntimeError(f"login {tenant}/{email} failed: {status} {doc}")
    if online:
        api = Api(base, token, timeout=60)
        for i in range(attempts):
            status, doc = api.call("PUT", "/api/me/status", {"status": "online"})
            if status == 200:
                break
            time.sleep(0.5 * (i + 1))
        else:
            raise RuntimeError(f"going online {tenant}/{email} failed: {status} {doc}")
    return token


def post_raw(conn: http.client.HTTPConnection, path: str, raw: bytes, signature: str) -> int:
    conn.request("POST", path, raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature})
    resp = conn.getresponse()
    resp.read()
    return resp.status


@dataclass
class Shot:
    index: int
    scheduled: float  # monotonic
    started: float
    ended: float
    status: int  # -1: connection error or timeout
    wall: float  # time.time() at start, to match events seen by other processes


def open_loop(targets: Sequence[str], rate: float, duration: float, payload: Callable[[int], tuple[bytes, str]],
              path: str = "/webhooks/whatsapp", threads: int = 64, timeout: float = 10,
              stop: threading.Event | None = None, on_shot: Callable[[Shot], None] | None = None) -> list[Shot]:
    """Send `rate` requests a second for `duration` s on a fixed schedule (request i at t0 + i/rate), from a pool of
    keep-alive connections spread over `targets` (base URLs). Latency counts from the scheduled time, so a slow
    server cannot hide its queueing by slowing the generator down (no coordinated omission). Sending stops at
    `duration` + 10 % (+2 s) even when the server fell behind: what was never sent is left out (and the achieved
    rate shows it)."""
    from urllib.parse import urlsplit

    total = int(rate * duration)
    shots: list[Shot | None] = [None] * total
    counter = itertools.count()
    t0 = time.monotonic() + 0.2
    cutoff = t0 + duration * 1.1 + 2
    hosts = [urlsplit(t) for t in targets]

    def work(k: int) -> None:
        u = hosts[k % len(hosts)]
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        last = time.monotonic()
        while True:
            i = next(counter)
            if i >= total or (stop is not None and stop.is_set()) or time.monotonic() > cutoff:
                break
            scheduled = t0 + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - last > 1.5:  # gunicorn drops keep-alive connections idle for 2 s
                conn.close()
            last = time.monotonic()
            raw, sig = payload(i)
            wall = time.time()
            started = time.monotonic()
            try:
                status = post_raw(conn, path, raw, sig)
            except (OSError, http.client.HTTPException):
                status = -1
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
            shot = Shot(i, scheduled, started, time.monotonic(), status, wall)
            shots[i] = shot
            if on_shot is not None:
                on_shot(shot)
        conn.close()

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return [s for s in shots if s is not None]


def summarize_shots(shots: Sequence[Shot]) -> dict[str, float]:
    ok = [s for s in shots if s.status == 200]
    if not shots:
        return {"sent": 0}
    span = max(s.ended for s in shots) - min(s.scheduled for s in shots)
    lat = [s.ended - s.scheduled for s in ok]
    svc = [s.ended - s.started for s in ok]
    return {"sent": len(shots), "ok": len(ok), "errors": len(shots) - len(ok), "rps": len(ok) / span if span else 0,
            "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat) if lat else float("nan"),
            "svc_p50": pct(svc, 50), "svc_p99": pct(svc, 99),
            "late_p99": pct([s.started - s.scheduled for s in shots], 99)}


# --------------------------------------------------------------------------------------------- wrk

WRK_LUA = r"""
-- Sends pre-signed WhatsApp deliveries, each once: thread k of n takes lines k, k+n, k+2n ... of the file.
local items = {}
local n = 0
local wrapped = 0
function setup(thread)
  thread:set("tid", _G.next_tid or 0)
  _G.next_tid = (_G.next_tid or 0) + 1
end
function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local tab = string.find(line, "\t", 1, true)
      items[#items + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
    end
    i = i + 1
  end
end
function request()
  n = n + 1
  if n > #items then n = 1; wrapped = wrapped + 1 end
  local it = items[n]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = it[1]}, it[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def write_bodies(path: Path, items: Iterable[tuple[bytes, str]]) -> int:
    n = 0
    with path.open("wb") as fh:
        for raw, sig in items:
            assert b"\n" not in raw and b"\t" not in raw
            fh.write(sig.encode() + b"\t" + raw + b"\n")
            n += 1
    return n


def wrk(url: str, bodies: Path, duration: float, connections: int = 50, threads: int = 2,
        logdir: Path | None = None) -> dict[str, float]:
    """Closed-loop maximum throughput with `wrk` (Debian's package), every request a distinct signed body."""
    script = (logdir or bodies.parent) / "bodies.lua"
    script.write_text(WRK_LUA)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(duration)}s", "--timeout", "10s",
            "-s", str(script), url, "--", str(bodies), str(threads)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=duration + 60)
    text = out.stdout.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{text}")
    doc = json.loads(line.removeprefix("WRKJSON "))
    non2xx = 0
    for ln in text.splitlines():
        if "Non-2xx or 3xx responses:" in ln:
            non2xx = int(ln.rsplit(":", 1)[1])
    secs = doc["duration_us"] / 1e6
    return {"requests": doc["requests"], "rps": (doc["requests"] - non2xx) / secs, "non2xx": non2xx,
            "socket_errors": doc["connect"] + doc["read"] + doc["write"] + doc["timeout"],
            "p50": doc["p50_us"] / 1e6, "p90": doc["p90_us"] / 1e6, "p99": doc["p99_us"] / 1e6,
            "max": doc["max_us"] / 1e6, "seconds": secs}


# --------------------------------------------------------------------------------------------- sampling

class CpuSampler:
    """CPU seconds used per named process tree between start() and stop(): where the two cores went."""

    def __init__(self, groups: Callable[[], dict[str, list[int]]]) -> None:
        self.groups = groups
        self.start_at = 0.0
        self.before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        groups = {**self.groups(), "this-script": [os.getpid()]}  # the load generator and its measuring
        return {name: {p: cpu_seconds(p) for p in pids} for name, pids in groups.items()}

    def start(self) -> None:
        self.start_at, self.before, self.busy_before = time.monotonic(), self._read(), machine_busy()

    def stop(self) -> dict[str, float]:
        """Cores used by each group, plus `other`: the rest of the machine (this script, other people's runs)."""
        after, elapsed = self._read(), time.monotonic() - self.start_at
        out = {}
        for name, pids in after.items():
            used = sum(v - self.before.get(name, {}).get(p, 0.0) for p, v in pids.items())
            out[name] = used / elapsed if elapsed else 0.0  # cores
        busy = (machine_busy() - self.busy_before) / elapsed if elapsed else 0.0
        out["other"] = max(0.0, busy - sum(out.values()))
        return out


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def format_cpu(shares: dict[str, float]) -> str:
    total = sum(shares.values())
    parts = [f"{k}={v:.2f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])]
    return f"cores used: total={total:.2f} of {os.cpu_count()} | " + " ".join(parts)


def py_spy_top(pid: int, seconds: float, logdir: Path, name: str, rate: int = 50) -> list[tuple[str, float]]:
    """Sample `pid` with py-spy (if installed next to this interpreter or on PATH) and return the functions that
    take most samples (self time), as (frame, share)."""
    exe = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if exe is None:
        return []
    out = logdir / f"pyspy-{name}.txt"
    subprocess.run([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
                    "--format", "raw", "--output", str(out), "--nonblocking", "--gil"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60)
    return top_frames(out)


PROFILE_NEEDLES = (
    "do_execute (sqlalchemy", "do_commit (sqlalchemy", "do_ping (sqlalchemy", "sqlalchemy/orm", "opentelemetry",
    "prometheus", "flask_limiter", "kombu", "redis/", "models/services/sla", "models/rules/sla",
    "models/services/triage", "models/services/assignment", "models/outbox", "models/realtime", "marshmallow",
    "pubsub_manager", "redis_manager", "engineio/async_drivers", "simple_websocket",
    "werkzeug", "celery/app/trace", "json",
)


def profile(pid: int, seconds: float, logdir: Path, name: str) -> str:
    """py-spy `pid` (GIL-holding samples: where its CPU goes) and format the hot frames and big components."""
    top = py_spy_top(pid, seconds, logdir, name)
    if not top:
        return f"(no py-spy samples for {name})"
    lines = [f"{name}: hot frames (self share of GIL-holding samples)"]
    lines += [f"    {share * 100:5.1f}%  {frame}" for frame, share in top]
    inc = inclusive_modules(logdir / f"pyspy-{name}.txt", PROFILE_NEEDLES)
    lines.append("  inclusive: " + ", ".join(f"{k.split(' (')[0]} {v * 100:.0f}%"
                                             for k, v in sorted(inc.items(), key=lambda kv: -kv[1]) if v >= 0.02))
    return "\n".join(lines)


def top_frames(path: Path, limit: int = 12) -> list[tuple[str, float]]:
    """Self samples and inclusive samples by frame from py-spy's raw (collapsed) output."""
    selfs: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        selfs[leaf] = selfs.get(leaf, 0) + n
    return [(k, v / total) for k, v in sorted(selfs.items(), key=lambda kv: -kv[1])[:limit]] if total else []


def inclusive_modules(path: Path, needles: Sequence[str]) -> dict[str, float]:
    """Share of samples whose stack passes through a frame containing each needle (e.g. 'sqlalchemy')."""
    counts = dict.fromkeys(needles, 0)
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        for needle in needles:
            if needle in stack:
                counts[needle] += n
    return {k: v / total for k, v in counts.items()} if total else {}


class Listener:
    """A threaded python-socketio client (websocket transport) recording (event, envelope, time.time())."""

    def __init__(self, base: str, token: str, names: Sequence[str] | None = None) -> None:
        import socketio

        self.events: list[tuple[str, dict[str, Any], float]] = []
        self.names = set(names) if names else None
        self.client = socketio.Client(reconnection=True)
        self.client.on("*", self._record)
        self.client.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=20)

    def _record(self, name: str, data: dict[str, Any]) -> None:
        if self.names is None or name in self.names:
            self.events.append((name, data, time.time()))  # list.append is atomic under the GIL

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.disconnect()


def jitter_senders(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    numbers = rng.sample(range(10**7, 10**8), count)
    return [sender_number(n) for n in numbers]
