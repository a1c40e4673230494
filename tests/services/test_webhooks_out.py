"""Outgoing webhooks against a real receiver on loopback: signed, in order per ticket, retried, dead-lettered,
never lost with the event's transaction, duplicated only with the same event id."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import DeliveryState, User, WebhookDelivery, WebhookEndpoint
from models.base import utcnow
from models.errors import Invalid
from models.infra import realtime, tasks
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_session_factory
from models.providers.breaker import Breakers
from models.rules import webhooks as rules
from models.services import webhooks
from tests.fakes.receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def hooked(engine: Any, bus: RecordingBus, sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Sessions whose real-time events fan out to webhooks (as the composition root wires them); no cache."""
    return make_session_factory(engine, bus, webhooks=webhooks.Subscriptions(ttl=0))


@pytest.fixture
def local(settings: Settings) -> Settings:
    return settings.with_(webhooks_allow_private=True, http_read_timeout=2.0, webhook_timeout=2.0)


NO_BREAKERS = Breakers(None)


def _supervisor(session: Session) -> User:
    return session.scalars(select(User).where(User.email == "carla@acme.example")).one()


def _endpoint(hooked: sessionmaker[Session], url: str, events: list[str]) -> tuple[int, str]:
    with hooked() as s, s.begin():
        endpoint, secret = webhooks.create_endpoint(s, _supervisor(s), url, events, "CRM", utcnow(),
                                                    allow_private=True)
        return endpoint.id, secret


def _event(hooked: sessionmaker[Session], tenant_id: int, name: str, data: dict[str, Any]) -> None:
    with hooked() as s, s.begin():
        realtime.emit(s, tenant_id, name, data, [realtime.supervisors_room(tenant_id)])


def _run(hooked: sessionmaker[Session], bus: RecordingBus, settings: Settings, now: Any = None,
         retry_for: float = 86400, disable_after: float = 3 * 86400) -> list[str]:
    """Work the deliver tasks the bus recorded, as the webhooks worker does (claim, call, record); returns the
    outcome of each call made."""
    results = []
    while any(name == tasks.DELIVER_WEBHOOK for name, _ in bus.tasks):
        index = next(i for i, (name, _) in enumerate(bus.tasks) if name == tasks.DELIVER_WEBHOOK)
        _, (endpoint_id, key) = bus.tasks.pop(index)
        at = now or utcnow()
        with hooked() as s, s.begin():
            claim = webhooks.claim_next(s, endpoint_id, key, at)
        if claim is None:  # e.g. the follow-up asked for after a line's last delivery
            continue
        answer = webhooks.call(claim, settings, NO_BREAKERS)
        with hooked() as s, s.begin():
            results.append(webhooks.record(s, claim, answer, at, retry_for=retry_for, disable_after=disable_after))
    return results


def test_an_event_is_signed_and_delivered_once(hooked: sessionmaker[Session], bus: RecordingBus,
                                               tenants: dict[str, Any], receiver: Receiver,
                                               local: Settings) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    _, secret = _endpoint(hooked, receiver.url + "/hook", ["message.created"])
    _event(hooked, tenant, "message.created", {"ticket_id": 7, "message": {"id": 1, "body": "Oi"}})
    _event(hooked, tenant, "agent.status", {"user_id": 1})  # not subscribable: nothing
    assert _run(hooked, bus, local) == ["delivered"]
    [got] = receiver.requests
    assert got["body"]["event"] == "message.created" and got["body"]["data"]["ticket_id"] == 7
    assert got["headers"]["x-atendimento-event-id"] == got["body"]["id"]
    assert rules.verify(got["headers"]["x-atendimento-signature"], secret, got["raw"], time.time())
    assert not rules.verify(got["headers"]["x-atendimento-signature"], "whsec_wrong", got["raw"], time.time())


def test_nothing_is_queued_when_the_event_rolls_back(hooked: sessionmaker[Session], bus: RecordingBus,
                                                     tenants: dict[str, Any], receiver: Receiver) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    _endpoint(hooked, receiver.url, ["ticket.created"])
    def failing_request() -> None:
        with hooked() as s, s.begin():
            realtime.emit(s, tenant, "ticket.created", {"id": 3}, [realtime.supervisors_room(tenant)])
            raise RuntimeError("the request failed after the event")

    with pytest.raises(RuntimeError):
        failing_request()
    with hooked() as s:
        assert s.scalars(select(WebhookDelivery)).all() == []
    assert not [t for t in bus.tasks if t[0] == tasks.DELIVER_WEBHOOK]


def test_retries_keep_the_event_id_and_the_order_per_ticket(hooked: sessionmaker[Session], bus: RecordingBus,
                                                            tenants: dict[str, Any], receiver: Receiver,
                                                            local: Settings) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    _endpoint(hooked, receiver.url, ["message.created"])
    failures = iter([True, True])
    receiver.responder = lambda _r: (500, {"error": "down"}, {}) if next(failures, False) else (204, None, {})
    for n in range(3):
        _event(hooked, tenant, "message.created", {"ticket_id": 9, "message": {"id": n}})
    _event(hooked, tenant, "message.created", {"ticket_id": 10, "message": {"id": 99}})  # another line
    first = _run(hooked, bus, local)
    assert first.count("retry") == 2 and receiver.event_ids() == []
    # Time passes; the sweep asks again for the due line, which still starts with the first message.
    later = utcnow() + timedelta(minutes=5)
    with hooked() as s, s.begin():
        assert webhooks.sweep(s, later) == 2
    _run(hooked, bus, local, now=later)
    order = [r["body"]["data"]["message"]["id"] for r in receiver.requests if r["body"]["data"]["ticket_id"] == 9]
    assert order == [0, 1, 2]
    ids = [r["body"]["id"] for r in receiver.attempts]
    assert len(ids) == len(receiver.requests) + 2 and set(ids) == set(receiver.event_ids())


def test_a_dead_worker_means_a_resend_with_the_same_id(hooked: sessionmaker[Session], bus: RecordingBus,
                                                       tenants: dict[str, Any], receiver: Receiver,
                                                       local: Settings) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    _endpoint(hooked, receiver.url, ["ticket.created"])
    _event(hooked, tenant, "ticket.created", {"id": 5})
    _, (eid, key) = next(t for t in bus.tasks if t[0] == tasks.DELIVER_WEBHOOK)
    bus.tasks.clear()
    with hooked() as s, s.begin():  # a worker claims it and calls, then dies before recording
        claim = webhooks.claim_next(s, eid, key, utcnow())
    assert claim is not None and webhooks.call(claim, local, NO_BREAKERS).ok
    with hooked() as s, s.begin():
        assert webhooks.claim_next(s, eid, key, utcnow()) is None  # claimed: nobody else calls meanwhile
        assert webhooks.sweep(s, utcnow()) == 0
    after_lease = utcnow() + timedelta(seconds=webhooks.CLAIM_LEASE + 1)
    with hooked() as s, s.begin():
        assert webhooks.sweep(s, after_lease) == 1
    assert _run(hooked, bus, local, now=after_lease) == ["delivered"]
    assert len(receiver.requests) == 2 and len(set(receiver.event_ids())) == 1


def test_after_the_retry_period_a_dead_letter_and_then_the_endpoint_is_switched_off(
        hooked: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any], receiver: Receiver,
        local: Settings) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    endpoint_id, _ = _endpoint(hooked, receiver.url, ["ticket.created"])
    receiver.responder = lambda _r: (503, {"error": "maintenance"}, {})
    _event(hooked, tenant, "ticket.created", {"id": 1})
    assert _run(hooked, bus, local) == ["retry"]
    day_later = utcnow() + timedelta(hours=25)
    with hooked() as s, s.begin():
        webhooks.sweep(s, day_later)
    assert _run(hooked, bus, local, now=day_later, disable_after=86400) == ["dead"]
    with hooked() as s:
        endpoint = s.get_one(WebhookEndpoint, endpoint_id)
        dead = s.scalars(select(WebhookDelivery)).one()
        assert dead.state == DeliveryState.DEAD and dead.last_status == 503 and not endpoint.active
        assert "maintenance" in (endpoint.disabled_reason or "")
    assert [e[1]["data"]["endpoint_id"] for e in bus.events if e[0] == "webhook.disabled"] == [endpoint_id]
    receiver.responder = None
    with hooked() as s, s.begin():
        webhooks.update_endpoint(s, _supervisor(s), endpoint_id, {"active": True}, allow_private=True)
        copy = webhooks.replay(s, _supervisor(s), dead.id, utcnow())
        assert copy.event_id == dead.event_id
    assert _run(hooked, bus, local) == ["delivered"]


def test_refused_addresses(hooked: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    with hooked() as s:
        carla = _supervisor(s)
        for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://10.1.2.3/x",
                    "https://169.254.169.254/latest/meta-data", "https://[::1]/x", "https://user:pw@example.com/"):
            with pytest.raises(Invalid) as err:
                webhooks.create_endpoint(s, carla, url, ["ticket.created"], "", utcnow(), allow_private=False)
            assert err.value.code == "url_refused", url
        with pytest.raises(Invalid, match="unknown events"):
            webhooks.create_endpoint(s, carla, "https://8.8.8.8/x", ["ticket.exploded"], "", utcnow(),
                                     allow_private=False)


def test_a_rotation_signs_with_both_secrets(hooked: sessionmaker[Session], bus: RecordingBus,
                                            tenants: dict[str, Any], receiver: Receiver, local: Settings) -> None:
    tenant = tenants["users"]["carla"].tenant_id
    endpoint_id, old = _endpoint(hooked, receiver.url, ["ticket.created"])
    with hooked() as s, s.begin():
        new = webhooks.rotate_secret(s, _supervisor(s), endpoint_id)
    _event(hooked, tenant, "ticket.created", {"id": 2})
    _run(hooked, bus, local)
    [got] = receiver.requests
    for secret in (old, new):
        assert rules.verify(got["headers"]["x-atendimento-signature"], secret, got["raw"], time.time())
