"""SLA policy rules: which policy applies, and due times when the clock was paused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules.sla import Calendar, add_business_seconds, elapsed_with_pauses
from models.rules.sla_policy import MAX_PRIORITY, PolicySpec, choose_policy, due_with_pauses, escalated_priority

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)  # a Monday
ALWAYS = Calendar.always_open()
OFFICE = Calendar.from_doc({"tz": "America/Sao_Paulo", "weekly": {d: [["09:00", "18:00"]] for d in
                                                                   ("mon", "tue", "wed", "thu", "fri")}})
DEFAULT, BY_PRIORITY, BY_QUEUE, EXACT = (PolicySpec(1), PolicySpec(2, priority=2), PolicySpec(3, queue_id=10),
                                         PolicySpec(4, queue_id=10, priority=2))
ALL = [EXACT, BY_QUEUE, BY_PRIORITY, DEFAULT]


@pytest.mark.parametrize(("queue_id", "priority", "expected"), [
    (10, 2, EXACT),  # queue + priority beats everything
    (10, 0, BY_QUEUE),  # queue beats priority-only and default
    (11, 2, BY_PRIORITY),  # priority beats the default
    (11, 0, DEFAULT),
    (None, 0, DEFAULT),  # still at the bot's menu: no queue yet
])
def test_the_most_specific_policy_wins(queue_id: int | None, priority: int, expected: PolicySpec) -> None:
    assert choose_policy(ALL, queue_id, priority) == expected
    assert choose_policy(reversed(ALL), queue_id, priority) == expected


def test_no_matching_policy_and_deterministic_ties() -> None:
    assert choose_policy([BY_QUEUE, BY_PRIORITY], 11, 0) is None
    assert choose_policy([], 10, 2) is None
    assert choose_policy([PolicySpec(9, queue_id=10), PolicySpec(5, queue_id=10)], 10, 0) == PolicySpec(5, queue_id=10)


def test_escalated_priority_is_capped() -> None:
    assert MAX_PRIORITY == 3
    assert [escalated_priority(p) for p in (-1, 0, 1, 2, 3)] == [0, 1, 2, 3, 3]
    assert escalated_priority(5) == 5  # already above the cap (set by hand): never lowered


def test_without_pauses_due_is_the_business_clock() -> None:
    assert due_with_pauses(T0, 3600, [], ALWAYS) == T0 + timedelta(hours=1)
    assert due_with_pauses(T0, 0, [(T0, None)], ALWAYS) == T0
    # Monday 09:00 local (12:00 UTC) + 10 business hours: 9 today, 1 on Tuesday → Tuesday 10:00 local.
    assert due_with_pauses(T0, 10 * 3600, [], OFFICE) == datetime(2026, 3, 3, 13, 0, tzinfo=UTC)


def test_a_closed_pause_pushes_the_due_time_by_its_business_time() -> None:
    pause = (T0 + timedelta(minutes=10), T0 + timedelta(minutes=40))
    assert due_with_pauses(T0, 3600, [pause], ALWAYS) == T0 + timedelta(minutes=90)
    # A pause over the night costs only its business part: Monday 17:00 to Tuesday 10:00 local is 2 hours.
    night = (datetime(2026, 3, 2, 20, 0, tzinfo=UTC), datetime(2026, 3, 3, 13, 0, tzinfo=UTC))
    assert due_with_pauses(T0, 10 * 3600, [night], OFFICE) == datetime(2026, 3, 3, 15, 0, tzinfo=UTC)
    # A pause after the due time, or before the start, changes nothing.
    late = (T0 + timedelta(hours=2), T0 + timedelta(hours=3))
    early = (T0 - timedelta(hours=3), T0 - timedelta(hours=1))
    assert due_with_pauses(T0, 3600, [late, early], ALWAYS) == T0 + timedelta(hours=1)


def test_an_open_pause_hides_the_due_time_until_it_ends() -> None:
    assert due_with_pauses(T0, 3600, [(T0 + timedelta(minutes=10), None)], ALWAYS) is None
    # ... unless the time ran out before the pause began.
    assert due_with_pauses(T0, 600, [(T0 + timedelta(minutes=10), None)], ALWAYS) == T0 + timedelta(minutes=10)
    assert due_with_pauses(T0, 3600, [(T0 + timedelta(hours=2), None)], ALWAYS) == T0 + timedelta(hours=1)
    # A closed pause overlapping the open one: the clock stopped at the closed pause's start and never resumed.
    pauses = [(T0 + timedelta(minutes=5), T0 + timedelta(minutes=30)), (T0 + timedelta(minutes=20), None)]
    assert due_with_pauses(T0, 600, pauses, ALWAYS) is None


offsets = st.integers(-120, 24 * 60)


@settings(max_examples=200, deadline=None)
@given(raw=st.lists(st.tuples(offsets, st.integers(0, 24 * 60)), max_size=4), minutes=st.integers(0, 48 * 60),
       cal=st.sampled_from([ALWAYS, OFFICE]))
def test_due_time_is_the_inverse_of_elapsed_with_pauses(raw: list[tuple[int, int]], minutes: int,
                                                        cal: Calendar) -> None:
    pauses = [(T0 + timedelta(minutes=a), T0 + timedelta(minutes=a + length)) for a, length in raw]
    due = due_with_pauses(T0, minutes * 60, pauses, cal)
    assert due is not None
    assert elapsed_with_pauses(T0, due, pauses, cal) == minutes * 60
    if minutes:  # the earliest such instant
        assert elapsed_with_pauses(T0, due - timedelta(microseconds=1), pauses, cal) < minutes * 60
    if not pauses:
        assert due == add_business_seconds(T0, minutes * 60, cal)
