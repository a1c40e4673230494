"""Signed download links for attachments (see api.attachments for what serves them)."""

from __future__ import annotations

import time
from urllib.parse import quote

from flask import current_app

from models.attachments import Attachment
from models.infra.config import Settings
from models.rules import media


def signed_url(attachment: Attachment, now: float | None = None) -> str:
    """This attachment's download link, valid for ATTACHMENT_URL_TTL seconds from `now`."""
    settings: Settings = current_app.extensions["atendimento.settings"]
    expires = int(now if now is not None else time.time()) + settings.attachment_url_ttl
    signature = media.link_signature(settings.secret_key, attachment.id, expires)
    name = quote(attachment.filename or "file", safe="")
    return f"{settings.public_base_url}/media/{attachment.id}/{name}?e={expires}&s={signature}"
