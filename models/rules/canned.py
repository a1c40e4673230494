"""Canned-response bodies: which variables they use and how they are filled. Pure: no I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Mapping

# Every variable a body may use; the server fills them when the reply is sent.
VARIABLES: dict[str, str] = {
    "contact.name": "the customer's name (empty when unknown)",
    "contact.first_name": "the first word of the customer's name",
    "contact.phone": "the customer's phone number",
    "contact.email": "the customer's email address",
    "agent.name": "the name of the agent sending the reply",
    "agent.first_name": "the first word of the agent's name",
    "agent.email": "the agent's email address",
    "ticket.id": "the ticket's number",
    "ticket.subject": "the ticket's subject (email)",
    "queue.name": "the ticket's queue",
    "channel.name": "the channel the ticket came in on",
    "tenant.name": "the company's name",
}

# `{{ name }}`: anything between double braces is meant as a variable, so a typo is caught, not sent.
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


def variables_in(body: str) -> list[str]:
    """The variable names a body uses, in order of first use."""
    seen: dict[str, None] = {}
    for match in _PLACEHOLDER.finditer(body):
        seen.setdefault(match.group(1).strip(), None)
    return list(seen)


def unknown_variables(body: str) -> list[str]:
    """Names used in `body` that the server cannot fill (an unclosed `{{` counts as one, shown as written)."""
    unknown = [name for name in variables_in(body) if name not in VARIABLES]
    rest = _PLACEHOLDER.sub("", body)
    if "{{" in rest:
        start = rest.index("{{")
        unknown.append(rest[start:start + 40])
    return unknown


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill every variable; one without a value becomes empty. Call only on bodies that passed the check."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1).strip()) or "", body)


def first_word(name: str | None) -> str:
    return (name or "").strip().split(" ", 1)[0]
