"""Inbound media: the files a customer sent, fetched from the provider after the message is stored.

Triage records each media reference as a `pending` attachment in the message's transaction and enqueues
`media.fetch` through the outbox, so the message reaches the agent at once and its file follows. The fetch:

- locks the attachment row `SKIP LOCKED` (a second task for the same file finds it busy and stops; the holder
  finishes or schedules its own retry), and acts only on `pending`;
- asks the channel's adapter for the bytes (WhatsApp: media id → short-lived URL → download, both with the
  channel's token; Twilio: MediaUrl with the account's basic auth), checks the provider's SHA-256 and the MIME
  type it declared in the webhook, and the channel kind's size and type limits;
- stores them (System.store) under a fresh key, marks the row `stored` and tells the ticket's audience
  (`attachment.stored`), all in one transaction. A commit that fails after the put leaves an unreferenced
  object under a random key, never a row pointing at nothing;
- on a retryable failure (timeouts, 5xx, the store down) counts the attempt and asks again with backoff; once
  the media item is older than MEDIA_FETCH_FOR, or MEDIA_FETCH_ATTEMPTS fetches failed, or the provider says
  the id no longer exists, the row is `expired` with the reason, and `attachment.failed` is emitted. A file that
  can never be stored (checksum or type mismatch, over the limit, blocked type) is `failed` at once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import logging
import mimetypes
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.attachments import Attachment, AttachmentStatus
from models.errors import TooLarge, UnsupportedType
from models.events import InboxEvent
from models.infra import realtime, tasks
from models.infra.config import Settings
from models.infra.outbox import enqueue
from models.infra.storage import Readable, Store, StoreUnavailable
from models.org import Channel
from models.providers.adapter import ChannelAdapter, Transport
from models.providers.base import MediaContent, MediaRef, ParsedMessage, ProviderError, WebhookRequest
from models.providers.registry import adapter_for
from models.rules import media as rules
from models.services.attachments import bounded, check_storable, storage_key
from models.services.inbound import Directory, StoreResult, store_events
from models.services.payloads import ticket_audience
from models.tickets import Message, Ticket

log = logging.getLogger(__name__)

EXPIRED_CODES = frozenset({"media_expired"})
RETRY_BASE = 5.0  # seconds: failed fetch n waits about RETRY_BASE * 2**(n-1), capped
RETRY_CAP = 1800.0  # well below Celery's visibility timeout (field notes)


@dataclass(frozen=True)
class FetchOutcome:
    """How a fetch ended: `retry` asks the caller to run it again in `countdown` seconds."""

    result: str  # stored | retry | expired | failed | skipped
    countdown: float = 0.0
    reason: str = ""


def attach_inbound(session: Session, channel: Channel, message: Message, parsed: ParsedMessage,
                   now: datetime) -> list[Attachment]:
    """Record the message's media references as pending attachments and ask a worker to fetch each one."""
    rows, pending = [], []
    for ref in parsed.media:
        content_type = rules.content_type_of(ref.mime_type, ref.filename or "")
        name = (ref.filename or _default_name(ref.kind, content_type))[:255]
        if ref.stored is not None or ref.error is not None:  # came inside the webhook (email): stored or refused
            row = Attachment(tenant_id=message.tenant_id, message_id=message.id, filename=name,
                             content_type=content_type[:127], status=AttachmentStatus.STORED if ref.stored
                             else AttachmentStatus.FAILED, error=ref.error, inline_id=ref.inline_id,
                             source={"inline": True}, attempts=0, created_at=now)
            if ref.stored:
                row.storage_key, row.size, row.sha256 = (str(ref.stored["key"]), int(ref.stored["size"]),
                                                         str(ref.stored["sha256"]))
                row.stored_at = now
            session.add(row)
            rows.append(row)
            continue
        if not (ref.id or ref.url):
            continue  # nothing to fetch it by
        source = {k: v for k, v in (("kind", ref.kind), ("media_id", ref.id), ("url", ref.url),
                                    ("mime_type", ref.mime_type), ("sha256", ref.sha256)) if v}
        row = Attachment(tenant_id=message.tenant_id, message_id=message.id, filename=name,
                         content_type=content_type[:127], status=AttachmentStatus.PENDING, source=source,
                         attempts=0, created_at=now)
        session.add(row)
        rows.append(row)
        pending.append(row)
    if rows:
        session.flush()
        for row in pending:
            enqueue(session, message.tenant_id, tasks.FETCH_MEDIA, row.id)
    return rows


@dataclass(frozen=True)
class UploadedFile:
    """A file posted with a webhook (Inbound Parse's attachment1..N), as the view received it."""

    field: str
    filename: str
    content_type: str
    stream: Readable


def receive_with_files(session: Session, store: Store, settings: Settings, adapter: ChannelAdapter,
                       request: WebhookRequest, files: Mapping[str, UploadedFile]) -> StoreResult:
    """Take in a delivery that carries its files (an Inbound Parse email): authenticate it first, then put each
    file in the store and note where in the event's payload, then store the events once each.

    A file over the channel kind's limit or of a blocked type is recorded as refused (the email still arrives,
    its attachment says why). The store being down raises StoreUnavailable: the view answers 503 and SendGrid
    retries. A redelivered email stores no file again.
    """
    delivery = adapter.parse_delivery(request)
    # Read afresh: the files go to the store before the events are stored, and are not put there twice.
    verified = adapter.verify_delivery(request, delivery, Directory(session, adapter.kind, fresh=True))
    for event in verified.events:
        channel = verified.channels[event.channel_ref]
        if event.kind != "message" or _known(session, adapter.provider, event.event_id):
            continue
        limit = settings.attachment_limit(channel.kind.value)
        for entry in event.payload.get("attachments") or []:
            upload = files.get(str(entry.get("field")))
            if upload is None:
                entry["error"] = "the file was not in the post"
                continue
            entry["filename"] = entry.get("filename") or upload.filename or "file"
            entry["type"] = rules.content_type_of(entry.get("type") or upload.content_type, entry["filename"])
            try:
                check_storable(entry["type"], None, limit)
                stored = store.put(storage_key(channel.tenant_id), bounded(upload.stream, limit), entry["type"])
            except (TooLarge, UnsupportedType) as exc:
                entry["error"] = str(exc)
                continue
            entry["stored"] = {"key": stored.key, "size": stored.size, "sha256": stored.sha256}
    return store_events(session, adapter.provider, verified.channels, verified.events)


def _known(session: Session, provider: str, event_id: str) -> bool:
    return session.scalar(select(InboxEvent.id).where(InboxEvent.provider == provider,
                                                      InboxEvent.event_id == event_id)) is not None


def fetch(session: Session, store: Store, settings: Settings, attachment_id: int, now: datetime,
          http: requests.Session | None = None) -> FetchOutcome:
    """Fetch and store one pending inbound attachment (see the module doc for what each outcome means)."""
    row = session.scalars(select(Attachment).where(Attachment.id == attachment_id)
                          .with_for_update(skip_locked=True)).one_or_none()
    if row is None:
        return FetchOutcome("skipped", reason="no such attachment, or another worker is fetching it")
    if row.status != AttachmentStatus.PENDING:
        return FetchOutcome("skipped", reason=f"already {row.status.value}")
    message = session.get_one(Message, row.message_id)
    channel = session.get_one(Channel, message.channel_id)
    source = row.source or {}
    ref = MediaRef(kind=source.get("kind", "file"), id=source.get("media_id"), url=source.get("url"),
                   mime_type=source.get("mime_type"), sha256=source.get("sha256"))
    row.attempts += 1
    try:
        content = adapter_for(channel.kind).fetch_media(channel, ref, Transport(settings, http))
        _check(content, ref, settings.attachment_limit(channel.kind.value))
        key = storage_key(row.tenant_id)
        stored = store.put(key, io.BytesIO(content.content), content.mime_type)
    except ProviderError as exc:
        if exc.code in EXPIRED_CODES:
            return _give_up(session, row, message, AttachmentStatus.EXPIRED, f"expired: {exc.reason}")
        if not exc.retryable:
            return _give_up(session, row, message, AttachmentStatus.FAILED, str(exc))
        return _retry(session, row, message, settings, now, str(exc))
    except StoreUnavailable as exc:
        return _retry(session, row, message, settings, now, f"store unavailable: {exc}")
    except (TooLarge, UnsupportedType) as exc:
        return _give_up(session, row, message, AttachmentStatus.FAILED, str(exc))
    except _Mismatch as exc:
        return _give_up(session, row, message, AttachmentStatus.FAILED, str(exc))
    row.storage_key, row.size, row.sha256 = key, stored.size, stored.sha256
    row.content_type = content.mime_type[:127]
    row.status, row.stored_at, row.error = AttachmentStatus.STORED, now, None
    ticket = session.get_one(Ticket, message.ticket_id)
    realtime.emit(session, row.tenant_id, "attachment.stored",
                  {"ticket_id": ticket.id, "message_id": message.id, "attachment": view(settings, row)},
                  ticket_audience(ticket))
    return FetchOutcome("stored")


class _Mismatch(Exception):
    """The bytes are not what the provider said they would be."""


def _check(content: MediaContent, ref: MediaRef, max_bytes: int) -> None:
    declared = rules.content_type_of(ref.mime_type, "") if ref.mime_type else None
    if declared and declared != "application/octet-stream" and content.mime_type != declared:
        raise _Mismatch(f"content type mismatch: declared {declared}, served {content.mime_type}")
    check_storable(content.mime_type, len(content.content), max_bytes)
    digest = hashlib.sha256(content.content).digest()
    for expected in {ref.sha256, content.sha256} - {None}:
        if not sha256_matches(str(expected), digest):
            raise _Mismatch("checksum mismatch: the file is not the one the provider described")


def sha256_matches(expected: str, digest: bytes) -> bool:
    """Meta writes a SHA-256 as hex in some places and base64 in others: either spelling of `digest` matches."""
    expected = expected.strip()
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def _retry(session: Session, row: Attachment, message: Message, settings: Settings, now: datetime,
           reason: str) -> FetchOutcome:
    age = (now - row.created_at).total_seconds()
    if row.attempts >= settings.media_fetch_attempts or age >= settings.media_fetch_for:
        return _give_up(session, row, message, AttachmentStatus.EXPIRED,
                        f"expired: not fetched after {row.attempts} attempts over {age:.0f}s (last: {reason})")
    row.error = reason[:1000]
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** (row.attempts - 1)) * random.uniform(0.5, 1.0)
    log.info("attachment %s: fetch attempt %s failed (%s); retrying in %.0fs", row.id, row.attempts, reason, delay)
    return FetchOutcome("retry", delay, reason)


def _give_up(session: Session, row: Attachment, message: Message, status: AttachmentStatus,
             reason: str) -> FetchOutcome:
    row.status, row.error = status, reason[:1000]
    ticket = session.get_one(Ticket, message.ticket_id)
    realtime.emit(session, row.tenant_id, "attachment.failed",
                  {"ticket_id": ticket.id, "message_id": message.id,
                   "attachment": {"id": row.id, "status": status.value, "error": row.error}},
                  ticket_audience(ticket))
    log.warning("attachment %s: %s (%s)", row.id, status.value, reason)
    return FetchOutcome(status.value, reason=reason)


def _default_name(kind: str, content_type: str) -> str:
    ext = mimetypes.guess_extension(content_type) or ""
    return f"{kind}{ext}"


def signed_link(settings: Settings, attachment: Attachment, now: float | None = None) -> str:
    """The attachment's download link of ours, valid ATTACHMENT_URL_TTL seconds from `now` (a provider fetching
    an outbound file, or a browser, uses it without a token)."""
    from urllib.parse import quote

    expires = int(now if now is not None else time.time()) + settings.attachment_url_ttl
    signature = rules.link_signature(settings.secret_key, attachment.id, expires)
    name = quote(attachment.filename or "file", safe="")
    return f"{settings.public_base_url}/media/{attachment.id}/{name}?e={expires}&s={signature}"


def view(settings: Settings, attachment: Attachment) -> dict[str, Any]:
    """An attachment as events show it (the API's AttachmentSchema, with a fresh link once stored)."""
    return {"id": attachment.id, "message_id": attachment.message_id, "filename": attachment.filename,
            "content_type": attachment.content_type, "size": attachment.size, "sha256": attachment.sha256,
            "status": attachment.status.value, "error": attachment.error,
            "url": signed_link(settings, attachment) if attachment.status == AttachmentStatus.STORED else None}
