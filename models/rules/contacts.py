"""What a contact's profile may hold: phones, emails and custom attributes, checked and put in canonical form.

Pure functions; each raises ValueError with a sentence naming what is wrong.
"""

from __future__ import annotations

import re
from typing import Any

from models.rules.phones import normalize_phone

MAX_IDENTITIES = 10  # phones, and again emails, per contact
MAX_ATTRIBUTES = 50
MAX_ATTRIBUTE_TEXT = 1000

# Digits with the separators people type: "+55 (11) 98765-4321", "011.98765.4321".
_PHONE_SHAPE = re.compile(r"^\+?[\d\s().-]+$")
# A deliberate shape check, not RFC 5322: one @, no spaces, a dot in the domain.
_EMAIL_SHAPE = re.compile(r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$")
_ATTRIBUTE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def canonical_phone(raw: str) -> str:
    """E.164 digits without the plus (8 to 15 digits), the form triage stores a sender's number in."""
    if not _PHONE_SHAPE.match(raw.strip()):
        raise ValueError(f"{raw!r} is not a phone number: digits, optionally a leading + and separators")
    digits = normalize_phone(raw)
    if not 8 <= len(digits) <= 15:
        raise ValueError(f"{raw!r} has {len(digits)} digits; E.164 numbers have 8 to 15")
    return digits


def canonical_email(raw: str) -> str:
    value = raw.strip().lower()
    if len(value) > 254 or not _EMAIL_SHAPE.match(value):
        raise ValueError(f"{raw!r} is not an email address")
    return value


def canonical_list(values: list[str], canonical: Any, what: str) -> list[str]:
    """Each value in canonical form, duplicates dropped, order kept (the first is the primary)."""
    if len(values) > MAX_IDENTITIES:
        raise ValueError(f"at most {MAX_IDENTITIES} {what} per contact")
    out: list[str] = []
    for raw in values:
        value = canonical(raw)
        if value not in out:
            out.append(value)
    return out


def patched_attributes(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """`current` with `patch` applied as a JSON merge patch (RFC 7396, one level): null removes a key.

    Keys are lower-case identifiers (`plan`, `customer_since`), values scalars, so reports and filters can
    rely on them.
    """
    merged = dict(current)
    for key, value in patch.items():
        if not isinstance(key, str) or not _ATTRIBUTE_KEY.match(key):
            raise ValueError(f"attribute key {key!r}: lower-case letters, digits and _, starting with a letter, "
                             f"at most 40")
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, bool | int | float):
            merged[key] = value
        elif isinstance(value, str):
            if len(value) > MAX_ATTRIBUTE_TEXT:
                raise ValueError(f"attribute {key!r} is longer than {MAX_ATTRIBUTE_TEXT} characters")
            merged[key] = value
        else:
            raise ValueError(f"attribute {key!r} must be a string, number, boolean or null")
    if len(merged) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes per contact")
    return merged


def merged_attributes(target: dict[str, Any], source: dict[str, Any]) -> dict[str, Any]:
    """Attributes after a merge: the surviving contact's values win, the merged one's fill the gaps."""
    return {**source, **target}


def merged_notes(target: str | None, source: str | None, source_id: int) -> str | None:
    if not source:
        return target
    tagged = f"[from contact {source_id}] {source}"
    return f"{target}\n\n{tagged}" if target else tagged
