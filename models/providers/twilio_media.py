"""Twilio MMS media: download an inbound `MediaUrl{N}` with the account's credentials.

Twilio serves media under the account's API resource (`/2010-04-01/Accounts/{sid}/Messages/{sid}/Media/{sid}`),
behind HTTP basic auth when the account enforces media authentication, and may redirect to its CDN; requests
drops the Authorization header on a redirect to another host, as it should. The credentials are only ever sent
to the configured Twilio API base URL: a media URL elsewhere is refused, never fetched with them.
"""

from __future__ import annotations

from typing import Any

import requests

from models.providers.base import MediaContent, ProviderError

EXPIRED = "media_expired"


def fetch(*, base_url: str, account_sid: str, auth_token: str, url: str, timeout: tuple[float, float],
          session: requests.Session | None = None) -> MediaContent:
    """The bytes behind an inbound MediaUrl, with the type Twilio serves them as."""
    if not url.startswith(f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/"):
        raise ProviderError("untrusted_media_url", f"not a media URL of this Twilio account: {url[:200]}")
    http: Any = session or requests
    try:
        resp: requests.Response = http.get(url, auth=(account_sid, auth_token), timeout=timeout)
    except requests.Timeout as exc:
        raise ProviderError("timeout", str(exc), retryable=True) from exc
    except requests.ConnectionError as exc:
        raise ProviderError("connection", str(exc), retryable=True) from exc
    if resp.status_code == 200:
        mime = str(resp.headers.get("Content-Type") or "application/octet-stream")
        return MediaContent(content=resp.content, mime_type=mime.split(";", 1)[0].strip().lower())
    if resp.status_code == 404:  # deleted by the account, or never there
        raise ProviderError(EXPIRED, "Twilio no longer serves this media", http_status=404)
    retryable = resp.status_code >= 500 or resp.status_code == 429
    raise ProviderError(str(resp.status_code), resp.text[:200], retryable=retryable, http_status=resp.status_code)
