"""Calling a tenant's webhook receiver: SSRF-checked, bounded in time, never following redirects."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from models.rules.webhooks import address_refused


class ReceiverRefused(ValueError):
    """We will not call this URL (scheme, host, or an address in a refused range)."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (timeout, connection refused, refused address)
    latency_ms: int
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def check_url(url: str, allow_private: bool) -> None:
    """Refuse what we must not call: anything but HTTPS (HTTP only with allow_private), hosts that resolve to
    loopback, private, link-local or reserved addresses (unless allow_private, for self-hosted receivers)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ReceiverRefused("the URL must be https://host/...")
    if parts.scheme == "http" and not allow_private:
        raise ReceiverRefused("the URL must use https")
    if parts.username or parts.password:
        raise ReceiverRefused("credentials in the URL are not accepted; sign with the endpoint's secret instead")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise ReceiverRefused(f"{parts.hostname} does not resolve") from exc
    for info in infos:
        reason = address_refused(str(info[4][0]))
        if reason:
            raise ReceiverRefused(f"{parts.hostname} resolves to a refused address: {reason}")


def post(url: str, body: bytes, headers: dict[str, str], *, allow_private: bool, connect_timeout: float,
         read_timeout: float, http: requests.Session | None = None) -> Answer:
    """POST `body` and say what came back; never raises for the receiver's failures."""
    started = time.monotonic()
    try:
        check_url(url, allow_private)  # again at send time: DNS may have changed since the URL was saved
        resp = (http or requests).post(url, data=body, headers=headers, timeout=(connect_timeout, read_timeout),
                                       allow_redirects=False)
    except ReceiverRefused as exc:
        return Answer(None, _ms(started), str(exc))
    except requests.RequestException as exc:
        return Answer(None, _ms(started), f"{type(exc).__name__}: {exc}"[:500])
    error = None if 200 <= resp.status_code < 300 else f"HTTP {resp.status_code}: {resp.text[:200]}"
    return Answer(resp.status_code, _ms(started), error)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
