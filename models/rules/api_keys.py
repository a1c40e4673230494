"""API key rules: the token's shape and what each scope lets a key do. Pure, stdlib only.

Scopes: `tickets:read` (read tickets, messages, queues, templates, events, attachments), `messages:write`
(reply and add notes on tickets), `admin` (everything a tenant admin may do through the API, reading included).
A key never does what needs a person: its own profile and presence, accepting a ticket for itself, marking a
conversation read, logging out, or managing API keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

TOKEN_PREFIX = "atd_"  # noqa: S105 - the public marker of a key, not a secret
SCOPES = ("tickets:read", "messages:write", "admin")

_TOKEN = re.compile(r"atd_([0-9a-f]{12})_([A-Za-z0-9_-]{32,128})")
# Flask URL rules a key may never use (they act on the person signed in).
_PERSON_ONLY = ("/api/me", "/api/auth/", "/api/admin/api-keys")
_PERSON_ONLY_SUFFIXES = ("/accept", "/read")
_MESSAGE_WRITES = ("/messages", "/notes")
_READS = {"GET", "HEAD", "OPTIONS"}


def split_token(token: str) -> tuple[str, str] | None:
    """(prefix, secret) of a well-formed key, else None."""
    match = _TOKEN.fullmatch(token)
    return (match.group(1), match.group(2)) if match else None


def looks_like_key(token: str) -> bool:
    """Whether a bearer credential is an API key rather than a user's access token (a JWT never starts so)."""
    return token.startswith(TOKEN_PREFIX)


def person_only(rule: str) -> bool:
    """Whether the endpoint at this URL rule needs a person, so a key gets 403 there."""
    return rule.startswith(_PERSON_ONLY) or (rule.startswith("/api/tickets/") and rule.endswith(_PERSON_ONLY_SUFFIXES))


def required_scope(method: str, rule: str, staff_only: bool) -> str:
    """The scope a request needs: `admin` for what only staff may do, `messages:write` to reply or note on a
    ticket, `tickets:read` for other reads; any other change needs `admin`."""
    if staff_only:
        return "admin"
    if method.upper() in _READS:
        return "tickets:read"
    if rule.startswith("/api/tickets/") and rule.endswith(_MESSAGE_WRITES):
        return "messages:write"
    return "admin"


def allows(scopes: Iterable[str], needed: str) -> bool:
    """`admin` includes every other scope."""
    held = set(scopes)
    return "admin" in held or needed in held


def invalid_scopes(scopes: Iterable[str]) -> list[str]:
    return sorted(set(scopes) - set(SCOPES))
