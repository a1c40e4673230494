"""Signed download links for attachments (see api.attachments for what serves them)."""

from __future__ import annotations

from flask import current_app

from models.attachments import Attachment
from models.infra.config import Settings
from models.services.media import signed_link


def signed_url(attachment: Attachment, now: float | None = None) -> str:
    """This attachment's download link, valid for ATTACHMENT_URL_TTL seconds from `now`."""
    settings: Settings = current_app.extensions["atendimento.settings"]
    return signed_link(settings, attachment, now)
