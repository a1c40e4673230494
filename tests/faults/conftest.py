"""Fault tests on the real stack: gunicorn API + two Celery worker processes on PostgreSQL and Redis, sending to a
local Graph API whose behaviour the test switches (fail, hang, hold a call while a worker is killed).

The Redis database is flushed before and after each test: the broker's queues and the breakers' state of one
scenario must not leak into the next (channel ids restart with the tables).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
from tests.fakes.whatsapp import PHONE_NUMBER_ID, encode, sign, text_delivery
from tests.harness.agents import Agent as ApiAgent
from tests.harness.processes import Proc, child_env, free_port, wait_until
from tests.harness.providers import FlakyGraph
from tests.harness.stack import gunicorn_argv, wait_ready, worker_argv

SECRET = "faults-secret-of-at-least-thirty-two-chars"
OPEN_SECONDS = 3  # the breakers' open period in these tests (fleet-wide policy in Redis)


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
def provider() -> Iterator[FlakyGraph]:
    graph = FlakyGraph()
    yield graph
    graph.close()


@pytest.fixture
def start_stack(database_url: str, redis_url: str, provider: FlakyGraph, tenants: dict[str, Any],
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
        procs.append(Proc("api", gunicorn_argv(port), env, tmp_path))
        for name in ("worker-a", "worker-b"):
            procs.append(Proc(name, worker_argv(f"{name}-{port}@%h"), env, tmp_path))
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


class Agent(ApiAgent):
    """Ana, online over the real API, with one WhatsApp ticket assigned to her."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(stack.base, "acme", "ana@acme.example", "pw-ana")  # logs in and goes online
        self.stack = stack
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
    def take(cls, scenario: str, bodies: list[str], provider: FlakyGraph,
             sessions: sessionmaker[Session]) -> Ledger:
        accepted = provider.accepted_bodies()
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
