"""Private services owned by the calling script: a throwaway PostgreSQL cluster and a Redis server on free loopback
ports (never the machine's own), and a small psycopg2 helper for the measuring side."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.harness.processes import Proc, free_port, wait_until

PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))


class PrivateRedis:
    """redis-server on a free port as a child of this script: no persistence, gone when stopped."""

    def __init__(self, logdir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.child = Proc("redis", ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
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
        wait_until(self.ping, 20, f"redis on {self.port}")

    def stop(self) -> None:
        self.child.stop()

    def start(self) -> None:
        self.child.start()
        self.wait()


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster in a temp dir, run as the `postgres` user, trust auth, on a free port.

    ATD_PG_OPTIONS adds server options, e.g. `-c shared_preload_libraries=pg_stat_statements
    -c pg_stat_statements.track_planning=on` to see where a campaign's database time goes."""

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
                        f"-c max_connections={max_connections} {os.environ.get('ATD_PG_OPTIONS', '')}").strip()
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
