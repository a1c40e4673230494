"""Pieces of the fault campaign: a provider that retries like Meta, an agent who answers every ticket, a Graph API
that can be made to fail, and the ledger that checks nothing was lost or duplicated.

The stack itself (private PostgreSQL cluster, private Redis, API, workers, beat) comes from ops/bench/stack.py.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import http.client
import itertools
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import stack as sk

from tests.fakes.graph import GraphServer


@dataclass
class Delivery:
    index: int
    sender: str
    wamid: str
    first_sent: float = 0.0  # time.time()
    accepted_at: float | None = None
    attempts: int = 0
    refused: int = 0  # 5xx answers (re-sent)
    conn_errors: int = 0  # no answer at all (re-sent)
    codes: dict[int, int] = field(default_factory=dict)


class Provider:
    """Sends one new customer's message `rate` times a second; re-sends a delivery answered 5xx (or not at all)
    with backoff until it is accepted, as Meta does."""

    def __init__(self, base: str, tenant: sk.Tenant, rate: float, run_id: str, threads: int = 16) -> None:
        from urllib.parse import urlsplit

        u = urlsplit(base)
        self.host, self.port = u.hostname, u.port
        self.tenant, self.rate, self.run_id = tenant, rate, run_id
        self.deliveries: list[Delivery] = []
        self.stop_new = threading.Event()  # no new customers after this
        self.stop_all = threading.Event()  # give up re-sending
        self.lock = threading.Lock()
        self.retry: list[tuple[float, Delivery]] = []
        self.threads = [threading.Thread(target=self._work, daemon=True) for _ in range(threads)]
        self.scheduler = threading.Thread(target=self._schedule, daemon=True)
        self.pending: list[Delivery] = []
        self.cv = threading.Condition(self.lock)

    def start(self) -> None:
        self.scheduler.start()
        for t in self.threads:
            t.start()

    def _schedule(self) -> None:
        t0 = time.monotonic()
        for i in itertools.count():
            if self.stop_new.is_set() or self.stop_all.is_set():
                break
            delay = t0 + i / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            d = Delivery(i, sk.sender_number(5_000_000 + i), f"wamid.fault.{self.run_id}.{i}")
            with self.cv:
                self.deliveries.append(d)
                self.pending.append(d)
                self.cv.notify()

    def _next(self) -> Delivery | None:
        with self.cv:
            while not self.stop_all.is_set():
                now = time.monotonic()
                due = [r for r in self.retry if r[0] <= now]
                if due:
                    self.retry.remove(due[0])
                    return due[0][1]
                if self.pending:
                    return self.pending.pop(0)
                self.cv.wait(0.1)
        return None

    def _work(self) -> None:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
        last = time.monotonic()
        while (d := self._next()) is not None:
            if time.monotonic() - last > 1.5:  # gunicorn drops keep-alive connections idle for 2 s
                conn.close()
            last = time.monotonic()
            raw, sig = sk.signed(self.tenant, d.wamid, d.sender, f"pedido {d.index}")
            if not d.first_sent:
                d.first_sent = time.time()
            d.attempts += 1
            try:
                status = sk.post_raw(conn, "/webhooks/whatsapp", raw, sig)
            except (OSError, http.client.HTTPException):
                status = -1
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            d.codes[status] = d.codes.get(status, 0) + 1
            if status == 200:
                d.accepted_at = time.time()
                continue
            if status == -1:
                d.conn_errors += 1
            else:
                d.refused += 1
            backoff = min(10.0, 0.5 * 2 ** min(d.attempts - 1, 5))
            with self.cv:
                self.retry.append((time.monotonic() + backoff, d))

    def outstanding(self) -> int:
        with self.lock:
            return sum(1 for d in self.deliveries if d.accepted_at is None)

    def close(self) -> None:
        self.stop_all.set()
        with self.cv:
            self.cv.notify_all()


class Agent:
    """One agent who answers every ticket assigned to them through the API, then resolves it. Polls (events over
    Redis pub/sub can be lost while Redis restarts; the API cannot). A request whose outcome is unknown (no answer)
    is checked against the ticket's messages before it is asked again, so the agent never asks twice."""

    def __init__(self, base: str, tenant: sk.Tenant, email: str, password: str) -> None:
        self.base, self.tenant, self.email, self.password = base, tenant, email, password
        self.token = sk.login(base, tenant.slug, email, password)
        self.replied: dict[int, float] = {}  # ticket id -> time the reply was accepted (202)
        self.resolved: set[int] = set()
        self.busy: set[int] = set()
        self.pool = cf.ThreadPoolExecutor(4)
        self.local = threading.local()
        self.errors: dict[str, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _count(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1

    def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        import requests

        api = getattr(self.local, "api", None)
        if api is None:
            api = self.local.api = sk.Api(self.base, self.token, timeout=10)
        try:
            return api.call(method, path, body)
        except requests.RequestException:
            self.local.api = None
            return -1, None

    def _handle(self, tid: int) -> None:
        try:
            if tid not in self.replied:
                self._reply(tid)
            if tid in self.replied and tid not in self.resolved:
                code, _ = self._call("POST", f"/api/tickets/{tid}/resolve")
                if code == 200:
                    self.resolved.add(tid)
                else:
                    self._count(f"resolve {code}")
        finally:
            self.busy.discard(tid)

    def _reply(self, ticket_id: int) -> None:
        body = f"resposta ao ticket {ticket_id}"
        status, _doc = self._call("POST", f"/api/tickets/{ticket_id}/messages", {"body": body})
        if status == 202:
            self.replied[ticket_id] = time.time()
            return
        self._count(f"reply {status}")
        if status == -1:  # unknown outcome: did it commit?
            code, page = self._call("GET", f"/api/tickets/{ticket_id}/messages?limit=200")
            if code == 200 and any(m.get("direction") == "out" and m.get("body") == body
                                   for m in page.get("items", [])):
                self.replied[ticket_id] = time.time()

    def _run(self) -> None:
        while not self.stop.is_set():
            status, page = self._call("GET", "/api/tickets?mine=true&status=assigned&limit=200")
            if status != 200:
                self._count(f"list {status}")
                self.stop.wait(0.5)
                continue
            for item in page.get("items", []):
                tid = int(item["id"])
                if tid not in self.busy and tid not in self.resolved:
                    self.busy.add(tid)
                    self.pool.submit(self._handle, tid)
            self.stop.wait(0.3)

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=15)
        self.pool.shutdown(wait=True, cancel_futures=True)


class FlakyGraph:
    """tests.fakes.graph.GraphServer with a switch: `failing` answers 500 to every send; `delay` slows each call.
    Records, per recipient, the time of every accepted (200) send, and counts the calls in flight."""

    def __init__(self, delay: float = 0.0) -> None:
        self.server = GraphServer()
        self.server.delay = 0.0
        self.url = self.server.url
        self.failing = threading.Event()
        self.failed = 0
        self.delay = delay
        self.inflight = 0
        self.accepted: dict[str, list[float]] = {}
        self.bodies: dict[str, list[str]] = {}
        self.lock = threading.Lock()
        original = self.server.answer

        def answer(record: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
            with self.lock:
                self.inflight += 1
            try:
                if self.delay:
                    time.sleep(self.delay)
                if self.failing.is_set():
                    with self.lock:
                        self.failed += 1
                    return 500, {"error": {"message": "An unknown error has occurred.", "type": "OAuthException",
                                           "code": 1, "fbtrace_id": "Fault"}}, {}
                status, doc, headers = original(record)
                if status == 200:
                    to = str(record["body"].get("to"))
                    text = str((record["body"].get("text") or {}).get("body"))
                    with self.lock:
                        self.accepted.setdefault(to, []).append(time.time())
                        self.bodies.setdefault(to, []).append(text)
                return status, doc, headers
            finally:
                with self.lock:
                    self.inflight -= 1

        self.server.answer = answer  # type: ignore[method-assign]

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.server.close()


def graph_connections(pids: list[int], graph_port: int) -> set[int]:
    """Which of `pids` hold an established TCP connection to the Graph server (the worker calling it)."""
    import psutil

    out = set()
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            for c in psutil.Process(pid).net_connections(kind="tcp"):
                if c.raddr and c.raddr.port == graph_port and c.status == psutil.CONN_ESTABLISHED:
                    out.add(pid)
    return out
