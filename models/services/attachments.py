"""Attachments: store an upload, find a tenant's attachment, list a page's attachments, mint download links."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.attachments import Attachment, AttachmentStatus
from models.errors import NotFound, TooLarge, UnsupportedType
from models.infra.storage import Readable, Store
from models.org import User
from models.rules import media
from models.tickets import Message


def storage_key(tenant_id: int) -> str:
    """A fresh, unguessable key in the tenant's folder of the store."""
    return f"t{tenant_id}/{uuid.uuid4().hex}"


def check_storable(content_type: str, size: int | None, max_bytes: int) -> None:
    """Refuse before anything is stored: a blocked type (415) or a size over the channel kind's limit (413)."""
    if content_type in media.BLOCKED:
        raise UnsupportedType(f"{content_type} files are not accepted", field="file")
    if size is not None and size > max_bytes:
        raise TooLarge(f"files are limited to {max_bytes} bytes on this channel", code="file_too_large", field="file",
                       limit=max_bytes)


def store_upload(session: Session, store: Store, message: Message, *, filename: str, content_type: str,
                 data: Readable, max_bytes: int, now: datetime) -> Attachment:
    """Store `data` as an attachment of `message` (checked first: nothing half-stored on refusal)."""
    check_storable(content_type, None, max_bytes)
    key = storage_key(message.tenant_id)
    stored = store.put(key, bounded(data, max_bytes), content_type)
    attachment = Attachment(tenant_id=message.tenant_id, message_id=message.id, filename=filename[:255],
                            content_type=content_type, size=stored.size, sha256=stored.sha256, storage_key=key,
                            status=AttachmentStatus.STORED, source={"upload": True}, created_at=now,
                            stored_at=now)
    session.add(attachment)
    return attachment


def get_for_user(session: Session, user: User, attachment_id: int) -> Attachment:
    """An attachment of the user's tenant; another tenant's id is NotFound, like one that does not exist."""
    attachment = session.scalars(select(Attachment).where(
        Attachment.id == attachment_id, Attachment.tenant_id == user.tenant_id)).one_or_none()
    if attachment is None:
        raise NotFound("attachment not found")
    return attachment


def of_messages(session: Session, message_ids: Iterable[int]) -> dict[int, list[Attachment]]:
    """The attachments of these messages, by message id: one query for a whole page."""
    ids = list(message_ids)
    found: dict[int, list[Attachment]] = {i: [] for i in ids}
    if ids:
        for row in session.scalars(select(Attachment).where(Attachment.message_id.in_(ids)).order_by(Attachment.id)):
            found[row.message_id].append(row)
    return found


def bounded(data: Readable, limit: int) -> Readable:
    """`data`, refusing (TooLarge) to be read past `limit` bytes: for bodies whose size is not known up front."""
    return _Bounded(data, limit)


class _Bounded:
    """A reader that refuses to go past `limit` bytes, for bodies whose size is not known up front."""

    def __init__(self, data: Readable, limit: int) -> None:
        self._data, self._limit, self._read = data, limit, 0

    def read(self, n: int = -1) -> bytes:
        chunk = self._data.read(n)
        self._read += len(chunk)
        if self._read > self._limit:
            raise TooLarge(f"files are limited to {self._limit} bytes on this channel", code="file_too_large",
                           field="file", limit=self._limit)
        return chunk
