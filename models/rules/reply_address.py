"""Reply addresses that carry their ticket: `support+t42x9f3a1c07b2@acme.example`.

Outbound email sets Reply-To to such an address, so the customer's answer comes back through Inbound Parse
with the ticket in it, whatever their mail client does with In-Reply-To. The token is signed with the
channel's secret, so nobody can thread mail onto a ticket by guessing its number. Lower case throughout:
some mail systems fold the case of local parts.
"""

from __future__ import annotations

import hashlib
import hmac
import re

_TOKEN = re.compile(r"t(\d+)x([0-9a-f]{12})")


def _mac(ticket_id: int, secret: str) -> str:
    return hmac.new(secret.encode(), f"ticket:{ticket_id}".encode(), hashlib.sha256).hexdigest()[:12]


def reply_address(channel_address: str, ticket_id: int, secret: str) -> str:
    local, _, domain = channel_address.partition("@")
    return f"{local}+t{ticket_id}x{_mac(ticket_id, secret)}@{domain}"


def ticket_of(token: str | None, secret: str) -> int | None:
    """The ticket id a token names, or None when it is missing, malformed or not signed with `secret`."""
    match = _TOKEN.fullmatch((token or "").lower())
    if not match or not secret:
        return None
    ticket_id = int(match.group(1))
    return ticket_id if hmac.compare_digest(match.group(2), _mac(ticket_id, secret)) else None
