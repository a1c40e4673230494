"""Auto-resolve rules: idle in business time since the agent spoke last; which closing the window allows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.rules.auto_resolve import closing_kind, idle_enough
from models.rules.sla import Calendar

OFFICE = Calendar.from_doc({"tz": "America/Sao_Paulo", "weekly": {d: [["09:00", "18:00"]] for d in
                                                                  ("mon", "tue", "wed", "thu", "fri")}})
FRIDAY_5PM = datetime(2026, 12, 4, 20, 0, tzinfo=UTC)  # 17:00 in São Paulo (UTC-3)


@pytest.mark.parametrize(("now", "idle"), [
    (FRIDAY_5PM + timedelta(minutes=59), False),
    (FRIDAY_5PM + timedelta(hours=40), False),  # the weekend does not count: one business hour so far
    (FRIDAY_5PM + timedelta(days=3, hours=-7), True),  # Monday 10:00: 1 h on Friday + 1 h on Monday
])
def test_idle_counts_business_hours_only(now: datetime, idle: bool) -> None:
    assert idle_enough(FRIDAY_5PM, FRIDAY_5PM - timedelta(hours=1), now, 2 * 3600, OFFICE) is idle


def test_not_idle_when_the_customer_spoke_last() -> None:
    always = Calendar.always_open()
    later = FRIDAY_5PM + timedelta(days=30)
    assert not idle_enough(FRIDAY_5PM, FRIDAY_5PM + timedelta(seconds=1), later, 3600, always)
    assert idle_enough(FRIDAY_5PM, None, later, 3600, always)


@pytest.mark.parametrize(("message", "template", "whatsapp", "ago", "kind"), [
    (True, False, False, timedelta(days=9), "text"),  # SMS / email: no window
    (True, True, True, timedelta(hours=23), "text"),
    (True, True, True, timedelta(hours=25), "template"),
    (True, False, True, timedelta(hours=25), None),  # outside the window without a template: say nothing
    (False, False, False, timedelta(0), None),
])
def test_closing_kind(message: bool, template: bool, whatsapp: bool, ago: timedelta, kind: str | None) -> None:
    assert closing_kind(message, template, whatsapp, FRIDAY_5PM - ago, FRIDAY_5PM) == kind
