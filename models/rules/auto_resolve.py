"""When an idle ticket may be resolved, and what closing message it gets. Pure: no I/O, time passed in."""

from __future__ import annotations

from datetime import datetime, timedelta

from models.rules.sla import Calendar, business_seconds

WHATSAPP_WINDOW = timedelta(hours=24)


def idle_enough(last_agent_message_at: datetime, last_customer_message_at: datetime | None, now: datetime,
                idle_seconds: float, cal: Calendar) -> bool:
    """The agent spoke last and the customer has not answered for `idle_seconds` of business time."""
    if last_customer_message_at is not None and last_customer_message_at >= last_agent_message_at:
        return False
    return business_seconds(last_agent_message_at, now, cal) >= idle_seconds


def closing_kind(has_message: bool, has_template: bool, whatsapp: bool, last_customer_message_at: datetime | None,
                 now: datetime) -> str | None:
    """"text", "template" or None (say nothing): WhatsApp takes free text only within 24 h of the customer's last
    message, so outside it the closing goes out as the configured template, or not at all."""
    in_window = not whatsapp or (last_customer_message_at is not None
                                 and now - last_customer_message_at <= WHATSAPP_WINDOW)
    if in_window:
        return "text" if has_message else None
    return "template" if has_template else None
