"""Outgoing webhook rules: which events go out, the signature, the retry schedule, and which addresses we call.

Pure functions, stdlib only, time passed in.

Signature: header `X-Atendimento-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, each `v1` the HMAC-SHA256 of
`<t>.<raw body>` under one of the endpoint's active secrets (two during a rotation). A receiver recomputes it
with its secret, compares in constant time, and refuses a `t` older than a few minutes (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta
from typing import Any

# What a tenant can subscribe to, and how our internal real-time events map onto it.
EVENTS = ("ticket.created", "ticket.assigned", "ticket.updated", "ticket.resolved", "message.created",
          "message.status", "message.reaction", "sla.warning", "sla.breached", "window.closing", "csat.received",
          "ping")
_INTERNAL = {"ticket.created", "ticket.assigned", "ticket.updated", "message.created", "message.status",
             "message.reaction", "sla.warning", "sla.breached", "window.closing", "csat.received"}

RETRY_BASE = 15.0  # seconds before the second attempt; doubles each time
RETRY_CAP = 3600.0  # never more than an hour between attempts


def outgoing_events(name: str, data: dict[str, Any]) -> list[str]:
    """The webhook events an internal event stands for (a resolve is also `ticket.resolved`)."""
    if name not in _INTERNAL:
        return []
    names = [name]
    ticket = data.get("ticket") if isinstance(data.get("ticket"), dict) else data
    if name == "ticket.updated" and isinstance(ticket, dict) and ticket.get("status") == "resolved":
        names.append("ticket.resolved")
    return names


def order_key(name: str, data: dict[str, Any]) -> str:
    """Deliveries about one ticket go out in order; others only in order among themselves."""
    ticket_id = data.get("ticket_id")
    if ticket_id is None and isinstance(data.get("ticket"), dict):
        ticket_id = data["ticket"].get("id")
    if ticket_id is None and name.startswith("ticket."):
        ticket_id = data.get("id")
    return f"ticket:{ticket_id}" if ticket_id is not None else name


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    """The signature header for `body` sent at `timestamp`, one `v1` per active secret."""
    signed = str(timestamp).encode() + b"." + body
    parts = [f"t={timestamp}"] + [
        f"v1={hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()}" for secret in secrets]
    return ",".join(parts)


def verify(header: str, secret: str, body: bytes, now: float, tolerance: float = 300.0) -> bool:
    """What a receiver does (and our tests): a `v1` made with `secret`, and a timestamp within `tolerance`."""
    fields = [p.split("=", 1) for p in header.split(",") if "=" in p]
    stamps = [v for k, v in fields if k == "t"]
    if not stamps or not stamps[0].isdigit() or abs(now - int(stamps[0])) > tolerance:
        return False
    expected = signature_header([secret], int(stamps[0]), body).split(",")[1].removeprefix("v1=")
    return any(k == "v1" and hmac.compare_digest(v, expected) for k, v in fields)


def next_attempt(attempts: int, now: datetime, rand: float) -> datetime:
    """When to try again after `attempts` failed attempts: exponential, capped, with jitter in [0.5, 1)."""
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(attempts - 1, 0))
    return now + timedelta(seconds=delay * (0.5 + rand / 2))


def gives_up(created_at: datetime, now: datetime, retry_for_seconds: float) -> bool:
    """A delivery failing for longer than `retry_for_seconds` since its event becomes a dead letter."""
    return (now - created_at).total_seconds() >= retry_for_seconds


def should_disable(failing_since: datetime | None, now: datetime, disable_after_seconds: float) -> bool:
    """An endpoint that has failed every attempt for `disable_after_seconds` is switched off."""
    return failing_since is not None and (now - failing_since).total_seconds() >= disable_after_seconds


def address_refused(ip: str) -> str | None:
    """Why we would not call this address (SSRF), or None: loopback, private, link-local, multicast, reserved."""
    addr = ipaddress.ip_address(ip)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    for label, hit in (("loopback", addr.is_loopback), ("private", addr.is_private),
                       ("link-local", addr.is_link_local), ("multicast", addr.is_multicast),
                       ("reserved", addr.is_reserved), ("unspecified", addr.is_unspecified)):
        if hit:
            return f"{ip} is a {label} address"
    return None
