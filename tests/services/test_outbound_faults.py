"""Outbound under faults: the shared circuit breaker on a real Redis, and the two-step send on the real database.

Two `Breakers` built on two clients play two worker processes sharing one Redis.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
import redis
from prometheus_client import REGISTRY
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Message, Ticket, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.org import AgentStatus
from models.providers import breaker
from models.providers.adapter import Transport
from models.providers.base import OutboundMessage
from models.providers.registry import adapter_for
from models.services import conversation, outbound
from models.services.agents import set_status
from models.services.triage import StatusBeforeMessage
from models.tickets import DeliveryStatus
from tests.fakes.graph import GraphServer, status_for
from tests.fakes.whatsapp import status_delivery, text_delivery
from tests.harness.processes import free_port
from tests.services.helpers import drain, store

T0 = 1_800_000_000.0  # breaker clock: epoch seconds, driven by the tests


def clear(client: redis.Redis) -> None:
    for key in client.scan_iter(f"{breaker.PREFIX}:*"):
        client.delete(key)


@pytest.fixture
def fleet(redis_url: str) -> Iterator[Callable[[], breaker.Breakers]]:
    """Makes the breakers of one more worker process: its own client on the shared Redis."""
    clients: list[redis.Redis] = []

    def process() -> breaker.Breakers:
        clients.append(breaker.connect(redis_url))
        return breaker.Breakers(clients[-1])

    clear(breaker.connect(redis_url))
    yield process
    clear(breaker.connect(redis_url))
    for c in clients:
        c.close()


def fail(b: breaker.Breaker, times: int, now: float = T0) -> None:
    for _ in range(times):
        b.record(b.allow(now), ok=False, now=now)


def sample(name: str, **labels: str) -> float | None:
    return REGISTRY.get_sample_value(name, labels)


def test_the_threshold_counts_failures_of_every_process(fleet: Callable[[], breaker.Breakers],
                                                        caplog: pytest.LogCaptureFixture) -> None:
    one, two = fleet().get("whatsapp", "c1"), fleet().get("whatsapp", "c1")
    for i in range(breaker.FAILURE_THRESHOLD - 1):
        fail(one if i % 2 else two, 1)
    assert one.allow(T0).allowed and two.allow(T0).allowed and one.state() == "closed"
    with caplog.at_level(logging.INFO, logger=breaker.__name__):
        fail(two, 1)
    seen = one.allow(T0 + 1)
    assert (seen.allowed, seen.state) == (False, "open") and seen.retry_in == pytest.approx(29)
    assert not two.allow(T0 + 1).allowed
    assert sample("atendimento_circuit_state", provider="whatsapp", channel="c1") == 2
    assert sample("atendimento_circuit_transitions_total", provider="whatsapp", channel="c1", to="open") == 1
    assert [r.getMessage() for r in caplog.records].count(f"circuit whatsapp/c1: closed -> open at {T0:.3f}") == 1


def test_a_success_resets_the_consecutive_count(fleet: Callable[[], breaker.Breakers]) -> None:
    b = fleet().get("twilio", "c2")
    fail(b, breaker.FAILURE_THRESHOLD - 1)
    b.record(b.allow(T0), ok=True, now=T0)
    fail(b, breaker.FAILURE_THRESHOLD - 1)
    assert b.state() == "closed"


def test_half_open_lets_exactly_one_probe_through(fleet: Callable[[], breaker.Breakers]) -> None:
    fail(fleet().get("whatsapp", "c3"), breaker.FAILURE_THRESHOLD)
    workers = [fleet().get("whatsapp", "c3") for _ in range(16)]
    start = threading.Barrier(len(workers))
    permits: list[breaker.Permit] = []

    def ask(b: breaker.Breaker) -> None:
        start.wait()
        permits.append(b.allow(T0 + breaker.OPEN_SECONDS + 0.5))

    threads = [threading.Thread(target=ask, args=(b,)) for b in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    allowed = [p for p in permits if p.allowed]
    assert len(permits) == 16 and len(allowed) == 1 and allowed[0].probe
    assert all(0 < p.retry_in <= breaker.HALF_OPEN_POLL and p.state == "half_open" for p in permits if not p.allowed)
    assert sample("atendimento_circuit_state", provider="whatsapp", channel="c3") == 1


def test_the_probe_closes_on_success(fleet: Callable[[], breaker.Breakers],
                                     caplog: pytest.LogCaptureFixture) -> None:
    one, two = fleet().get("sendgrid", "c4"), fleet().get("sendgrid", "c4")
    fail(one, breaker.FAILURE_THRESHOLD)
    now = T0 + breaker.OPEN_SECONDS
    probe = two.allow(now)
    assert probe.probe
    straggler = one.allow(now)  # refused while the probe is out; its result would not count anyway
    assert not straggler.allowed
    caplog.clear()
    with caplog.at_level(logging.INFO, logger=breaker.__name__):
        two.record(probe, ok=True, now=now + 0.2)
    assert one.state() == "closed" and one.allow(now + 0.3).allowed and not one.allow(now + 0.3).probe
    assert sample("atendimento_circuit_state", provider="sendgrid", channel="c4") == 0
    assert [r.getMessage().split(" at ")[0] for r in caplog.records] == ["circuit sendgrid/c4: half_open -> closed"]
    fail(one, breaker.FAILURE_THRESHOLD - 1)  # the count starts again from zero
    assert one.state() == "closed"


def test_the_probe_reopens_on_failure_and_others_results_are_ignored(fleet: Callable[[], breaker.Breakers]) -> None:
    one, two = fleet().get("whatsapp", "c5"), fleet().get("whatsapp", "c5")
    early = one.allow(T0)  # a call made while closed, finishing late
    fail(one, breaker.FAILURE_THRESHOLD)
    now = T0 + breaker.OPEN_SECONDS + 1
    probe = two.allow(now)
    one.record(early, ok=True, now=now)  # not the probe: changes nothing
    assert one.state() == "half_open"
    two.record(probe, ok=False, now=now + 2)
    again = one.allow(now + 3)
    assert (again.allowed, again.state) == (False, "open")
    assert again.retry_in == pytest.approx(breaker.OPEN_SECONDS - 1)
    assert sample("atendimento_circuit_transitions_total", provider="whatsapp", channel="c5", to="open") == 2


def test_a_probe_that_never_reports_lets_the_next_one_through(fleet: Callable[[], breaker.Breakers]) -> None:
    one, two = fleet().get("twilio", "c6"), fleet().get("twilio", "c6")
    fail(one, breaker.FAILURE_THRESHOLD)
    now = T0 + breaker.OPEN_SECONDS
    assert one.allow(now).probe  # its worker dies here
    assert not two.allow(now + breaker.PROBE_LEASE - 1).allowed
    assert two.allow(now + breaker.PROBE_LEASE + 0.1).probe
    assert not one.allow(now + breaker.PROBE_LEASE + 0.2).allowed


def test_a_probe_that_made_no_call_gives_its_lease_back(fleet: Callable[[], breaker.Breakers]) -> None:
    one, two = fleet().get("twilio", "c9"), fleet().get("twilio", "c9")
    fail(one, breaker.FAILURE_THRESHOLD)
    now = T0 + breaker.OPEN_SECONDS
    unused = one.allow(now)
    one.release(unused)
    assert two.allow(now + 0.1).probe


def test_the_policy_in_redis_applies_to_the_whole_fleet(fleet: Callable[[], breaker.Breakers],
                                                        redis_url: str) -> None:
    client = breaker.connect(redis_url)
    client.hset(breaker.POLICY_KEY, mapping={"failure_threshold": 2, "open_seconds": 3})
    try:
        b = fleet().get("whatsapp", "c7")
        fail(b, 2)
        refused = b.allow(T0 + 1)
        assert not refused.allowed and refused.retry_in == pytest.approx(2)
        assert b.allow(T0 + 3).probe
    finally:
        client.delete(breaker.POLICY_KEY)


def test_without_redis_every_send_is_allowed_and_it_says_so(caplog: pytest.LogCaptureFixture) -> None:
    down = breaker.Breakers(breaker.connect(f"redis://127.0.0.1:{free_port()}/0")).get("whatsapp", "c8")
    with caplog.at_level(logging.WARNING, logger=breaker.__name__):
        permits = [down.allow(T0 + i) for i in range(3)]
        down.record(permits[0], ok=False, now=T0)
    assert all(p.allowed and p.state == "unknown" for p in permits)
    assert len([r for r in caplog.records if "unavailable" in r.getMessage()]) == 1  # not once per send
    assert breaker.Breakers(None).get("whatsapp", "c8").allow(T0).allowed  # embedded mode: no breaker at all


# --- the two-step send on the real database -------------------------------------------------------------------


@pytest.fixture
def ticket_id(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> int:
    ana = tenants["users"]["ana"]
    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, ana.id), AgentStatus.ONLINE, utcnow())
    store(sessions, text_delivery("wamid.fault-in"))
    drain(sessions, bus)
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
    bus.tasks.clear()
    return ticket.id


@pytest.fixture
def write(sessions: sessionmaker[Session], tenants: dict[str, Any], ticket_id: int) -> Callable[[str], int]:
    """Ana replies on the ticket; returns the queued message's id."""
    def reply(body: str) -> int:
        with sessions() as s, s.begin():
            return conversation.reply(s, s.get_one(User, tenants["users"]["ana"].id), ticket_id, body, utcnow()).id
    return reply


@pytest.fixture
def provider() -> Iterator[GraphServer]:
    server = GraphServer()
    yield server
    server.close()


@pytest.fixture
def shared(fleet: Callable[[], breaker.Breakers]) -> breaker.Breakers:
    return fleet()


class Worker:
    """Runs the task's two transactions, each in its own session, as `workers.tasks.send_message` does."""

    def __init__(self, sessions: sessionmaker[Session], settings: Settings, breakers: breaker.Breakers) -> None:
        self.sessions, self.settings, self.breakers = sessions, settings, breakers

    def claim(self, message_id: int, now: datetime) -> outbound.Claim | outbound.Outcome:
        with self.sessions() as s, s.begin():
            return outbound.claim_send(s, message_id, now, self.breakers, self.settings)

    def deliver(self, claim: outbound.Claim, now: datetime) -> outbound.Outcome:
        with self.sessions() as s, s.begin():
            return outbound.deliver(s, claim, now, self.settings, self.breakers)

    def send(self, message_id: int, now: datetime) -> outbound.Outcome:
        step = self.claim(message_id, now)
        return self.deliver(step, now) if isinstance(step, outbound.Claim) else step


@pytest.fixture
def worker(sessions: sessionmaker[Session], settings: Settings, provider: GraphServer,
           shared: breaker.Breakers) -> Worker:
    return Worker(sessions, settings.with_(whatsapp_graph_base_url=provider.url, send_callback_wait=20.0), shared)


def load(sessions: sessionmaker[Session], message_id: int) -> Message:
    with sessions() as s:
        return s.get_one(Message, message_id)


def error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> Any:
    return lambda _record: (status, {"error": {"message": message, "code": code}}, headers or {})


def test_a_retryable_failure_is_on_record_and_retried_with_backoff(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], write: Callable[[str], int]) -> None:
    provider.responder = error(500, 2, "Service temporarily unavailable")
    message_id = write("um")
    outcome = worker.send(message_id, utcnow())
    assert outcome.result == "retry" and 0 <= outcome.countdown <= outbound.BACKOFF_BASE
    message = load(sessions, message_id)
    assert (message.status, message.attempts) == (DeliveryStatus.QUEUED, 1)
    assert message.payload["delivery"]["last_error"]["code"] == "2"
    assert "inflight" not in message.payload["delivery"]


def test_retry_after_is_honoured(worker: Worker, provider: GraphServer, write: Callable[[str], int]) -> None:
    provider.responder = error(429, 130429, "Rate limit hit", {"Retry-After": "7"})
    outcome = worker.send(write("dois"), utcnow())
    assert outcome.result == "retry" and 7 <= outcome.countdown < 8


def test_a_permanent_refusal_fails_the_message_with_the_providers_code(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], bus: RecordingBus,
        shared: breaker.Breakers, write: Callable[[str], int], tenants: dict[str, Any]) -> None:
    provider.responder = error(400, 131047, "Re-engagement message")
    message_id = write("três")
    assert worker.send(message_id, utcnow()).result == "failed"
    message = load(sessions, message_id)
    assert (message.status, message.error_code, message.error_reason) == (
        DeliveryStatus.FAILED, "131047", "Re-engagement message")
    assert any(name == "message.status" and data["data"] == {
        "message_id": message_id, "ticket_id": message.ticket_id, "status": "failed", "error_code": "131047"}
        for name, data, _rooms in bus.events)
    channel = tenants["channels"]["106540352242922"].id
    assert shared.client.hget(f"{breaker.PREFIX}:whatsapp:{channel}", "failures") is None  # type: ignore[union-attr]


def test_an_open_breaker_defers_without_calling_or_spending_an_attempt(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], shared: breaker.Breakers,
        write: Callable[[str], int], tenants: dict[str, Any]) -> None:
    now = utcnow()
    fail(shared.get("whatsapp", tenants["channels"]["106540352242922"].id), breaker.FAILURE_THRESHOLD,
         now.timestamp())
    message_id = write("quatro")
    outcome = worker.send(message_id, now + timedelta(seconds=10))
    assert outcome.result == "deferred" and 20 < outcome.countdown <= 21
    assert provider.requests == [] and load(sessions, message_id).attempts == 0
    # Once the open period is over, this message is the probe; another one waits for its result.
    other = write("cinco")
    probe = worker.claim(message_id, now + timedelta(seconds=31))
    assert isinstance(probe, outbound.Claim) and probe.permit.probe
    waiting = worker.claim(other, now + timedelta(seconds=31))
    assert isinstance(waiting, outbound.Outcome) and waiting.result == "deferred"
    assert worker.deliver(probe, now + timedelta(seconds=31)).result == "sent"
    assert worker.send(other, now + timedelta(seconds=32)).result == "sent"
    assert [r["body"]["text"]["body"] for r in provider.requests] == ["quatro", "cinco"]


def test_a_message_locked_by_a_call_in_progress_is_deferred_not_dropped(
        worker: Worker, sessions: sessionmaker[Session], write: Callable[[str], int]) -> None:
    message_id = write("seis")
    with sessions() as other, other.begin():
        other.scalars(select(Message).where(Message.id == message_id).with_for_update()).one()
        outcome = worker.claim(message_id, utcnow())
    assert isinstance(outcome, outbound.Outcome) and outcome.result == "deferred"
    assert worker.send(message_id, utcnow()).result == "sent"


def test_an_interrupted_attempt_is_taken_over_and_sent_once(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], write: Callable[[str], int],
        caplog: pytest.LogCaptureFixture) -> None:
    message_id = write("sete")
    now = utcnow()
    dead = worker.claim(message_id, now)  # committed; then its worker is killed before the call
    assert isinstance(dead, outbound.Claim)
    soon = worker.claim(message_id, now + timedelta(seconds=1))  # maybe just between its two transactions
    assert isinstance(soon, outbound.Outcome) and soon.result == "deferred"
    # Found interrupted: first the provider's callback is awaited (none comes: the call never happened).
    waiting = worker.claim(message_id, now + timedelta(seconds=outbound.CLAIM_GRACE + 1))
    assert isinstance(waiting, outbound.Outcome) and waiting.result == "deferred" and 19 < waiting.countdown <= 21
    with caplog.at_level(logging.WARNING, logger=outbound.__name__):
        takeover = worker.claim(message_id, now + timedelta(seconds=outbound.CLAIM_GRACE + 22))
    assert isinstance(takeover, outbound.Claim) and takeover.attempt == 2
    assert any("was interrupted" in r.getMessage() for r in caplog.records)
    # Had the first worker only been slow, its claim is no longer its own: it does not call.
    assert worker.deliver(dead, now + timedelta(seconds=4)).result == "skipped"
    assert worker.deliver(takeover, now + timedelta(seconds=4)).result == "sent"
    assert worker.send(message_id, now + timedelta(seconds=5)).result == "skipped"
    message = load(sessions, message_id)
    assert [r["body"]["text"]["body"] for r in provider.requests] == ["sete"]
    assert (message.status, message.attempts, message.payload["delivery"]) == (
        DeliveryStatus.SENT, 2, {"interrupted": 1})  # no callback came: sent again, once


def test_an_attempt_the_provider_took_before_its_worker_died_is_settled_by_the_callback_not_sent_again(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], bus: RecordingBus,
        write: Callable[[str], int]) -> None:
    message_id = write("dez")
    now = utcnow()
    dead = worker.claim(message_id, now)
    assert isinstance(dead, outbound.Claim)
    # The dead worker's call reached the provider, which took it; the worker died before recording that.
    with sessions() as s:
        message = s.get_one(Message, message_id)
        channel = s.get_one(Channel, message.channel_id)
        contact = s.get_one(Contact, s.get_one(Ticket, message.ticket_id).contact_id)
        s.expunge_all()
    receipt = adapter_for(channel.kind).send(channel, OutboundMessage(
        ticket_id=message.ticket_id, to=contact.phone or "", body="dez", reference=str(message_id)),
        Transport(worker.settings), now)
    waiting = worker.claim(message_id, now + timedelta(seconds=outbound.CLAIM_GRACE + 1))
    assert isinstance(waiting, outbound.Outcome) and waiting.result == "deferred"
    # Meta's status webhook for it names our message: it settles the attempt.
    bus.tasks.clear()
    store(sessions, status_for(provider.requests[-1], receipt.provider_message_id, "sent"))
    drain(sessions, bus)
    settled = load(sessions, message_id)
    assert (settled.status, settled.provider_message_id) == (DeliveryStatus.SENT, receipt.provider_message_id)
    assert worker.send(message_id, now + timedelta(seconds=outbound.CLAIM_GRACE + 30)).result == "skipped"
    assert [r["body"]["text"]["body"] for r in provider.requests] == ["dez"]
    assert settled.payload["delivery"] == {"settled_by_callback": True}
    assert ("message.status", "sent") in [(n, d["data"].get("status")) for n, d, _r in bus.events]
    # A later status moves it forward as usual.
    store(sessions, status_for(provider.requests[-1], receipt.provider_message_id, "delivered"))
    drain(sessions, bus)
    assert load(sessions, message_id).status == DeliveryStatus.DELIVERED


def test_a_callback_naming_another_channels_message_settles_nothing(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], bus: RecordingBus,
        write: Callable[[str], int], tenants: dict[str, Any]) -> None:
    message_id = write("onze")
    assert isinstance(worker.claim(message_id, utcnow()), outbound.Claim)
    bus.tasks.clear()
    # Globex's number reports a status naming acme's message: its reference is only ours within our channel.
    doc = status_delivery("wamid.globex", "sent", phone_number_id="999000111", callback_data=str(message_id))
    store(sessions, doc)
    with pytest.raises(StatusBeforeMessage):  # as for any status of a message not on record (retried later)
        drain(sessions, bus)
    assert load(sessions, message_id).provider_message_id is None


def test_after_the_last_attempt_the_message_is_dead_lettered(
        worker: Worker, provider: GraphServer, sessions: sessionmaker[Session], bus: RecordingBus,
        write: Callable[[str], int]) -> None:
    provider.responder = error(503, 2, "Service unavailable")
    worker.breakers = breaker.Breakers(None)  # the breaker would defer: this is about the attempts
    message_id = write("oito")
    outcomes = [worker.send(message_id, utcnow()).result for _ in range(outbound.MAX_ATTEMPTS + 1)]
    assert outcomes == ["retry"] * (outbound.MAX_ATTEMPTS - 1) + ["failed", "skipped"]
    message = load(sessions, message_id)
    assert (message.status, message.attempts, message.error_code) == (
        DeliveryStatus.FAILED, outbound.MAX_ATTEMPTS, "2")
    assert message.error_reason.startswith("gave up after retries")
    assert ("message.status", "failed") in [(n, d["data"].get("status")) for n, d, _r in bus.events]


def test_retry_delay_grows_with_full_jitter_and_respects_retry_after() -> None:
    assert [outbound.retry_delay(n, rand=1.0) for n in (1, 2, 3, 9, 12)] == [2, 4, 8, 300, 300]
    assert outbound.retry_delay(5, rand=0.0) == 0
    assert outbound.retry_delay(1, retry_after=30, rand=0.5) == 30
    assert outbound.retry_delay(1, retry_after=10_000, rand=0.5) == outbound.MAX_COUNTDOWN


def test_a_reply_whose_task_was_lost_is_asked_again(sessions: Any, bus: Any, settings: Any,
                                                     tenants: dict[str, Any]) -> None:
    """Redis restarted with the send task in it: beat's requeue finds the message still queued and sends it."""
    from datetime import timedelta

    from sqlalchemy import select

    from models import Message, Ticket, User
    from models.base import utcnow
    from models.org import AgentStatus
    from models.services import conversation, outbound
    from models.services.agents import set_status
    from tests.services.helpers import drain, store

    with sessions() as s, s.begin():
        set_status(s, s.get_one(User, tenants["users"]["ana"].id), AgentStatus.ONLINE, utcnow())
    store(sessions, text_delivery("wamid.lost1"))
    drain(sessions, bus)
    with sessions() as s, s.begin():
        ticket = s.scalars(select(Ticket)).one()
        message_id = conversation.reply(s, s.get_one(User, tenants["users"]["ana"].id), ticket.id, "ok",
                                        utcnow()).id
    bus.tasks.clear()  # the task is lost with the broker
    with sessions() as s, s.begin():
        assert outbound.requeue_stale(s, utcnow()) == 0  # too young: its task may still come
    with sessions() as s, s.begin():
        assert outbound.requeue_stale(s, utcnow() + timedelta(minutes=5)) == 1
    assert bus.tasks == [("outbound.send_message", [message_id])]
    with sessions() as s:
        assert s.get_one(Message, message_id).status.value == "queued"
