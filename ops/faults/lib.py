"""Pieces of the fault campaign: a provider that retries like Meta, and which worker is calling the Graph API.

The stack (private PostgreSQL cluster, private Redis, API, workers, beat), the agent who answers every ticket and
the Graph API that can be made to fail come from the harness (tests.harness).
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import threading
import time
from dataclasses import dataclass, field

from ops.bench import loadgen
from ops.bench import tenants as tn


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

    def __init__(self, base: str, tenant: tn.Tenant, rate: float, run_id: str, threads: int = 16) -> None:
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
            d = Delivery(i, tn.sender_number(5_000_000 + i), f"wamid.fault.{self.run_id}.{i}")
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
            raw, sig = tn.signed(self.tenant, d.wamid, d.sender, f"pedido {d.index}")
            if not d.first_sent:
                d.first_sent = time.time()
            d.attempts += 1
            try:
                status = loadgen.post_raw(conn, "/webhooks/whatsapp", raw, sig)
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
