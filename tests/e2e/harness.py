"""Real processes for end-to-end tests: the API under a real server, Celery workers, socket clients."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import socketio

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A child process whose output goes to a log file, shown when a test fails."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.log = logdir / f"{name}.log"
        self._fh = self.log.open("wb")
        self.popen = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=self._fh, stderr=subprocess.STDOUT,
                                      start_new_session=True)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
        self._fh.close()

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def child_env(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PGUSER", "PGHOST", "PGPORT",
                                                               "PYTHONPATH")}
    return {**keep, "PYTHONUNBUFFERED": "1", **values}


def wait_until(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except (requests.ConnectionError, OSError):
            value = None
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def wait_ready(base_url: str, procs: list[Proc]) -> None:
    def ready() -> bool:
        for p in procs:
            if p.popen.poll() is not None:
                raise AssertionError(f"{p.name} exited early:\n{p.tail()}")
        return requests.get(f"{base_url}/readyz", timeout=1).status_code == 200

    wait_until(ready, timeout=40, what=f"{base_url}/readyz")


class Listener:
    """A python-socketio client that records every event it receives."""

    def __init__(self, base_url: str, token: str) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(base_url, auth={"token": token}, wait_timeout=10)

    def _record(self, name: str, data: dict[str, Any]) -> None:
        with self._lock:
            self.events.append((name, data))

    def wait_for(self, name: str, timeout: float = 20, **match: Any) -> dict[str, Any]:
        def found() -> dict[str, Any] | None:
            with self._lock:
                for event, data in self.events:
                    if event == name and all(data["data"].get(k) == v for k, v in match.items()):
                        return data
            return None

        return wait_until(found, timeout, what=f"socket event {name} {match}")

    def close(self) -> None:
        self.client.disconnect()


@contextmanager
def running_stack(env: dict[str, str], logdir: Path, apis: int = 1, beat: bool = False) -> Iterator[list[str]]:
    """gunicorn API instance(s) and a Celery worker (and beat) on `env`; yields the API base URLs.

    Prints every process's log tail when the body fails, and stops them all in any case.
    """
    ports = [free_port() for _ in range(apis)]
    procs = [Proc(f"api{i}", [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1", "--threads",
                              "20", "--bind", f"127.0.0.1:{port}", "api:create_app()"], env, logdir)
             for i, port in enumerate(ports)]
    procs.append(Proc("worker", [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "2", "--loglevel",
                                 "INFO", "--without-mingle", "--without-gossip", "--hostname",
                                 f"e2e-{ports[0]}@%h"], env, logdir))
    if beat:
        procs.append(Proc("beat", [str(BIN / "celery"), "-A", "workers", "beat", "--loglevel", "INFO",
                                   "--schedule", str(logdir / "celerybeat-schedule")], env, logdir))
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
