"""Fault tests on the real stack: gunicorn API + two Celery worker processes on PostgreSQL and Redis, sending to a
local Graph API whose behaviour the test switches (fail, hang, hold a call while a worker is killed).

The Redis database is flushed before and after each test: the broker's queues and the breakers' state of one
scenario must not leak into the next (channel ids restart with the tables).
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Message, Ticket
from models.providers import breaker
from models.tickets import DeliveryStatus, Direction
from tests.e2e.harness import BIN, Proc, child_env, free_port, wait_ready, wait_until
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, sign, text_delivery

SECRET = "faults-secret-of-at-least-thirty-two-chars"
OPEN_SECONDS = 3  # the breakers' open period in these tests (fleet-wide policy in Redis)
HANG_LIMIT = 45.0  # a hung call is let go after this at the latest (the test releases it earlier)


@dataclass
class Call:
    at: float
    body: str
    outcome: str  # accepted | error | hung | abandoned


@dataclass
class FaultyGraph:
    """The local Graph API with a switch. Modes, read when a call arrives:

    - `ok`: accepts (200 and a wamid); `error`: 500, a Meta "service unavailable" error;
    - `hang`: holds the call until `unhang()` (or HANG_LIMIT), then answers 503: it never accepts it;
    - `hold`: holds the first call that arrives (`held` is set) until `release()`, then switches to `ok`. The held
      call is accepted only if its caller is still alive then (`caller_dead` False): a provider that accepts a
      message when it answers, so a caller killed before that has sent nothing.
    """

    server: GraphServer = field(default_factory=GraphServer)
    mode: str = "ok"
    calls: list[Call] = field(default_factory=list)
    held: threading.Event = field(default_factory=threading.Event)
    caller_dead: bool = False
    _release: threading.Event = field(default_factory=threading.Event)
    _unhang: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.server.responder = self._answer
        quiet = self.server.httpd.handle_error

        def handle_error(request: Any, client_address: Any) -> None:
            if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):  # a caller gone
                quiet(request, client_address)

        self.server.httpd.handle_error = handle_error  # type: ignore[method-assign]

    @property
    def url(self) -> str:
        return self.server.url

    def _answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
        body = str(record["body"].get("text", {}).get("body", ""))
        with self._lock:
            mode = self.mode
            if mode == "hold":
                self.mode = "ok"
        if mode == "error":
            return self._log(body, "error", 500, {"error": {"message": "Service temporarily unavailable",
                                                             "type": "OAuthException", "code": 2}})
        if mode == "hang":
            self._log(body, "hung", 0, {})
            self._unhang.wait(HANG_LIMIT)
            return 503, {"error": {"message": "gave up", "code": 2}}, {}
        if mode == "hold":
            self.held.set()
            self._release.wait(HANG_LIMIT)
            if self.caller_dead:
                return self._log(body, "abandoned", 503, {"error": {"message": "caller gone", "code": 2}})
        wamid = f"wamid.{uuid.uuid4().hex}"
        return self._log(body, "accepted", 200, {"messaging_product": "whatsapp",
                                                 "contacts": [{"input": record["body"]["to"]}],
                                                 "messages": [{"id": wamid}]})

    def _log(self, body: str, outcome: str, status: int, doc: dict[str, Any]) -> tuple[int, dict[str, Any],
                                                                                       dict[str, str]]:
        with self._lock:
            self.calls.append(Call(time.monotonic(), body, outcome))
        return status, doc, {}

    def count(self, outcome: str) -> int:
        with self._lock:
            return sum(1 for c in self.calls if c.outcome == outcome)

    def accepted(self) -> Counter[str]:
        with self._lock:
            return Counter(c.body for c in self.calls if c.outcome == "accepted")

    def accepted_at(self, body: str) -> float | None:
        with self._lock:
            return next((c.at for c in self.calls if c.outcome == "accepted" and c.body == body), None)

    def release(self) -> None:
        self._release.set()

    def unhang(self) -> None:
        self._unhang.set()

    def close(self) -> None:
        self.unhang()
        self.release()
        self.server.close()


@dataclass
class Stack:
    base: str
    api: Proc
    workers: list[Proc]
    channel_id: int
    breaker: breaker.Breaker
    sessions: sessionmaker[Session]

    def logs(self) -> str:
        return "\n".join(w.log.read_text(errors="replace") for w in self.workers)

    def circuit(self) -> str:
        return self.breaker.state()


@pytest.fixture
def provider() -> Iterator[FaultyGraph]:
    graph = FaultyGraph()
    yield graph
    graph.close()


@pytest.fixture
def start_stack(database_url: str, redis_url: str, provider: FaultyGraph, tenants: dict[str, Any],
                sessions: sessionmaker[Session], tmp_path: Path,
                request: pytest.FixtureRequest) -> Iterator[Callable[..., Stack]]:
    """Starts the API and two single-process workers (`--concurrency 1` each); keyword arguments add env vars."""
    client = redis.Redis.from_url(redis_url)
    procs: list[Proc] = []

    def start(**extra_env: str) -> Stack:
        client.flushdb()
        client.hset(breaker.POLICY_KEY, mapping={"open_seconds": OPEN_SECONDS})
        port = free_port()
        env = child_env(DATABASE_URL=database_url, REDIS_URL=redis_url, SECRET_KEY=SECRET,
                        WHATSAPP_GRAPH_BASE_URL=provider.url, SOCKETIO_CHANNEL=f"faults-{uuid.uuid4().hex[:8]}",
                        DATA_DIR=str(tmp_path), HTTP_CONNECT_TIMEOUT="1", HTTP_READ_TIMEOUT="1",
                        RATELIMIT_DEFAULT="10000/minute", **extra_env)
        procs.append(Proc("api", [str(BIN / "gunicorn"), "--worker-class", "gthread", "--workers", "1",
                                  "--threads", "20", "--bind", f"127.0.0.1:{port}", "api:create_app()"],
                          env, tmp_path))
        for name in ("worker-a", "worker-b"):
            procs.append(Proc(name, [str(BIN / "celery"), "-A", "workers", "worker", "--concurrency", "1",
                                     "--loglevel", "INFO", "--without-mingle", "--without-gossip",
                                     "--hostname", f"{name}-{port}@%h"], env, tmp_path))
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, procs)
        for w in procs[1:]:
            wait_until(lambda w=w: " ready." in w.log.read_text(errors="replace"), timeout=30,
                       what=f"{w.name} ready")
        channel_id = tenants["channels"][PHONE_NUMBER_ID].id
        return Stack(base, procs[0], procs[1:], channel_id,
                     breaker.Breakers(breaker.connect(redis_url)).get("whatsapp", channel_id), sessions)

    yield start
    report = getattr(request.node, "rep_call", None)
    for p in procs:
        p.stop()
        if report is None or report.failed:
            print(f"--- {p.name}\n{p.tail(60)}")
    client.flushdb()
    client.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Keeps the test's own outcome on the item, so a fixture can show the processes' logs when it failed."""
    outcome = yield
    report = outcome.get_result()  # type: ignore[attr-defined]
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]


class Agent:
    """Ana, online over the real API, with one WhatsApp ticket assigned to her."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        tokens = requests.post(f"{stack.base}/api/auth/login", json={
            "tenant": "acme", "email": "ana@acme.example", "password": "pw-ana"}, timeout=5).json()
        self.auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert requests.put(f"{stack.base}/api/me/status", json={"status": "online"}, headers=self.auth,
                            timeout=5).status_code == 200
        assert self.customer_writes("Oi, preciso de ajuda") == 200
        self.ticket_id = wait_until(self._assigned_ticket, timeout=20, what="the ticket assigned to ana")

    def _assigned_ticket(self) -> int | None:
        with self.stack.sessions() as s:
            return s.scalar(select(Ticket.id).where(Ticket.agent_id.is_not(None)))

    def customer_writes(self, body: str) -> int:
        """A signed WhatsApp delivery to the webhook; returns the HTTP status."""
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", body=body))
        return requests.post(f"{self.stack.base}/webhooks/whatsapp", data=raw, timeout=5, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code

    def reply(self, body: str) -> int:
        resp = requests.post(f"{self.stack.base}/api/tickets/{self.ticket_id}/messages", json={"body": body},
                             headers=self.auth, timeout=5)
        assert resp.status_code == 202, resp.text
        return int(resp.json()["id"])


def outbound(sessions: sessionmaker[Session]) -> dict[str, Message]:
    with sessions() as s:
        return {m.body: m for m in s.scalars(select(Message).where(Message.direction == Direction.OUTBOUND))}


def settled(sessions: sessionmaker[Session], bodies: list[str]) -> bool:
    messages = outbound(sessions)
    return all(b in messages and messages[b].status in (DeliveryStatus.SENT, DeliveryStatus.FAILED) for b in bodies)


@dataclass
class Ledger:
    """What was asked for against what the provider accepted, once every message settled."""

    scenario: str
    requested: int
    delivered: int
    failed: int
    duplicated: int
    still_queued: int
    provider_calls: dict[str, int]

    @classmethod
    def take(cls, scenario: str, bodies: list[str], provider: FaultyGraph,
             sessions: sessionmaker[Session]) -> Ledger:
        accepted = provider.accepted()
        messages = outbound(sessions)
        return cls(scenario, len(bodies), delivered=sum(1 for b in bodies if accepted[b] >= 1),
                   failed=sum(1 for b in bodies if messages[b].status == DeliveryStatus.FAILED),
                   duplicated=sum(1 for b in bodies if accepted[b] > 1),
                   still_queued=sum(1 for b in bodies if messages[b].status == DeliveryStatus.QUEUED),
                   provider_calls=dict(Counter(c.outcome for c in provider.calls)))

    def show(self) -> None:
        print(f"\n[ledger] {self.scenario}: requested={self.requested} delivered={self.delivered} "
              f"failed={self.failed} duplicated={self.duplicated} still_queued={self.still_queued} "
              f"provider_calls={self.provider_calls}")

    def assert_exactly_once(self) -> None:
        assert (self.delivered, self.failed, self.duplicated, self.still_queued) == (self.requested, 0, 0, 0), self
