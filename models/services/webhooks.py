"""Outgoing webhooks: fan events out to subscribed endpoints, deliver them in order, retry, dead-letter, replay.

Never lost: `fan_out` runs inside the transaction that records the event (from `models.infra.realtime.emit`),
writing one delivery row per subscribed endpoint and an outbox task to deliver it; both commit or neither does.

In order per endpoint and ticket: a worker delivers only the oldest pending delivery of its line (endpoint,
order key); the next one is asked for when it is done. A line whose head waits for a retry waits with it.

Duplicates only with the same event id: a delivery is claimed for CLAIM_LEASE seconds before the call and
recorded after it, without holding a database lock or connection while a slow receiver thinks. A worker that
dies in between leaves a claim that expires; the sweep then sends it again with the same `id` in the body, on
which receivers deduplicate. Backoff doubles from 15 s to an hour; a delivery still failing WEBHOOK_RETRY_FOR
after its event (24 h by default) becomes a dead letter, and an endpoint failing every attempt for
WEBHOOK_DISABLE_AFTER is switched off with a notice to supervisors. Each endpoint has its own breaker, so a
receiver that is down costs one probe per open period instead of a timeout per delivery.
"""

from __future__ import annotations

import json
import logging
import random
import secrets as secrets_mod
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import requests
from sqlalchemy import Table, and_, func, insert, select
from sqlalchemy.orm import Session

from models.errors import Invalid, NotFound
from models.events import AuditEntry
from models.infra import realtime, tasks
from models.infra.config import Settings
from models.infra.outbox import enqueue
from models.org import User
from models.providers import receivers
from models.providers.breaker import Breakers
from models.rules import webhooks as rules
from models.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

CLAIM_LEASE = 60.0  # seconds a claimed delivery is left to its worker; above connect + read timeouts
_INSERT = insert(cast(Table, WebhookDelivery.__table__))


class Subscriptions:
    """Which endpoints of a tenant want which events, cached per process for `ttl` seconds.

    Called for every real-time event, so a tenant without endpoints must cost a dictionary lookup, not a query.
    A new or changed endpoint takes effect within `ttl` seconds in other processes (at once in this one).
    """

    def __init__(self, ttl: float = 5.0) -> None:
        self.ttl = ttl
        self._cache: dict[int, tuple[float, dict[str, list[int]]]] = {}

    def forget(self, tenant_id: int) -> None:
        self._cache.pop(tenant_id, None)

    def of(self, session: Session, tenant_id: int) -> dict[str, list[int]]:
        now = time.monotonic()
        hit = self._cache.get(tenant_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        found: dict[str, list[int]] = {}
        for endpoint_id, events in session.execute(select(WebhookEndpoint.id, WebhookEndpoint.events).where(
                WebhookEndpoint.tenant_id == tenant_id, WebhookEndpoint.active.is_(True))):
            for name in events:
                found.setdefault(str(name), []).append(endpoint_id)
        if self.ttl > 0:
            self._cache[tenant_id] = (now + self.ttl, found)
        return found

    def __call__(self, session: Session, tenant_id: int, name: str, data: dict[str, Any], event_id: int,
                 at: datetime) -> None:
        names = rules.outgoing_events(name, data)
        if not names:
            return
        wanted = self.of(session, tenant_id)
        rows = [(n, e) for n in names for e in wanted.get(n, ())]
        if rows:
            fan_out(session, tenant_id, rows, data, event_id, at)


def fan_out(session: Session, tenant_id: int, targets: list[tuple[str, int]], data: dict[str, Any],
            event_id: int, at: datetime) -> None:
    """One pending delivery per (event name, endpoint), and a task to deliver each line's head."""
    lines: set[tuple[int, str]] = set()
    for name, endpoint_id in targets:
        key = rules.order_key(name, data)
        stable_id = f"evt_{event_id}" if name == targets[0][0] else f"evt_{event_id}_{name.replace('.', '_')}"
        body = {"id": stable_id, "event": name, "created_at": at.isoformat(), "data": data}
        session.execute(_INSERT, {"tenant_id": tenant_id, "endpoint_id": endpoint_id, "event_id": stable_id,
                                  "event": name, "order_key": key, "body": body, "state": DeliveryState.PENDING,
                                  "attempts": 0, "next_attempt_at": at, "created_at": at})
        lines.add((endpoint_id, key))
    for endpoint_id, key in sorted(lines):
        enqueue(session, tenant_id, tasks.DELIVER_WEBHOOK, endpoint_id, key)


@dataclass(frozen=True)
class Claim:
    delivery_id: int
    token: str
    endpoint_id: int
    order_key: str
    url: str
    secrets: list[str]
    body: bytes
    event_id: str
    attempt: int


def claim_next(session: Session, endpoint_id: int, order_key: str, now: datetime) -> Claim | None:
    """The head of the line, claimed for CLAIM_LEASE seconds; None when there is nothing to send now.

    The head is read FOR UPDATE SKIP LOCKED: a second worker on the same line finds it locked (or claimed)
    and leaves it, so one line is sent by one worker at a time.
    """
    head = session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id,
                                      WebhookDelivery.order_key == order_key,
                                      WebhookDelivery.state == DeliveryState.PENDING)
        .order_by(WebhookDelivery.id).limit(1).with_for_update(skip_locked=True)).one_or_none()
    if head is None or head.next_attempt_at > now:
        return None
    if head.claimed_until is not None and head.claimed_until > now:
        return None  # another worker is calling the receiver right now
    endpoint = session.get_one(WebhookEndpoint, endpoint_id)
    if not endpoint.active:
        return None
    head.attempts += 1
    head.claim_token = uuid.uuid4().hex
    head.claimed_until = now + timedelta(seconds=CLAIM_LEASE)
    body = json.dumps(head.body, separators=(",", ":"), ensure_ascii=False).encode()
    return Claim(head.id, head.claim_token, endpoint_id, order_key, endpoint.url, list(endpoint.secrets), body,
                 head.event_id, head.attempts)


def headers_for(claim: Claim, now: float) -> dict[str, str]:
    """What a delivery carries besides its body: type, signature, the stable event id, the attempt."""
    return {"Content-Type": "application/json", "User-Agent": "atendimento-webhooks/1",
            "X-Atendimento-Signature": rules.signature_header(claim.secrets, int(now), claim.body),
            "X-Atendimento-Event-Id": claim.event_id, "X-Atendimento-Attempt": str(claim.attempt)}


def call(claim: Claim, settings: Settings, breakers: Breakers, http: requests.Session | None = None
         ) -> receivers.Answer:
    """The HTTP call itself, outside any transaction, behind the endpoint's own breaker."""
    gate = breakers.get("webhook", claim.endpoint_id)
    permit = gate.allow(time.time())
    if not permit.allowed:
        return receivers.Answer(None, 0, f"circuit open for this endpoint ({permit.state}); not called")
    answer = receivers.post(claim.url, claim.body, headers_for(claim, time.time()),
                            allow_private=settings.webhooks_allow_private,
                            connect_timeout=settings.http_connect_timeout, read_timeout=settings.webhook_timeout,
                            http=http)
    gate.record(permit, ok=answer.ok, now=time.time())
    return answer


def record(session: Session, claim: Claim, answer: receivers.Answer, now: datetime, *, retry_for: float,
           disable_after: float) -> str:
    """Second step: write down what the receiver said; ask for the line's next delivery when this one is done.

    A claim that expired and was taken over meanwhile is ignored (the other worker's result counts).
    """
    row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == claim.delivery_id)
                          .with_for_update()).one_or_none()
    if row is None or row.claim_token != claim.token or row.state != DeliveryState.PENDING:
        return "superseded"
    endpoint = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == claim.endpoint_id)
                               .with_for_update()).one()
    row.claim_token, row.claimed_until = None, None
    row.last_status, row.last_error, row.last_latency_ms = answer.status, answer.error, answer.latency_ms
    if answer.ok:
        row.state, row.delivered_at = DeliveryState.DELIVERED, now
        endpoint.failing_since = None
        result = "delivered"
    else:
        endpoint.failing_since = endpoint.failing_since or now
        if rules.gives_up(row.created_at, now, retry_for):
            row.state = DeliveryState.DEAD
            result = "dead"
        else:
            row.next_attempt_at = rules.next_attempt(row.attempts, now, random.random())
            result = "retry"
        if endpoint.active and rules.should_disable(endpoint.failing_since, now, disable_after):
            _disable(session, endpoint, f"every delivery failed since {endpoint.failing_since.isoformat()}: "
                                        f"{answer.error}", now)
    if result in ("delivered", "dead"):
        enqueue(session, endpoint.tenant_id, tasks.DELIVER_WEBHOOK, claim.endpoint_id, claim.order_key)
    return result


def _disable(session: Session, endpoint: WebhookEndpoint, reason: str, now: datetime) -> None:
    endpoint.active, endpoint.disabled_reason = False, reason[:1000]
    session.add(AuditEntry(tenant_id=endpoint.tenant_id, actor_id=None, action="webhook.disabled",
                           entity="webhook_endpoint", entity_id=endpoint.id, data={"reason": reason[:500]}))
    realtime.emit(session, endpoint.tenant_id, "webhook.disabled",
                  {"endpoint_id": endpoint.id, "url": endpoint.url, "reason": reason[:500]},
                  [realtime.supervisors_room(endpoint.tenant_id)])
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason[:200])


def due_lines(session: Session, now: datetime, limit: int = 500) -> list[tuple[int, int, str]]:
    """(tenant, endpoint, order key) of lines whose head is due: a retry whose time came, or an expired claim."""
    due = and_(WebhookDelivery.state == DeliveryState.PENDING, WebhookDelivery.next_attempt_at <= now,
               (WebhookDelivery.claimed_until.is_(None)) | (WebhookDelivery.claimed_until <= now))
    return [(int(r[0]), int(r[1]), str(r[2])) for r in session.execute(
        select(WebhookDelivery.tenant_id, WebhookDelivery.endpoint_id, WebhookDelivery.order_key)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(due, WebhookEndpoint.active.is_(True))
        .group_by(WebhookDelivery.tenant_id, WebhookDelivery.endpoint_id, WebhookDelivery.order_key)
        .limit(limit))]


def sweep(session: Session, now: datetime) -> int:
    """Ask again for every line that is due (beat): retries, and claims whose worker died."""
    lines = due_lines(session, now)
    for tenant_id, endpoint_id, key in lines:
        enqueue(session, tenant_id, tasks.DELIVER_WEBHOOK, endpoint_id, key)
    return len(lines)


# Supervisors' side.

def _endpoint(session: Session, actor: User, endpoint_id: int) -> WebhookEndpoint:
    endpoint = session.scalars(select(WebhookEndpoint).where(WebhookEndpoint.id == endpoint_id,
                                                             WebhookEndpoint.tenant_id == actor.tenant_id)
                               ).one_or_none()
    if endpoint is None:
        raise NotFound("webhook endpoint not found")
    return endpoint


def _checked(url: str, events: list[str], allow_private: bool) -> None:
    unknown = sorted(set(events) - set(rules.EVENTS))
    if unknown:
        raise Invalid(f"unknown events: {', '.join(unknown)}", field="events", known=list(rules.EVENTS))
    if not events:
        raise Invalid("subscribe to at least one event", field="events")
    try:
        receivers.check_url(url, allow_private)
    except receivers.ReceiverRefused as exc:
        raise Invalid(str(exc), code="url_refused", field="url") from exc


def create_endpoint(session: Session, actor: User, url: str, events: list[str], description: str, now: datetime,
                    *, allow_private: bool) -> tuple[WebhookEndpoint, str]:
    """Subscribe `url` to `events`; returns the endpoint and its signing secret (shown this once)."""
    _checked(url, events, allow_private)
    secret = "whsec_" + secrets_mod.token_urlsafe(32)
    endpoint = WebhookEndpoint(tenant_id=actor.tenant_id, url=url, events=sorted(set(events)),
                               description=description, secrets=[secret], active=True, created_at=now)
    session.add(endpoint)
    session.flush()
    _audit(session, actor, "webhook.created", endpoint, {"url": url, "events": endpoint.events})
    return endpoint, secret


def update_endpoint(session: Session, actor: User, endpoint_id: int, changes: dict[str, Any], *,
                    allow_private: bool) -> WebhookEndpoint:
    """Change the URL, events, description, or switch it on/off (on again clears the failure streak)."""
    endpoint = _endpoint(session, actor, endpoint_id)
    url, events = changes.get("url", endpoint.url), changes.get("events", endpoint.events)
    _checked(url, list(events), allow_private)
    endpoint.url, endpoint.events = url, sorted(set(events))
    endpoint.description = changes.get("description", endpoint.description)
    if "active" in changes:
        endpoint.active = bool(changes["active"])
        if endpoint.active:
            endpoint.disabled_reason, endpoint.failing_since = None, None
    _audit(session, actor, "webhook.updated", endpoint, dict(changes))
    return endpoint


def delete_endpoint(session: Session, actor: User, endpoint_id: int) -> None:
    endpoint = _endpoint(session, actor, endpoint_id)
    _audit(session, actor, "webhook.deleted", endpoint, {"url": endpoint.url})
    session.delete(endpoint)


def rotate_secret(session: Session, actor: User, endpoint_id: int) -> str:
    """A new signing secret; the previous one stays valid beside it until the next rotation."""
    endpoint = _endpoint(session, actor, endpoint_id)
    secret = "whsec_" + secrets_mod.token_urlsafe(32)
    endpoint.secrets = [secret, *list(endpoint.secrets)[:1]]
    _audit(session, actor, "webhook.secret_rotated", endpoint, {})
    return secret


def ping(session: Session, actor: User, endpoint_id: int, now: datetime) -> None:
    """Queue a `ping` delivery to the endpoint (it goes through the same line, signature and log)."""
    endpoint = _endpoint(session, actor, endpoint_id)
    key = f"ping:{uuid.uuid4().hex[:8]}"
    event_id = f"evt_ping_{uuid.uuid4().hex[:12]}"
    session.execute(_INSERT, {"tenant_id": endpoint.tenant_id, "endpoint_id": endpoint.id, "event_id": event_id,
                              "event": "ping", "order_key": key, "state": DeliveryState.PENDING, "attempts": 0,
                              "body": {"id": event_id, "event": "ping", "created_at": now.isoformat(), "data": {}},
                              "next_attempt_at": now, "created_at": now})
    enqueue(session, endpoint.tenant_id, tasks.DELIVER_WEBHOOK, endpoint.id, key)


def deliveries(session: Session, actor: User, endpoint_id: int, state: str | None = None,
               before: int | None = None, limit: int = 50) -> list[WebhookDelivery]:
    """The endpoint's delivery log, newest first (keyset pages by id)."""
    endpoint = _endpoint(session, actor, endpoint_id)
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if state:
        query = query.where(WebhookDelivery.state == DeliveryState(state))
    if before:
        query = query.where(WebhookDelivery.id < before)
    return list(session.scalars(query.order_by(WebhookDelivery.id.desc()).limit(limit)))


def replay(session: Session, actor: User, delivery_id: int, now: datetime) -> WebhookDelivery:
    """Send a dead letter (or a delivered one) again, with its original event id, after whatever its line holds."""
    row = session.scalars(select(WebhookDelivery).where(WebhookDelivery.id == delivery_id,
                                                        WebhookDelivery.tenant_id == actor.tenant_id)
                          .with_for_update()).one_or_none()
    if row is None:
        raise NotFound("delivery not found")
    if row.state == DeliveryState.PENDING:
        raise Invalid("this delivery is still being tried", code="delivery_pending", field="delivery")
    copy_id = session.execute(_INSERT.returning(WebhookDelivery.__table__.c.id), {
        "tenant_id": row.tenant_id, "endpoint_id": row.endpoint_id, "event_id": row.event_id, "event": row.event,
        "order_key": row.order_key, "body": row.body, "state": DeliveryState.PENDING, "attempts": 0,
        "next_attempt_at": now, "created_at": now}).scalar_one()
    enqueue(session, row.tenant_id, tasks.DELIVER_WEBHOOK, row.endpoint_id, row.order_key)
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action="webhook.replayed",
                           entity="webhook_delivery", entity_id=row.id, data={"copy": copy_id}))
    return session.get_one(WebhookDelivery, copy_id)


def stats(session: Session, endpoint_id: int) -> dict[str, int]:
    """Deliveries by state, for the endpoint's summary."""
    return {str(state): int(n) for state, n in session.execute(
        select(WebhookDelivery.state, func.count()).where(WebhookDelivery.endpoint_id == endpoint_id)
        .group_by(WebhookDelivery.state))}


def _audit(session: Session, actor: User, action: str, endpoint: WebhookEndpoint, data: dict[str, Any]) -> None:
    session.add(AuditEntry(tenant_id=actor.tenant_id, actor_id=actor.id, action=action, entity="webhook_endpoint",
                           entity_id=endpoint.id, data=data))
    subs = session.info.get("webhooks")
    if isinstance(subs, Subscriptions):
        subs.forget(actor.tenant_id)


