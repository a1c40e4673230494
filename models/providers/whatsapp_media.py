"""WhatsApp Cloud API media: fetch an inbound media id; send a file by our link.

Kept apart from `whatsapp.py` (webhooks, message sends): media have their own two-step protocol. A media id is
resolved with `GET /{media-id}` (Bearer token) to a URL valid for about five minutes, and that URL is itself
fetched with the same token. An id Meta no longer knows answers Graph error 100 ("object does not exist"): that
is an expired media item, never worth retrying. Outbound files go by `link` (our signed, expiring URL): Meta
fetches it when it accepts the send, so the worker never holds the bytes.
"""

from __future__ import annotations

from typing import Any

import requests

from models.providers.base import MediaContent, MediaRef, OutboundFile, ProviderError

EXPIRED = "media_expired"  # the ProviderError code for a media id Meta no longer serves


def fetch(*, base_url: str, version: str, phone_number_id: str, token: str, media_id: str,
          timeout: tuple[float, float], session: requests.Session | None = None) -> MediaContent:
    """The bytes of an inbound media id, with the MIME type Meta reports for them."""
    auth = {"Authorization": f"Bearer {token}"}
    resp = _get(session, f"{base_url}/{version}/{media_id}", headers=auth, timeout=timeout,
                params={"phone_number_id": phone_number_id})
    if resp.status_code != 200:
        _raise(resp)
    try:
        doc = resp.json()
        url = str(doc["url"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
    # The download URL answers only with the token; redirects are not expected (requests would drop the header).
    download = _get(session, url, headers=auth, timeout=timeout)
    if download.status_code != 200:
        _raise(download)
    mime = str(download.headers.get("Content-Type") or doc.get("mime_type") or "application/octet-stream")
    return MediaContent(content=download.content, mime_type=mime.split(";", 1)[0].strip().lower(),
                        sha256=str(doc["sha256"]) if doc.get("sha256") else None)


def by_link(files: tuple[OutboundFile, ...], body: str) -> MediaRef | None:
    """The media of a send: WhatsApp carries one file per message, fetched by Meta from our signed link."""
    if not files:
        return None
    if len(files) > 1:
        raise ProviderError("unsupported", "WhatsApp sends one file per message", retryable=False)
    f = files[0]
    kind: Any = f.kind if f.kind in ("image", "audio", "video", "document", "sticker") else "document"
    return MediaRef(kind=kind, url=f.url, mime_type=f.content_type, filename=f.filename,
                    caption=body or None if kind in ("image", "video", "document") else None)


def _get(session: requests.Session | None, url: str, **kwargs: Any) -> requests.Response:
    return _call("get", session, url, **kwargs)


def _call(method: str, session: requests.Session | None, url: str, **kwargs: Any) -> requests.Response:
    http: Any = session or requests
    try:
        resp: requests.Response = getattr(http, method)(url, **kwargs)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    return resp


def _raise(resp: requests.Response) -> None:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    err = (doc.get("error") if isinstance(doc, dict) else None) or {}
    code = str(err.get("code", resp.status_code))
    reason = str(err.get("message", resp.text[:200]))
    if code == "100" or resp.status_code == 404:
        raise ProviderError(EXPIRED, reason, retryable=False, http_status=resp.status_code)
    retryable = resp.status_code >= 500 or resp.status_code == 429 or code in ("130429", "131056")
    raise ProviderError(code, reason, retryable=retryable, http_status=resp.status_code)
