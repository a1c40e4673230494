"""Template rules: which variables a WhatsApp template needs, and the send components that fill them.

Meta numbers a template's variables `{{1}}`, `{{2}}`, ... per component (header and body); a send passes them
in order as `components[].parameters`. Counting and checking them here turns Meta's error 132000 ("number of
parameters does not match") into a 422 the agent can act on before anything is sent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_PLACEHOLDER = re.compile(r"\{\{\s*(\d+)\s*\}\}")
MAX_PARAMETER = 1024  # characters Meta takes in one body parameter
MEDIA_HEADERS = ("IMAGE", "VIDEO", "DOCUMENT")


@dataclass(frozen=True)
class Needs:
    """What filling a template takes: body variables, header text variables, and a header media kind."""

    body: int
    header_text: int
    header_media: str | None  # image | video | document | None

    def as_dict(self) -> dict[str, Any]:
        return {"body": self.body, "header_text": self.header_text, "header_media": self.header_media}


class TemplateMismatch(ValueError):
    """The variables given do not fit the template; the message says which and how many."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def _count(text: str) -> int:
    numbers = {int(n) for n in _PLACEHOLDER.findall(text or "")}
    return max(numbers) if numbers else 0


def needs(components: list[dict[str, Any]]) -> Needs:
    """The variables a template's components call for."""
    body = header_text = 0
    header_media = None
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "BODY":
            body = _count(str(component.get("text", "")))
        elif kind == "HEADER":
            fmt = str(component.get("format", "TEXT")).upper()
            if fmt == "TEXT":
                header_text = _count(str(component.get("text", "")))
            elif fmt in MEDIA_HEADERS:
                header_media = fmt.lower()
    return Needs(body, header_text, header_media)


def send_components(template_components: list[dict[str, Any]], variables: list[str],
                    header_variables: list[str] | None = None,
                    header_media_link: str | None = None) -> list[dict[str, Any]]:
    """The `components` of a template send, checked against what the template needs."""
    need = needs(template_components)
    header_variables = header_variables or []
    if len(variables) != need.body:
        raise TemplateMismatch(f"the template's body takes {need.body} variables; {len(variables)} given",
                               "variables")
    if len(header_variables) != need.header_text:
        raise TemplateMismatch(f"the template's header takes {need.header_text} variables; "
                               f"{len(header_variables)} given", "header_variables")
    for value in [*variables, *header_variables]:
        if not value.strip():
            raise TemplateMismatch("template variables must not be empty", "variables")
        if len(value) > MAX_PARAMETER or "\n" in value or "    " in value:
            # Meta refuses parameters with new lines, tabs or more than four spaces in a row.
            raise TemplateMismatch("a template variable may not hold new lines, four spaces in a row, or more "
                                   f"than {MAX_PARAMETER} characters", "variables")
    if need.header_media and not header_media_link:
        raise TemplateMismatch(f"the template's header is a {need.header_media}: give header_media_url",
                               "header_media_url")
    components: list[dict[str, Any]] = []
    if need.header_media and header_media_link:
        components.append({"type": "header", "parameters": [
            {"type": need.header_media, need.header_media: {"link": header_media_link}}]})
    elif header_variables:
        components.append({"type": "header", "parameters": [{"type": "text", "text": v} for v in header_variables]})
    if variables:
        components.append({"type": "body", "parameters": [{"type": "text", "text": v} for v in variables]})
    return components


def preview(template_components: list[dict[str, Any]], variables: list[str]) -> str:
    """The body as the customer will read it, for the ticket's history."""
    body = next((str(c.get("text", "")) for c in template_components if str(c.get("type", "")).upper() == "BODY"),
                "")

    def fill(match: re.Match[str]) -> str:
        index = int(match.group(1)) - 1
        return variables[index] if 0 <= index < len(variables) else match.group(0)

    return _PLACEHOLDER.sub(fill, body)
