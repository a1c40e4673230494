"""Files an agent sends with a reply: stored first, checked against the provider's limits, then queued.

Each file is streamed into the store (refused on the way: a blocked type is 415, one over the channel kind's
ATTACHMENT_MAX_BYTES is 413), then checked against what the provider can carry (`models.rules.media`: 422
`media_type_unsupported` or `media_too_large`, naming the limit). Any refusal deletes what this request already
stored and raises, so the transaction rolls back with nothing half-written: no message, no outbox row, no file.

Then the reply is queued like a text (same exactly-once send, breaker and dead-letter path): WhatsApp carries one
file per message, so each file is its own message (the text rides as the first file's caption, or goes first on
its own when that file cannot carry one: audio, sticker); Twilio MMS and SendGrid carry them all in one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from models.attachments import Attachment, AttachmentStatus
from models.errors import Invalid
from models.infra.storage import Store, Stored, StoreUnavailable
from models.org import Channel, ChannelKind
from models.rules import media as rules
from models.services.attachments import bounded, check_storable, storage_key
from models.services.media import UploadedFile
from models.services.outbound import queue_text
from models.tickets import Message, Ticket

MAX_FILES = 10  # Twilio's MMS limit; a reply with more is refused before anything is stored
_NO_CAPTION = ("audio", "sticker")


@dataclass(frozen=True)
class _Upload:
    filename: str
    content_type: str
    stored: Stored
    kind: str


def queue_files(session: Session, store: Store, max_bytes: int, ticket: Ticket, channel: Channel, body: str,
                author_id: int, now: datetime, files: Sequence[UploadedFile],
                quoting: dict[str, Any] | None = None) -> Message:
    """Store the files, check them against the provider, and queue the reply that carries them (the last
    message queued is returned: the one carrying the last file). `quoting` goes on the first message."""
    if len(files) > MAX_FILES:
        raise Invalid(f"at most {MAX_FILES} files per reply", field="file", limit=MAX_FILES)
    uploads: list[_Upload] = []
    try:
        for f in files:
            _store_checked(store, max_bytes, ticket, channel, f, uploads)
        _check_total(channel, uploads)
        return _queue(session, ticket, channel, body, author_id, now, uploads, quoting or {})
    except BaseException:
        for upload in uploads:
            # One left behind (the store down) is an unreferenced object under a random key: never served.
            with contextlib.suppress(StoreUnavailable):
                store.delete(upload.stored.key)
        raise


def _store_checked(store: Store, max_bytes: int, ticket: Ticket, channel: Channel, f: UploadedFile,
                   uploads: list[_Upload]) -> None:
    """Store one file (appended to `uploads` as soon as it is stored, so a refusal after that deletes it too),
    then check it against what the provider carries."""
    content_type = rules.content_type_of(f.content_type, f.filename)
    check_storable(content_type, None, max_bytes)
    stored = store.put(storage_key(ticket.tenant_id), bounded(f.stream, max_bytes), content_type)
    uploads.append(_Upload(f.filename or "file", content_type, stored, "file"))
    kind = rules.outbound_kind(channel.kind.value, content_type, stored.size)
    if isinstance(kind, rules.Refusal):
        raise Invalid(kind.message, field="file", code=kind.code, limit=kind.limit, filename=f.filename)
    uploads[-1] = _Upload(uploads[-1].filename, content_type, stored, kind.name)


def _check_total(channel: Channel, uploads: list[_Upload]) -> None:
    """Twilio and SendGrid limit the whole message, not each file."""
    if channel.kind == ChannelKind.WHATSAPP or len(uploads) < 2:
        return
    limit = max(k.max_bytes for k in rules.OUTBOUND.get(channel.kind.value, ()))
    total = sum(u.stored.size for u in uploads)
    if total > limit:
        raise Invalid(f"{channel.kind.value} sends up to {limit // rules.MB} MB of files in one message; these are "
                      f"{total / rules.MB:.1f} MB", field="file", code="media_too_large", limit=limit)


def _queue(session: Session, ticket: Ticket, channel: Channel, body: str, author_id: int, now: datetime,
           uploads: list[_Upload], quoting: dict[str, Any]) -> Message:
    if channel.kind != ChannelKind.WHATSAPP:
        carrier = queue_text(session, ticket, body, author_id, now, kind="media",
                             payload={**quoting, "media_kinds": [u.kind for u in uploads]})
        _attach(session, carrier, uploads, now)
        return carrier
    if body and uploads[0].kind in _NO_CAPTION:
        queue_text(session, ticket, body, author_id, now, payload=quoting)
        body, quoting = "", {}
    messages = []
    for i, upload in enumerate(uploads):
        message = queue_text(session, ticket, body if i == 0 else "", author_id, now, kind=upload.kind,
                             payload={**(quoting if i == 0 else {}), "media_kinds": [upload.kind]})
        _attach(session, message, [upload], now)
        messages.append(message)
    return messages[-1]


def _attach(session: Session, message: Message, uploads: list[_Upload], now: datetime) -> None:
    for u in uploads:
        session.add(Attachment(tenant_id=message.tenant_id, message_id=message.id, filename=u.filename[:255],
                               content_type=u.content_type[:127], size=u.stored.size, sha256=u.stored.sha256,
                               storage_key=u.stored.key, status=AttachmentStatus.STORED,
                               source={"upload": True, "kind": u.kind}, attempts=0, created_at=now,
                               stored_at=now))
    session.flush()
