"""WhatsApp message templates as Meta lists them: `GET /{waba-id}/message_templates`, paged by cursor.

Kept apart from `whatsapp.py`: templates belong to the business account (WABA), not to a phone number, and are
read in pages (`paging.cursors.after`, with `paging.next` present while more follow). The number of pages read
is bounded, so a provider that never stops paging cannot hold a worker forever.
"""

from __future__ import annotations

from typing import Any

import requests

from models.providers.base import ProviderError

FIELDS = "name,status,language,category,components,id"
PAGE_SIZE = 100
MAX_PAGES = 50  # 5 000 templates: Meta's own limit per account is far lower


def list_templates(*, base_url: str, version: str, waba_id: str, token: str, timeout: tuple[float, float],
                   session: requests.Session | None = None) -> list[dict[str, Any]]:
    """Every template of the business account, each as Meta describes it."""
    http: Any = session or requests
    url = f"{base_url}/{version}/{waba_id}/message_templates"
    params: dict[str, Any] = {"fields": FIELDS, "limit": PAGE_SIZE}
    found: list[dict[str, Any]] = []
    for _ in range(MAX_PAGES):
        try:
            resp: requests.Response = http.get(url, params=params, headers={"Authorization": f"Bearer {token}"},
                                               timeout=timeout)
        except requests.Timeout as exc:
            raise ProviderError("timeout", str(exc), retryable=True) from exc
        except requests.ConnectionError as exc:
            raise ProviderError("connection", str(exc), retryable=True) from exc
        if resp.status_code != 200:
            _raise(resp)
        try:
            doc = resp.json()
            page = [t for t in doc["data"] if isinstance(t, dict)]
        except (ValueError, KeyError, TypeError) as exc:
            raise ProviderError("bad_response", resp.text[:200], retryable=True) from exc
        found.extend(page)
        paging = doc.get("paging") or {}
        after = (paging.get("cursors") or {}).get("after")
        if not page or not after or not paging.get("next"):
            return found
        params = {**params, "after": after}
    raise ProviderError("too_many_pages", f"more than {MAX_PAGES} pages of templates", retryable=False)


def _raise(resp: requests.Response) -> None:
    try:
        doc = resp.json()
    except ValueError:
        doc = None
    err = (doc.get("error") if isinstance(doc, dict) else None) or {}
    code = str(err.get("code", resp.status_code))
    retryable = resp.status_code >= 500 or resp.status_code == 429 or code in ("4", "80008")
    raise ProviderError(code, str(err.get("message", resp.text[:200])), retryable=retryable,
                        http_status=resp.status_code)
