"""CSAT rules: a queue's settings, the question per channel, reading an answer, the signed email links.

Pure, stdlib only, time passed in.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

SCORES = (1, 2, 3, 4, 5)
BUTTON_PREFIX = "csat:"  # reply button ids (and template quick-reply payloads): csat:1 .. csat:5
DEFAULT_WINDOW = 86400  # seconds a bare digit still answers the question
DEFAULT_QUESTION = "How would you rate the help you got?"
LABELS = {1: "very bad", 2: "bad", 3: "okay", 4: "good", 5: "great"}
WHATSAPP_WINDOW = timedelta(hours=24)

_DIGIT = re.compile(r"\s*([1-5])\s*[.!)]?\s*")
_TOKEN = re.compile(r"(\d{1,18})\.([0-9a-f]{32})")


@dataclass(frozen=True)
class CsatConfig:
    """`queues.settings["csat"]`: {"enabled", "question"?, "answer_window_seconds"?, "template"?: {"name",
    "language", "variables"?}} (the template is the WhatsApp question once the 24-hour window has closed)."""

    enabled: bool = False
    question: str = DEFAULT_QUESTION
    answer_window_seconds: int = DEFAULT_WINDOW
    template: dict[str, Any] | None = None

    @classmethod
    def from_doc(cls, doc: Any) -> CsatConfig:
        if not isinstance(doc, dict):
            return cls()
        template = doc.get("template") if isinstance(doc.get("template"), dict) else None
        return cls(enabled=bool(doc.get("enabled")), question=str(doc.get("question") or DEFAULT_QUESTION),
                   answer_window_seconds=int(doc.get("answer_window_seconds") or DEFAULT_WINDOW), template=template)

    def to_doc(self) -> dict[str, Any]:
        return {"enabled": self.enabled, "question": self.question,
                "answer_window_seconds": self.answer_window_seconds, "template": self.template}


def score_of(body: str | None, button_id: str | None) -> tuple[int, str] | None:
    """(score, source) when an inbound message reads as an answer: one of our buttons, or a lone digit 1..5."""
    if button_id and button_id.startswith(BUTTON_PREFIX):
        value = button_id.removeprefix(BUTTON_PREFIX)
        return (int(value), "button") if value.isdigit() and int(value) in SCORES else None
    match = _DIGIT.fullmatch(body or "")
    return (int(match.group(1)), "reply") if match else None


def numbered_question(question: str) -> str:
    """The question as text with numbered options (SMS, and WhatsApp while reply buttons are not sendable)."""
    options = "\n".join(f"{n} - {LABELS[n]}" for n in reversed(SCORES))
    return f"{question}\nReply with a number:\n{options}"


def email_question(question: str, link: str) -> str:
    """The question as an email body: one signed link per score (`link` ends in `score=`)."""
    options = "\n".join(f"{n} ({LABELS[n]}): {link}{n}" for n in reversed(SCORES))
    return f"{question}\nChoose one:\n{options}\n\nOr reply with a number from 1 to 5."


def window_open(last_customer_message_at: datetime | None, now: datetime) -> bool:
    """Whether WhatsApp still allows a free-form message (the customer wrote within 24 hours)."""
    return last_customer_message_at is not None and now - last_customer_message_at <= WHATSAPP_WINDOW


def _mac(secret: str, survey_id: int) -> str:
    return hmac.new(secret.encode(), f"csat:{survey_id}".encode(), hashlib.sha256).hexdigest()[:32]


def link_token(secret: str, survey_id: int) -> str:
    """The token of a survey's email links: its id and an HMAC of it under our secret key."""
    return f"{survey_id}.{_mac(secret, survey_id)}"


def survey_of(token: str, secret: str) -> int | None:
    """The survey id a link token names, or None when it is malformed or not signed by us."""
    match = _TOKEN.fullmatch(token or "")
    if not match or not secret:
        return None
    survey_id = int(match.group(1))
    return survey_id if hmac.compare_digest(match.group(2), _mac(secret, survey_id)) else None
