"""Outbound: deliver a queued message through its channel's provider, once, with retries and a shared breaker.

A worker sends in two transactions (`claim_send`, then `deliver`); `send_message` does both in one for callers
without a worker (tests, scripts).

1. `claim_send` (short): lock the row `SKIP LOCKED`; only a `queued` message without a provider id is sent. Ask the
   channel's circuit breaker (`models.providers.breaker`); if it refuses, the task is re-scheduled and nothing is
   written. Otherwise bump `attempts` and write an in-flight marker (a fresh token, the attempt, the time) into
   `payload["delivery"]`, and commit: the attempt is on record before the provider hears of it.
2. `deliver`: lock the row again (waiting this time), check the marker is still ours, call the provider with the
   row locked, then record the provider's message id and `sent`, or the failure; report the result to the breaker.

Why a message reaches the provider once, and when it may not:

- Only the holder of the current claim token calls, and only with the row locked: two tasks for the same message
  (a relay and a direct publish, a Celery redelivery while the first still runs) serialise on the row. During a
  call the row is locked, so the other's claim re-schedules itself; after the commit it finds `sent` and stops.
  A claim taken over by another task leaves the first one with a stale token: its `deliver` does not call.
  A claim younger than CLAIM_GRACE on an unlocked row presumably belongs to a task between its two transactions,
  so the other waits rather than take it over (clocks only matter to this accounting, never to the above).
- A retryable failure is recorded (marker cleared, last error kept) and the task retries with backoff; a
  permanent one marks the message failed with the provider's code and reason, and `message.status` is emitted.
- The remaining window: a worker killed (or whose commit fails) after the provider accepted the message but
  before `deliver` committed. The redelivered task finds an older in-flight marker on an unlocked row (PostgreSQL
  dropped the dead worker's lock with its connection): the outcome of that attempt is unknown. None of our
  providers takes an idempotency key, but each echoes our reference (`OutboundMessage.reference`, the message id)
  in its status callbacks: WhatsApp's `biz_opaque_callback_data`, SendGrid's `custom_args`, the query of Twilio's
  per-message StatusCallback URL. So the task first waits for that callback (`Settings.callback_wait`, per channel
  kind: `payload["delivery"]["awaiting_since"]`, the task deferred meanwhile); a callback naming the message settles
  it (`settle_by_reference`: provider id recorded, `sent`, nothing sent again). Only when none came in time is it
  sent again, with a warning and a count in `payload["delivery"]["interrupted"]`: a customer who never gets the
  agent's answer is worse than a rare duplicate (a provider whose callbacks are slower than the wait). Interrupted
  attempts count as attempts, so a message that kills its worker every time is dead-lettered after MAX_ATTEMPTS
  instead of looping.
- After MAX_ATTEMPTS attempts that failed retryably the message is dead-lettered: status `failed`, reason
  "gave up after retries ...". While a breaker is open, sends wait and consume no attempts: an outage leaves the
  messages queued, and they go out when the provider is back.
"""

from __future__ import annotations

import copy
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.attachments import Attachment, AttachmentStatus
from models.infra import realtime, tasks
from models.infra.config import Settings
from models.infra.metrics import MESSAGES_SENT, count
from models.infra.outbox import enqueue
from models.infra.storage import ObjectMissing, Store, StoreUnavailable
from models.org import Channel
from models.providers.adapter import Transport
from models.providers.base import OutboundFile, OutboundMessage, ProviderError, Reaction, SendReceipt, StatusUpdate
from models.providers.breaker import Breakers, Permit
from models.providers.registry import adapter_for
from models.services.inbound import store_events
from models.services.media import signed_link
from models.services.payloads import message_view, ticket_audience
from models.tickets import Contact, DeliveryStatus, Direction, Message, Ticket

log = logging.getLogger(__name__)


MAX_ATTEMPTS = 9  # the first call and 8 retries (~4 minutes of backoff on average)
BACKOFF_BASE = 2.0  # seconds: attempt n waits up to BACKOFF_BASE * 2**(n-1), full jitter
BACKOFF_CAP = 300.0
MAX_COUNTDOWN = 600.0  # a Retry-After beyond this is not honoured: keep countdowns well below the visibility timeout
CLAIM_GRACE = 2.0  # seconds a fresh claim on an unlocked row is presumed alive (its task is between transactions)
BUSY_RETRY = 5.0  # the row is locked by a call in progress: look again after this
NO_BREAKERS = Breakers(None)


@dataclass(frozen=True)
class Claim:
    """An attempt on record, allowed by the breaker: the caller commits it, then calls `deliver`."""

    message_id: int
    token: str
    attempt: int
    provider: str
    channel_id: int
    permit: Permit


@dataclass(frozen=True)
class Outcome:
    """How a send step ended. `retry` and `deferred` ask the caller to run the send again in `countdown` s."""

    result: str  # sent | failed | skipped | retry | deferred
    countdown: float = 0.0
    reason: str = ""
    error: ProviderError | None = None


def queue_text(session: Session, ticket: Ticket, body: str, author_id: int | None, now: datetime,
               template: dict[str, Any] | None = None, kind: str | None = None,
               payload: dict[str, Any] | None = None) -> Message:
    """Record an outbound text on the ticket and ask a worker to send it once this transaction commits.

    The idempotency key identifies this message to the sender: a retried task finds the same row, never a
    second one. `author_id` None means the bot wrote it.
    """
    message = Message(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                      direction=Direction.OUTBOUND, kind=kind or ("template" if template else "text"), body=body,
                      payload={**(payload or {}), **({"template": template} if template else {})},
                      author_id=author_id,
                      idempotency_key=uuid.uuid4().hex, status=DeliveryStatus.QUEUED, created_at=now, attempts=0)
    session.add(message)
    session.flush()
    enqueue(session, ticket.tenant_id, tasks.SEND_MESSAGE, message.id)
    realtime.emit(session, ticket.tenant_id, "message.created", message_view(message), ticket_audience(ticket))
    return message


def retry_delay(attempt: int, retry_after: float | None = None, rand: float | None = None) -> float:
    """Seconds before retrying after failed attempt number `attempt` (1-based): exponential backoff with full
    jitter, never sooner than the provider's Retry-After, never later than MAX_COUNTDOWN."""
    r = random.random() if rand is None else rand
    delay = r * min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(attempt - 1, 0))
    if retry_after is not None:
        delay = max(delay, retry_after)
    return min(delay, MAX_COUNTDOWN)


def claim_send(session: Session, message_id: int, now: datetime, breakers: Breakers,
               settings: Settings | None = None) -> Claim | Outcome:
    """First transaction of a send: decide whether to call the provider now, and put the attempt on record.

    `settings` gives how long an interrupted attempt waits for the provider's callback (none without them)."""
    message = session.scalars(select(Message).where(Message.id == message_id)
                              .with_for_update(skip_locked=True)).one_or_none()
    if message is None:
        if session.scalar(select(Message.id).where(Message.id == message_id)) is None:
            return Outcome("skipped", reason="no such message")
        return Outcome("deferred", _jitter(BUSY_RETRY), "another worker is sending it")
    if message.status != DeliveryStatus.QUEUED or message.provider_message_id is not None:
        return Outcome("skipped", reason=f"already {message.status.value}")
    state = dict(message.payload.get("delivery") or {})
    inflight = state.get("inflight")
    if inflight:
        age = (now - datetime.fromisoformat(inflight["at"])).total_seconds()
        if 0 <= age < CLAIM_GRACE:
            return Outcome("deferred", _jitter(CLAIM_GRACE - age), "claimed a moment ago by another task")
        # Its worker died (or its commit failed) during or right after the call: the provider may have it. If it
        # does, its callback names this message (our reference) and settles it: wait for that, bounded.
        kind = session.get_one(Channel, message.channel_id).kind.value
        wait = settings.callback_wait(kind) if settings is not None else 0.0
        since = datetime.fromisoformat(state.setdefault("awaiting_since", now.isoformat()))
        left = wait - (now - since).total_seconds()
        if left > 0:
            _save(message, state)
            return Outcome("deferred", _jitter(left), "an interrupted attempt: waiting for the provider's callback")
        state.pop("awaiting_since")
        state["interrupted"] = int(state.get("interrupted", 0)) + 1
        state.pop("inflight")
        _save(message, state)
        log.warning("message %s: attempt %s was interrupted (claimed %.1fs ago, never finished) and no callback "
                    "named it within %.0fs; sending again", message.id, inflight.get("attempt"), age, wait)
    if message.attempts >= MAX_ATTEMPTS:
        mark_failed(session, message, "outcome_unknown" if inflight else "max_attempts",
                    f"gave up after retries: {message.attempts} attempts"
                    + (", the last one interrupted (it may have been delivered)" if inflight else ""))
        return Outcome("failed")
    channel = session.get_one(Channel, message.channel_id)
    provider = adapter_for(channel.kind).provider
    permit = breakers.get(provider, channel.id).allow(now.timestamp())
    if not permit.allowed:
        return Outcome("deferred", _jitter(permit.retry_in), f"circuit {provider}/{channel.id} is {permit.state}")
    message.attempts += 1
    token = uuid.uuid4().hex
    state["inflight"] = {"token": token, "attempt": message.attempts, "at": now.isoformat()}
    _save(message, state)
    return Claim(message.id, token, message.attempts, provider, channel.id, permit)


def deliver(session: Session, claim: Claim, now: datetime, settings: Settings, breakers: Breakers,
            http: requests.Session | None = None, store: Store | None = None) -> Outcome:
    """Second transaction: call the provider for a committed claim, with the row locked, and record the result.

    The lock is held during the call so that no other task can claim the message meanwhile (see the module doc).
    """
    breaker = breakers.get(claim.provider, claim.channel_id)
    message = session.scalars(select(Message).where(Message.id == claim.message_id).with_for_update()).one_or_none()
    inflight = (message.payload.get("delivery") or {}).get("inflight") if message is not None else None
    if message is None or message.status != DeliveryStatus.QUEUED or not inflight \
            or inflight.get("token") != claim.token:
        breaker.release(claim.permit)
        return Outcome("skipped", reason="the claim was taken over or the message is no longer queued")
    ticket = session.get_one(Ticket, message.ticket_id)
    channel = session.get_one(Channel, message.channel_id)
    contact = session.get_one(Contact, ticket.contact_id)
    try:
        receipt = _send(session, channel, contact, ticket, message, now, Transport(settings, http), store)
    except ProviderError as exc:
        # A refusal (4xx) proves the provider is up; only retryable errors count against the breaker.
        breaker.record(claim.permit, ok=not exc.retryable, now=now.timestamp())
        return _failed_attempt(session, message, exc, now)
    except BaseException:
        breaker.release(claim.permit)
        raise
    breaker.record(claim.permit, ok=True, now=now.timestamp())
    state = dict(message.payload.get("delivery") or {})
    state.pop("inflight", None)
    _save(message, state)
    message.provider_message_id = receipt.provider_message_id
    message.status = DeliveryStatus.SENT
    message.sent_at = now
    if receipt.events:  # reports the adapter already knows will follow: stored as a webhook would store them
        store_events(session, claim.provider, {channel.external_id: channel}, receipt.events)
    _emit_status(session, message, ticket)
    return Outcome("sent")


def send_message(session: Session, message_id: int, now: datetime, settings: Settings,
                 http: requests.Session | None = None, breakers: Breakers = NO_BREAKERS,
                 store: Store | None = None) -> str:
    """Claim and deliver in this one transaction; a message already sent or failed is left alone.

    For callers without a worker: nothing is on record before the call, so a retryable ProviderError propagates
    (the transaction rolls back and the message stays queued); a permanent one marks the message failed.
    """
    step = claim_send(session, message_id, now, breakers)
    if isinstance(step, Outcome):
        return step.result
    outcome = deliver(session, step, now, settings, breakers, http, store)
    if outcome.error is not None and outcome.result == "retry":
        raise outcome.error
    return outcome.result


def mark_failed(session: Session, message: Message, code: str, reason: str) -> None:
    """Give up on a message: record why and tell the agents following the ticket."""
    state = dict(message.payload.get("delivery") or {})
    if state.pop("inflight", None) is not None:
        _save(message, state)
    message.status = DeliveryStatus.FAILED
    message.error_code = code
    message.error_reason = reason[:1000]
    _emit_status(session, message, session.get_one(Ticket, message.ticket_id))


def _failed_attempt(session: Session, message: Message, exc: ProviderError, now: datetime) -> Outcome:
    state = dict(message.payload.get("delivery") or {})
    state.pop("inflight", None)
    state["last_error"] = {"code": exc.code, "reason": exc.reason[:300], "attempt": message.attempts,
                           "http_status": exc.http_status, "at": now.isoformat()}
    _save(message, state)
    if not exc.retryable:
        mark_failed(session, message, exc.code, exc.reason)
        return Outcome("failed", reason=str(exc), error=exc)
    if message.attempts >= MAX_ATTEMPTS:
        mark_failed(session, message, exc.code, f"gave up after retries ({message.attempts} attempts): {exc.reason}")
        return Outcome("failed", reason=str(exc), error=exc)
    log.info("message %s: attempt %s failed (%s); retrying", message.id, message.attempts, exc)
    return Outcome("retry", retry_delay(message.attempts, exc.retry_after), str(exc), exc)


def _save(message: Message, state: dict[str, Any]) -> None:
    # A new, unshared document: the ORM compares it with the one it last flushed, which must not change under it.
    payload = {k: v for k, v in message.payload.items() if k != "delivery"}
    message.payload = {**payload, "delivery": copy.deepcopy(state)} if state else payload


def _jitter(seconds: float) -> float:
    """Spread re-scheduled sends over a second, so a fleet does not come back in one burst."""
    return max(seconds, 0.0) + random.uniform(0.05, 1.0)


def _emit_status(session: Session, message: Message, ticket: Ticket) -> None:
    """Tell the ticket's followers, and count the outcome (after commit), when a send ends: sent or failed."""
    kind = session.get_one(Channel, message.channel_id).kind.value
    count(session, MESSAGES_SENT, tenant=ticket.tenant_id, channel=kind, status=message.status.value)
    realtime.emit(session, ticket.tenant_id, "message.status",
                  {"message_id": message.id, "ticket_id": ticket.id, "status": message.status.value,
                   "error_code": message.error_code}, ticket_audience(ticket))


def _send(session: Session, channel: Channel, contact: Contact, ticket: Ticket, message: Message, now: datetime,
          transport: Transport, store: Store | None = None) -> SendReceipt:
    adapter = adapter_for(channel.kind)
    last_inbound = None
    if adapter.address == "email":  # threading data, for the adapters that thread replies
        last_inbound = session.scalar(select(Message.payload).where(
            Message.ticket_id == ticket.id, Message.direction == Direction.INBOUND)
            .order_by(Message.id.desc()).limit(1))
    to = (contact.email if adapter.address == "email" else contact.phone) or ""
    outgoing = OutboundMessage(ticket_id=ticket.id, to=to, body=message.body, template=message.payload.get("template"),
                               subject=ticket.subject, last_inbound=last_inbound,
                               files=outbound_files(session, transport.settings, store, message, now),
                               reaction=_reaction(message.payload.get("reaction")),
                               reply_to=message.payload.get("reply_to_provider_id"),
                               interactive=message.payload.get("interactive"), reference=str(message.id))
    return adapter.send(channel, outgoing, transport, now)


def _reaction(doc: Any) -> Reaction | None:
    if not isinstance(doc, dict):
        return None
    return Reaction(message_id=str(doc.get("message_id") or ""), emoji=str(doc.get("emoji") or ""))


def outbound_files(session: Session, settings: Settings, store: Store | None, message: Message,
                   now: datetime) -> tuple[OutboundFile, ...]:
    """The message's stored files as the adapter sends them: a fresh signed link each attempt (a retry hours later
    still hands the provider a valid one), and the bytes read only if the adapter asks for them."""
    rows = session.scalars(select(Attachment).where(Attachment.message_id == message.id,
                                                    Attachment.status == AttachmentStatus.STORED)
                           .order_by(Attachment.id)).all()
    kinds = message.payload.get("media_kinds") or []

    def reader(key: str) -> Callable[[], bytes]:
        def read() -> bytes:
            if store is None:
                raise ProviderError("store_unavailable", "no object store in this process", retryable=True)
            try:
                return b"".join(store.open(key))
            except StoreUnavailable as exc:
                raise ProviderError("store_unavailable", str(exc), retryable=True) from exc
            except ObjectMissing as exc:
                raise ProviderError("file_missing", f"the file {key} is gone from the store") from exc
        return read

    return tuple(OutboundFile(filename=a.filename, content_type=a.content_type, size=a.size or 0,
                              url=signed_link(settings, a, now.timestamp()), read=reader(str(a.storage_key)),
                              kind=kinds[i] if i < len(kinds) else "file")
                 for i, a in enumerate(rows))


def settle_by_reference(session: Session, channel: Channel, update: StatusUpdate, now: datetime) -> Message | None:
    """The outbound message a status callback names by our reference, when its provider id is not on record: the
    worker that sent it died before recording it. The callback proves the provider took it, so it is `sent` now
    with that provider id, and the waiting task will not send it again (see the module doc). None when the
    reference names no message of this channel, or one already known under another provider id (a re-send's)."""
    if not update.reference or not update.reference.isascii() or not update.reference.isdigit():
        return None
    message = session.scalars(select(Message).where(
        Message.id == int(update.reference), Message.channel_id == channel.id,
        Message.direction == Direction.OUTBOUND).with_for_update()).one_or_none()
    if message is None or message.provider_message_id not in (None, update.provider_message_id):
        return None
    if message.provider_message_id is None:
        state = dict(message.payload.get("delivery") or {})
        interrupted = state.pop("inflight", None)
        state.pop("awaiting_since", None)
        state["settled_by_callback"] = True
        _save(message, state)
        message.provider_message_id = update.provider_message_id
        message.status, message.error_code, message.error_reason = DeliveryStatus.SENT, None, None
        message.sent_at = now
        log.info("message %s: the provider's callback settled attempt %s (%s)", message.id,
                 (interrupted or {}).get("attempt"), update.provider_message_id)
        _emit_status(session, message, session.get_one(Ticket, message.ticket_id))
    return message


def requeue_stale(session: Session, now: datetime, min_age_seconds: float = 120, limit: int = 500) -> int:
    """Ask again to send outbound messages still queued long after they were written, whose task was lost
    (a broker restarted with the task in it) or whose worker died mid-call. The claim logic makes an extra
    task harmless; a message genuinely waiting on an open breaker or a retry countdown is asked again too,
    and that task simply defers."""
    rows = session.execute(
        select(Message.id, Message.tenant_id)
        .where(Message.direction == Direction.OUTBOUND, Message.status == DeliveryStatus.QUEUED,
               Message.created_at < now - timedelta(seconds=min_age_seconds))
        .order_by(Message.id).limit(limit)
    ).all()
    for message_id, tenant_id in rows:
        enqueue(session, tenant_id, tasks.SEND_MESSAGE, message_id)
    return len(rows)
