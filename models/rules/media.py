"""Attachment rules: what each channel can carry, what a browser may render inline, and signed media links.

Pure functions, stdlib only. Provider limits are the documented ones (Meta's supported media types table,
Twilio's MMS limit, SendGrid's message size); they are checked before a send, so an agent hears "the image is
over WhatsApp's 5 MB" at once instead of a failed message minutes later.
"""

from __future__ import annotations

import hashlib
import hmac
import mimetypes
from dataclasses import dataclass

MB = 1024 * 1024

# Types a browser renders without running anything: served inline. Everything else (HTML, SVG, PDF, scripts,
# unknown) is served as a download, always with nosniff.
INLINE_SAFE = frozenset({
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg", "audio/wav", "audio/webm",
    "video/mp4", "video/3gpp", "video/webm", "text/plain",
})

# Never stored or sent: files that run when opened.
BLOCKED = frozenset({
    "application/x-msdownload", "application/x-msdos-program", "application/x-executable", "application/x-sh",
    "application/x-bat", "application/vnd.microsoft.portable-executable", "application/java-archive",
})

_WA_DOCUMENT = frozenset({
    "text/plain", "application/pdf", "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
})


@dataclass(frozen=True)
class MediaKind:
    """One kind of media a channel sends, with its MIME types (None: any) and its size limit."""

    name: str
    types: frozenset[str] | None
    max_bytes: int


# Per channel kind, in preference order: a file is sent as the first kind that accepts its type.
OUTBOUND: dict[str, tuple[MediaKind, ...]] = {
    "whatsapp": (
        MediaKind("image", frozenset({"image/jpeg", "image/png"}), 5 * MB),
        MediaKind("video", frozenset({"video/mp4", "video/3gpp"}), 16 * MB),
        MediaKind("audio", frozenset({"audio/aac", "audio/amr", "audio/mpeg", "audio/mp4", "audio/ogg"}), 16 * MB),
        MediaKind("sticker", frozenset({"image/webp"}), 500 * 1024),
        MediaKind("document", _WA_DOCUMENT, 100 * MB),
    ),
    # Twilio MMS: 5 MB for the whole message; JPEG, PNG and GIF are fully supported, other types pass through.
    "sms": (MediaKind("image", frozenset({"image/jpeg", "image/png", "image/gif"}), 5 * MB),
            MediaKind("file", frozenset({"audio/mpeg", "audio/ogg", "video/mp4", "video/3gpp", "application/pdf",
                                         "text/vcard", "text/plain"}), 5 * MB)),
    # SendGrid: 30 MB per message after base64 (4/3 larger): about 20 MB of files.
    "email": (MediaKind("file", None, 20 * MB),),
    "sandbox": (MediaKind("file", None, 25 * MB),),
}


@dataclass(frozen=True)
class Refusal:
    """Why a file cannot go out on a channel; `code` is the API's error code, `limit` the figure in question."""

    code: str  # media_type_unsupported | media_too_large
    message: str
    limit: int | None = None


def content_type_of(declared: str | None, filename: str) -> str:
    """The declared MIME type without parameters, or the one the file name implies, or octet-stream."""
    value = (declared or "").split(";", 1)[0].strip().lower()
    if value and value != "application/octet-stream":
        return value
    guessed, _ = mimetypes.guess_type(filename)
    return (guessed or "application/octet-stream").lower()


def outbound_kind(channel_kind: str, content_type: str, size: int) -> MediaKind | Refusal:
    """The media kind a file goes out as on `channel_kind`, or why it cannot."""
    kinds = OUTBOUND.get(channel_kind, ())
    accepting = [k for k in kinds if k.types is None or content_type in k.types]
    if content_type in BLOCKED or not accepting:
        return Refusal("media_type_unsupported", f"{channel_kind} cannot send {content_type} files")
    kind = accepting[0]
    if size > kind.max_bytes:
        return Refusal("media_too_large",
                       f"{channel_kind} sends {kind.name} files up to {_human(kind.max_bytes)}; "
                       f"this one is {_human(size)}", kind.max_bytes)
    return kind


def render_inline(content_type: str) -> bool:
    """May a browser show this in the page? Anything that could run (HTML, SVG, PDF, ...) is a download."""
    return content_type in INLINE_SAFE


def link_signature(secret: str, attachment_id: int, expires: int) -> str:
    """The signature of a media link valid until `expires` (unix seconds), for one attachment."""
    msg = f"media:{attachment_id}:{expires}".encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


def link_valid(secret: str, attachment_id: int, expires: int, signature: str, now: float) -> bool:
    """A link is good until it expires, and only with the signature made for it."""
    return now <= expires and hmac.compare_digest(link_signature(secret, attachment_id, expires), signature)


def _human(size: int) -> str:
    if size >= MB:
        return f"{size / MB:.0f} MB" if size % MB == 0 else f"{size / MB:.1f} MB"
    return f"{size // 1024} KB"
