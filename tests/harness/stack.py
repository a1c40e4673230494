"""The app's processes: the API under the README's gunicorn command, Celery workers and beat.

`running_stack` is what the end-to-end tests use (on the test database and Redis). `Stack` is what the benchmarks
and campaigns use: a private PostgreSQL cluster and Redis, the app run from a snapshot of a commit, every child
stopped by `Stack.close()` (call it in a finally block).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from tests.harness.processes import BIN, ROOT, Proc, cpu_settled, free_port, proc_children, wait_until
from tests.harness.services import Db, PrivatePostgres, PrivateRedis

VENV_BIN = ROOT / ".venv" / "bin"  # the ops scripts run the app from the project's venv (they may run elsewhere)
SECRET_KEY = "bench-secret-key-of-at-least-thirty-two-chars"


def gunicorn_argv(port: int, threads: int = 20, app: str = "api:create_app()", extra: Sequence[str] = (),
                  bin_dir: Path = BIN) -> list[str]:
    """The README's API command (gthread, one worker) on a loopback port."""
    return [str(bin_dir / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads", str(threads),
            "--bind", f"127.0.0.1:{port}", *extra, app]


def sockets_argv(port: int, bin_dir: Path = BIN) -> list[str]:
    """The Socket.IO tier's command (gevent, ops/gunicorn.sockets.conf.py) on a loopback port."""
    return [str(bin_dir / "gunicorn"), "-c", str(ROOT / "ops" / "gunicorn.sockets.conf.py"),
            "--bind", f"127.0.0.1:{port}", "api:create_app()"]


def worker_argv(hostname: str, concurrency: int = 1, app: str = "workers", loglevel: str = "INFO",
                extra: Sequence[str] = (), bin_dir: Path = BIN) -> list[str]:
    return [str(bin_dir / "celery"), "-A", app, "worker", "--concurrency", str(concurrency), "--loglevel", loglevel,
            "--without-mingle", "--without-gossip", "--hostname", hostname, *extra]


def beat_argv(schedule: Path, loglevel: str = "INFO", bin_dir: Path = BIN) -> list[str]:
    return [str(bin_dir / "celery"), "-A", "workers", "beat", "--loglevel", loglevel, "--schedule", str(schedule)]


def wait_ready(base_url: str, procs: list[Proc], timeout: float = 40) -> None:
    """Until `base_url`/readyz answers 200; fails at once with its log when one of `procs` exited."""
    def ready() -> bool:
        for p in procs:
            if p.popen is not None and p.popen.poll() is not None:
                raise AssertionError(f"{p.name} exited early:\n{p.tail()}")
        return requests.get(f"{base_url}/readyz", timeout=1).status_code == 200

    wait_until(ready, timeout=timeout, what=f"{base_url}/readyz")


@contextlib.contextmanager
def running_stack(env: dict[str, str], logdir: Path, apis: int = 1, beat: bool = False) -> Iterator[list[str]]:
    """gunicorn API instance(s) and a Celery worker (and beat) on `env`; yields the API base URLs.

    Prints every process's log tail when the body fails, and stops them all in any case.
    """
    ports = [free_port() for _ in range(apis)]
    procs = [Proc(f"api{i}", gunicorn_argv(port), env, logdir) for i, port in enumerate(ports)]
    procs.append(Proc("worker", worker_argv(f"e2e-{ports[0]}@%h", concurrency=2), env, logdir))
    if beat:
        procs.append(Proc("beat", beat_argv(logdir / "celerybeat-schedule"), env, logdir))
    bases = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for base in bases:
            wait_ready(base, procs)
        yield bases
    except BaseException:
        for p in procs:
            print(f"--- {p.name}\n{p.tail()}")
        raise
    finally:
        for p in procs:
            p.stop()


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


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


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
                                     text=True, check=False).stdout.strip()
        if self.source != "live":
            self.src = self.logdir / "src"
            self.src.mkdir()
            archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], capture_output=True, check=True)
            subprocess.run(["tar", "-x", "-C", str(self.src)], input=archive.stdout, check=True)
        else:
            self.src = ROOT
            self.commit += "+work-tree"
        self.children: list[Proc] = []
        self.pg: PrivatePostgres | None = None
        self.redis: PrivateRedis | None = None
        self.db: Db | None = None
        self.env: dict[str, str] = {}
        self.apis: dict[str, tuple[Proc, str]] = {}
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
                             timeout=timeout, check=False)  # the return code is read below
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

    def spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Proc:
        child = Proc(name, argv, env or self.env, self.logdir, cwd=self.src)
        self.children.append(child)
        return child

    def gunicorn_argv(self, port: int, threads: int = 100, app: str = "api:create_app()",
                      extra: Sequence[str] = ()) -> list[str]:
        """The README's API command (gthread, one worker, 100 threads) on a loopback port."""
        return gunicorn_argv(port, threads, app, extra, bin_dir=VENV_BIN)

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

        wait_until(ok, timeout, f"{base}{path}", ignore=(OSError, http.client.HTTPException))

    def worker_argv(self, name: str, concurrency: int = 1, app: str = "workers",
                    extra: Sequence[str] = ()) -> list[str]:
        return worker_argv(f"{name}-{self.run_id}@%h", concurrency, app, "WARNING", extra, bin_dir=VENV_BIN)

    def start_worker(self, name: str, concurrency: int = 1, app: str = "workers",
                     extra: Sequence[str] = (), env: dict[str, str] | None = None) -> Proc:
        return self.spawn(name, self.worker_argv(name, concurrency, app, extra), env)

    def start_beat(self) -> Proc:
        return self.spawn("beat", beat_argv(self.logdir / "celerybeat-schedule", "WARNING", bin_dir=VENV_BIN))

    def worker_ready(self, child: Proc, timeout: float = 60) -> None:
        """Wait until the worker's pool children exist (celery logs nothing at WARNING level)."""
        def ready() -> bool:
            if not child.alive():
                raise RuntimeError(f"{child.name} exited:\n{child.tail()}")
            pooled = not any(pool in child.argv for pool in ("solo", "threads"))  # those run tasks in-process
            return (len(proc_children(child.pid)) >= 1 or not pooled) and cpu_settled(child.pid)

        wait_until(ready, timeout, f"worker {child.name}", interval=0.3)

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
