"""The SLA clock rule: hand-checked cases plus property tests against a minute-by-minute reference."""

from __future__ import annotations

import pickle
import time as wallclock
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.rules.sla import (
    Calendar,
    add_business_seconds,
    business_seconds,
    elapsed_with_pauses,
    warning_at,
)

H = 3600.0
MINUTE = timedelta(minutes=1)
SP_TZ = "America/Sao_Paulo"
NY_TZ = "America/New_York"


def _local(tz: str) -> Callable[..., datetime]:
    def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
        return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(tz)).astimezone(UTC)
    return at


sp = _local(SP_TZ)
ny = _local(NY_TZ)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

BR = Calendar.from_doc({
    "tz": SP_TZ,
    "weekly": {d: [["08:00", "18:00"]] for d in WEEKDAYS},
    "holidays": ["2026-12-25", "2018-11-02"],
})
BR_LUNCH = Calendar.from_doc({"tz": SP_TZ, "weekly": {d: [["08:00", "12:00"], ["13:00", "17:00"]] for d in WEEKDAYS}})
BR_DAILY = Calendar.from_doc({"tz": SP_TZ, "weekly": {d: [["08:00", "18:00"]] for d in (*WEEKDAYS, "sat", "sun")}})
# Night shift across midnight, where Brazil's clocks changed (00:00 -> 01:00 on 2018-11-04, a Sunday;
# 2019-02-17 00:00 -> 2019-02-16 23:00, a Saturday night).
BR_NIGHT = Calendar.from_doc({"tz": SP_TZ, "weekly": {"sat": [["22:00", "24:00"]], "sun": [["00:00", "04:00"]]}})
NY = Calendar.from_doc({"tz": NY_TZ, "weekly": {d: [["09:00", "17:00"]] for d in WEEKDAYS}})
# Sunday small hours in New York: 02:00 -> 03:00 on 2026-03-08, 02:00 -> 01:00 on 2026-11-01.
NY_NIGHT = Calendar.from_doc({"tz": NY_TZ, "weekly": {"sun": [["00:00", "06:00"]]}})


# --- business_seconds: hand-checked cases ---------------------------------------------------------------------

@pytest.mark.parametrize(("cal", "start", "end", "hours"), [
    pytest.param(BR, sp(2026, 3, 2, 9), sp(2026, 3, 2, 17), 8, id="same-day"),
    pytest.param(BR, sp(2026, 3, 6, 16), sp(2026, 3, 9, 10), 4, id="across-weekend"),
    pytest.param(BR, sp(2026, 3, 7, 9), sp(2026, 3, 8, 20), 0, id="weekend-only"),
    pytest.param(BR, sp(2026, 3, 2, 0), sp(2026, 3, 9, 0), 50, id="full-week"),
    pytest.param(BR, sp(2026, 12, 24, 17), sp(2026, 12, 28, 9), 2, id="christmas-holiday"),
    pytest.param(BR, sp(2026, 12, 25, 9), sp(2026, 12, 25, 17), 0, id="inside-holiday"),
    pytest.param(BR_LUNCH, sp(2026, 3, 2, 11), sp(2026, 3, 2, 14), 2, id="lunch-excluded"),
    pytest.param(BR_LUNCH, sp(2026, 3, 2, 12, 15), sp(2026, 3, 2, 12, 45), 0, id="inside-lunch"),
    pytest.param(BR_LUNCH, sp(2026, 3, 2), sp(2026, 3, 3), 8, id="lunch-full-day"),
    pytest.param(BR, sp(2026, 3, 2, 6), sp(2026, 3, 2, 9), 1, id="start-before-opening"),
    pytest.param(BR, sp(2026, 3, 2, 20), sp(2026, 3, 3, 9), 1, id="start-after-closing"),
    pytest.param(BR, sp(2026, 3, 2, 17), sp(2026, 3, 2, 9), 0, id="end-before-start"),
    pytest.param(BR, sp(2026, 3, 2, 9), sp(2026, 3, 2, 9), 0, id="empty"),
    # Brazil, spring forward 2018-11-04 00:00 -> 01:00: 08:00-18:00 is still ten wall-clock hours.
    pytest.param(BR_DAILY, sp(2018, 11, 3), sp(2018, 11, 5), 20, id="sp-spring-forward-day"),
    pytest.param(BR_DAILY, utc(2018, 11, 4, 9), utc(2018, 11, 4, 10), 0, id="sp-opens-at-08-wall-clock"),
    # ... but the missing hour 00:00-01:00 of a 00:00-04:00 shift does not exist: 2h Saturday + 3h Sunday.
    pytest.param(BR_NIGHT, utc(2018, 11, 3, 12), utc(2018, 11, 5, 12), 5, id="sp-spring-forward-night"),
    # Brazil, fall back 2019-02-17 00:00 -> 2019-02-16 23:00: Saturday 22:00-24:00 lasts 3h, Sunday 4h.
    pytest.param(BR_NIGHT, utc(2019, 2, 16, 12), utc(2019, 2, 17, 12), 7, id="sp-fall-back-night"),
    pytest.param(BR_DAILY, utc(2019, 2, 16), utc(2019, 2, 18), 20, id="sp-fall-back-day"),
    # New York 2026: the Sunday 00:00-06:00 shift lasts 5h in March and 7h in November.
    pytest.param(NY_NIGHT, utc(2026, 3, 7, 12), utc(2026, 3, 9), 5, id="ny-spring-forward-night"),
    pytest.param(NY_NIGHT, utc(2026, 10, 31, 12), utc(2026, 11, 2), 7, id="ny-fall-back-night"),
    pytest.param(NY, ny(2026, 3, 6, 9), ny(2026, 3, 9, 17), 16, id="ny-weekdays-over-spring-forward"),
    pytest.param(NY, ny(2026, 10, 30, 9), ny(2026, 11, 2, 17), 16, id="ny-weekdays-over-fall-back"),
])
def test_business_seconds(cal: Calendar, start: datetime, end: datetime, hours: float) -> None:
    assert business_seconds(start, end, cal) == hours * H


def test_business_seconds_accepts_any_aware_zone() -> None:
    start = datetime(2026, 3, 2, 9, tzinfo=ZoneInfo(SP_TZ))
    assert business_seconds(start, start + timedelta(hours=2), BR) == 2 * H


# --- add_business_seconds: hand-checked cases -----------------------------------------------------------------

@pytest.mark.parametrize(("cal", "start", "hours", "due"), [
    pytest.param(BR, sp(2026, 3, 2, 17), 2, sp(2026, 3, 3, 9), id="overnight"),
    pytest.param(BR, sp(2026, 3, 7, 10), 1, sp(2026, 3, 9, 9), id="start-on-weekend"),
    pytest.param(BR, sp(2026, 3, 2, 5), 1, sp(2026, 3, 2, 9), id="start-before-opening"),
    pytest.param(BR, sp(2026, 3, 2, 16), 2, sp(2026, 3, 2, 18), id="due-exactly-at-closing"),
    pytest.param(BR, sp(2026, 3, 2, 18), 1, sp(2026, 3, 3, 9), id="start-at-closing"),
    pytest.param(BR, sp(2026, 3, 6, 17), 11, sp(2026, 3, 9, 18), id="due-at-monday-closing"),
    pytest.param(BR, sp(2026, 3, 6, 17), 11.5, sp(2026, 3, 10, 8, 30), id="friday-to-tuesday"),
    pytest.param(BR, sp(2026, 12, 24, 17), 2, sp(2026, 12, 28, 9), id="christmas-holiday"),
    pytest.param(BR_LUNCH, sp(2026, 3, 2, 11), 2, sp(2026, 3, 2, 14), id="over-lunch"),
    pytest.param(BR_LUNCH, sp(2026, 3, 2, 11), 1, sp(2026, 3, 2, 12), id="due-at-lunch"),
    pytest.param(BR, sp(2026, 3, 7, 10), 0, sp(2026, 3, 7, 10), id="zero-is-start"),
    # 08:00 on the spring-forward Sunday is 10:00Z (-02), not 11:00Z.
    pytest.param(BR_DAILY, utc(2018, 11, 4, 4), 1, utc(2018, 11, 4, 11), id="sp-spring-forward-opening"),
    # Saturday 22:00-24:00 (01:00Z-03:00Z), then Sunday opens at the jump, 01:00 -02 = 03:00Z.
    pytest.param(BR_NIGHT, utc(2018, 11, 4), 4, utc(2018, 11, 4, 5), id="sp-spring-forward-night"),
    # Saturday 2019-02-16 22:00 -02 (00:00Z) plus the repeated 23:00 hour: 3h reach Sunday 00:00 -03.
    pytest.param(BR_NIGHT, utc(2019, 2, 17), 3, utc(2019, 2, 17, 3), id="sp-fall-back-night"),
    pytest.param(NY, ny(2026, 10, 30, 16), 2, utc(2026, 11, 2, 15), id="ny-over-fall-back-weekend"),
    pytest.param(NY, ny(2026, 3, 6, 16), 2, utc(2026, 3, 9, 14), id="ny-over-spring-forward-weekend"),
    # Six real hours from 00:00 EDT end at 05:00 EST (10:00Z), an hour before the 06:00 wall-clock close.
    pytest.param(NY_NIGHT, utc(2026, 11, 1, 4), 6, utc(2026, 11, 1, 10), id="ny-fall-back-night"),
    pytest.param(NY_NIGHT, utc(2026, 3, 8, 5), 5, utc(2026, 3, 8, 10), id="ny-spring-forward-night"),
])
def test_add_business_seconds(cal: Calendar, start: datetime, hours: float, due: datetime) -> None:
    got = add_business_seconds(start, hours * H, cal)
    assert got == due
    assert got.tzinfo is UTC
    assert business_seconds(start, got, cal) == hours * H


def test_add_business_seconds_no_open_hours() -> None:
    closed = Calendar(tz=SP_TZ, weekly={})
    with pytest.raises(ValueError, match="no open hours"):
        add_business_seconds(utc(2026, 1, 1), 60, closed)
    assert add_business_seconds(utc(2026, 1, 1), 0, closed) == utc(2026, 1, 1)
    assert business_seconds(utc(2026, 1, 1), utc(2027, 1, 1), closed) == 0


def test_add_business_seconds_gives_up_when_holidays_block_everything() -> None:
    first_monday = date(2026, 1, 5)
    mondays = frozenset(first_monday + timedelta(weeks=w) for w in range(53 * 11))
    blocked = Calendar(tz=SP_TZ, weekly={0: ((time(9), time(17)),)}, holidays=mondays)
    began = wallclock.perf_counter()
    with pytest.raises(ValueError, match="no due time within"):
        add_business_seconds(utc(2026, 1, 1), 60, blocked)
    assert wallclock.perf_counter() - began < 2


@pytest.mark.parametrize("seconds", [-1, float("nan"), float("inf")])
def test_add_business_seconds_rejects_bad_amounts(seconds: float) -> None:
    with pytest.raises(ValueError, match="seconds"):
        add_business_seconds(utc(2026, 3, 2, 12), seconds, BR)


def test_naive_datetimes_are_rejected() -> None:
    naive = utc(2026, 3, 2, 12).replace(tzinfo=None)
    aware = utc(2026, 3, 2, 12)
    with pytest.raises(ValueError, match="naive"):
        business_seconds(naive, aware, BR)
    with pytest.raises(ValueError, match="naive"):
        business_seconds(aware, naive, BR)
    with pytest.raises(ValueError, match="naive"):
        add_business_seconds(naive, 60, BR)
    with pytest.raises(ValueError, match="naive"):
        elapsed_with_pauses(aware, aware + timedelta(hours=1), [(naive, None)], BR)
    with pytest.raises(ValueError, match="naive"):
        warning_at(naive, 60, 0.8, BR)


# --- pauses --------------------------------------------------------------------------------------------------

MON = sp(2026, 3, 2)


def _mon(hour: float) -> datetime:
    return MON + timedelta(hours=hour)


@pytest.mark.parametrize(("pauses", "hours"), [
    pytest.param([], 9, id="no-pauses"),
    pytest.param([(_mon(10), _mon(11))], 8, id="one-pause"),
    pytest.param([(_mon(15), None)], 7, id="open-pause-runs-to-now"),
    pytest.param([(_mon(10.5), _mon(12)), (_mon(10), _mon(11))], 7, id="overlapping-unsorted"),
    pytest.param([(_mon(10), _mon(14)), (_mon(11), _mon(12))], 5, id="nested"),
    pytest.param([(_mon(11), _mon(12)), (_mon(10), _mon(11))], 7, id="touching"),
    pytest.param([(_mon(-4), _mon(9))], 8, id="starts-before-start"),
    pytest.param([(_mon(16), _mon(30))], 8, id="ends-after-now"),
    pytest.param([(_mon(-24), None)], 0, id="paused-throughout"),
    pytest.param([(_mon(20), None)], 9, id="open-pause-not-begun"),
    pytest.param([(_mon(12), _mon(12))], 9, id="empty-pause"),
    pytest.param([(_mon(10), _mon(11)), (_mon(10), None), (_mon(13), _mon(14))], 2, id="open-swallows-rest"),
])
def test_elapsed_with_pauses(pauses: list[tuple[datetime, datetime | None]], hours: float) -> None:
    assert elapsed_with_pauses(_mon(8), _mon(17), pauses, BR) == hours * H


def test_pause_across_weekend_only_removes_business_time() -> None:
    friday, monday = sp(2026, 3, 6, 17), sp(2026, 3, 9, 9)
    pauses = [(sp(2026, 3, 6, 17, 30), sp(2026, 3, 9, 8, 30))]
    assert elapsed_with_pauses(friday, monday, pauses, BR) == 1 * H


def test_pause_ending_before_it_starts_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"pauses\[0\]"):
        elapsed_with_pauses(_mon(8), _mon(17), [(_mon(12), _mon(11))], BR)


def test_elapsed_before_start_is_zero() -> None:
    assert elapsed_with_pauses(_mon(17), _mon(8), [(_mon(10), None)], BR) == 0


# --- warning_at ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "allowed_hours", "fraction", "expected"), [
    pytest.param(sp(2026, 3, 2, 8), 8, 0.8, sp(2026, 3, 2, 14, 24), id="same-day"),
    pytest.param(sp(2026, 3, 6, 16), 8, 0.5, sp(2026, 3, 9, 10), id="over-weekend"),
    pytest.param(sp(2026, 3, 7, 12), 8, 0.0, sp(2026, 3, 7, 12), id="zero-fraction"),
    pytest.param(sp(2026, 3, 2, 8), 8, 1.0, sp(2026, 3, 2, 16), id="whole-allowance"),
])
def test_warning_at(start: datetime, allowed_hours: float, fraction: float, expected: datetime) -> None:
    assert warning_at(start, allowed_hours * H, fraction, BR) == expected


def test_warning_at_rejects_negative_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        warning_at(_mon(8), 8 * H, -0.1, BR)


# --- Calendar ------------------------------------------------------------------------------------------------

def test_from_doc_parses_and_normalizes() -> None:
    cal = Calendar.from_doc({
        "tz": SP_TZ,
        "weekly": {"mon": [["13:00", "18:00"], ["08:00", "12:00"]], "SAT": [["22:00", "24:00"]], "sun": []},
        "holidays": ["2026-12-25"],
    })
    assert cal == Calendar(
        tz=SP_TZ,
        weekly={0: ((time(8), time(12)), (time(13), time(18))), 5: ((time(22), time(0)),)},
        holidays=frozenset({date(2026, 12, 25)}),
    )
    assert cal.weekly[0][0] == (time(8), time(12))
    assert 6 not in cal.weekly
    assert hash(cal) == hash(Calendar.from_doc({
        "tz": SP_TZ,
        "weekly": {"sat": [["22:00", "24:00"]], "mon": [["08:00", "12:00"], ["13:00", "18:00"]]},
        "holidays": ["2026-12-25"],
    }))
    assert pickle.loads(pickle.dumps(cal)) == cal  # noqa: S301 - our own bytes


def test_overlapping_intervals_are_merged() -> None:
    cal = Calendar(tz="UTC", weekly={0: ((time(8), time(12)), (time(10), time(14)), (time(14), time(15)))})
    assert cal.weekly[0] == ((time(8), time(15)),)
    assert business_seconds(utc(2026, 3, 2), utc(2026, 3, 3), cal) == 7 * H


def test_weekly_is_read_only() -> None:
    cal = Calendar.always_open()
    with pytest.raises(TypeError):
        cal.weekly[0] = ()  # type: ignore[index]


@pytest.mark.parametrize(("doc", "field"), [
    pytest.param({"weekly": {}}, "tz", id="missing-tz"),
    pytest.param({"tz": "Mars/Olympus_Mons", "weekly": {}}, "tz", id="unknown-tz"),
    pytest.param({"tz": 3, "weekly": {}}, "tz", id="tz-not-string"),
    pytest.param({"tz": "UTC"}, "weekly", id="missing-weekly"),
    pytest.param({"tz": "UTC", "weekly": [["08:00", "18:00"]]}, "weekly", id="weekly-not-object"),
    pytest.param({"tz": "UTC", "weekly": {"funday": []}}, "weekly.funday", id="bad-weekday"),
    pytest.param({"tz": "UTC", "weekly": {"mon": "08:00-18:00"}}, "weekly.mon", id="intervals-not-list"),
    pytest.param({"tz": "UTC", "weekly": {"mon": [["08:00"]]}}, r"weekly.mon\[0\]", id="pair-too-short"),
    pytest.param({"tz": "UTC", "weekly": {"mon": [["8h", "18:00"]]}}, r"weekly.mon\[0\].start", id="bad-start"),
    pytest.param({"tz": "UTC", "weekly": {"mon": [["08:00", "25:00"]]}}, r"weekly.mon\[0\].end", id="bad-end"),
    pytest.param({"tz": "UTC", "weekly": {"mon": [["24:00", "24:00"]]}}, r"weekly.mon\[0\].start", id="start-24"),
    pytest.param({"tz": "UTC", "weekly": {"tue": [["18:00", "08:00"]]}}, r"weekly.tue\[0\]", id="end-before-start"),
    pytest.param({"tz": "UTC", "weekly": {"tue": [["08:00", "08:00"]]}}, r"weekly.tue\[0\]", id="empty-interval"),
    pytest.param({"tz": "UTC", "weekly": {}, "holidays": "2026-12-25"}, "holidays", id="holidays-not-list"),
    pytest.param({"tz": "UTC", "weekly": {}, "holidays": ["2026-13-01"]}, r"holidays\[0\]", id="bad-holiday"),
    pytest.param({"tz": "UTC", "weekly": {}, "holidays": ["25/12/2026"]}, r"holidays\[0\]", id="holiday-format"),
    pytest.param({"tz": "UTC", "weekly": {}, "hollidays": []}, "hollidays", id="unknown-field"),
])
def test_from_doc_errors_name_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Calendar.from_doc(doc)


@pytest.mark.parametrize(("kwargs", "field"), [
    pytest.param({"weekly": {7: ((time(8), time(9)),)}}, "weekday", id="weekday-out-of-range"),
    pytest.param({"weekly": {0: ((time(9), time(8)),)}}, r"weekly\[0\]\[0\]", id="end-before-start"),
    pytest.param({"weekly": {0: ((time(8, tzinfo=UTC), time(9)),)}}, "tzinfo", id="aware-time"),
    pytest.param({"weekly": {0: ((8, 9),)}}, "datetime.time", id="not-times"),
    pytest.param({"weekly": {}, "holidays": frozenset({"2026-12-25"})}, "holidays", id="holiday-not-date"),
    pytest.param({"weekly": {}, "tz": "Not/AZone"}, "tz", id="unknown-tz"),
])
def test_calendar_validation(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValueError, match=field):
        Calendar(**{"tz": "UTC", **kwargs})


def test_always_open_counts_real_elapsed_time_over_dst() -> None:
    cal = Calendar.always_open(SP_TZ)
    # The local date 2019-02-16 lasted 25 hours.
    assert business_seconds(sp(2019, 2, 16), sp(2019, 2, 17), cal) == 25 * H
    assert business_seconds(sp(2018, 11, 3), sp(2018, 11, 5), cal) == 47 * H
    assert add_business_seconds(sp(2019, 2, 16), 25 * H, cal) == sp(2019, 2, 17)


# --- property tests against a minute-by-minute reference -----------------------------------------------------

ZONES = [
    "UTC", SP_TZ, NY_TZ, "Europe/London",
    "Australia/Lord_Howe",  # half-hour DST shift
    "Asia/Kolkata",  # half-hour offset, no DST
]
# UTC instants of clock changes in those zones, to start many examples right before one.
TRANSITIONS = [
    utc(2018, 11, 4, 3), utc(2019, 2, 17, 2),  # Sao Paulo
    utc(2026, 3, 8, 7), utc(2026, 11, 1, 6),  # New York
    utc(2026, 3, 29, 1), utc(2026, 10, 25, 1),  # London
    utc(2026, 4, 4, 15), utc(2026, 10, 3, 15, 30),  # Lord Howe
]
RANGE_START, RANGE_END = utc(2018, 1, 1), utc(2027, 12, 1)
MAX_MINUTES = 14 * 24 * 60

uniform_starts = st.integers(0, (RANGE_END - RANGE_START) // MINUTE).map(lambda m: RANGE_START + m * MINUTE)
near_transition = st.builds(lambda t, m: t + m * MINUTE, st.sampled_from(TRANSITIONS), st.integers(-MAX_MINUTES, 120))
starts = st.one_of(uniform_starts, near_transition)

# Minutes of the local day; 1440 is "24:00". Round values near midnight and the small hours hit DST changes.
boundaries = st.one_of(st.integers(0, 1440), st.sampled_from([0, 30, 60, 90, 120, 150, 180, 480, 720, 1380, 1440]))
intervals = st.tuples(boundaries, boundaries).filter(lambda p: p[0] != p[1]).map(lambda p: (min(p), max(p)))
RawWeekly = dict[int, list[tuple[int, int]]]
raw_weeklies = st.dictionaries(st.integers(0, 6), st.lists(intervals, max_size=3), max_size=7)


def _clock(minute: int) -> time:
    return time(0) if minute == 1440 else time(minute // 60, minute % 60)


class Spec:
    """A calendar as plain minutes, for the reference, alongside the Calendar under test."""

    def __init__(self, tz: str, weekly: RawWeekly, holidays: frozenset[date]) -> None:
        self.tz, self.weekly, self.holidays = tz, weekly, holidays
        self.cal = Calendar(
            tz=tz,
            weekly={d: tuple((_clock(s), _clock(e)) for s, e in spans) for d, spans in weekly.items()},
            holidays=holidays,
        )

    def __repr__(self) -> str:
        return f"Spec({self.tz!r}, {self.weekly!r}, {sorted(self.holidays)!r})"


@st.composite
def cases(draw: st.DrawFn) -> tuple[Spec, datetime, int]:
    """A calendar, a minute-aligned start and a duration in minutes; holidays fall within the window."""
    tz = draw(st.sampled_from(ZONES))
    start = draw(starts)
    minutes = draw(st.integers(0, MAX_MINUTES))
    first_day = start.astimezone(ZoneInfo(tz)).date()
    holidays = frozenset(first_day + timedelta(days=d) for d in draw(st.sets(st.integers(-1, 15), max_size=5)))
    return Spec(tz, draw(raw_weeklies), holidays), start, minutes


def reference_open(spec: Spec, instant: datetime) -> bool:
    """Whether the office is open during the UTC minute beginning at ``instant``.

    Interval edges are whole local minutes and every offset here is whole minutes, so openness cannot change
    within a UTC minute and checking its first instant decides it.
    """
    local = instant.astimezone(ZoneInfo(spec.tz))
    if local.date() in spec.holidays:
        return False
    minute = local.hour * 60 + local.minute
    return any(s <= minute < e for s, e in spec.weekly.get(local.weekday(), []))


def reference_minutes(spec: Spec, start: datetime, minutes: int) -> list[bool]:
    return [reference_open(spec, start + i * MINUTE) for i in range(minutes)]


PROPERTY = settings(max_examples=200, deadline=None)


@PROPERTY
@given(case=cases(), data=st.data())
def test_matches_minute_reference(case: tuple[Spec, datetime, int], data: st.DataObject) -> None:
    spec, start, minutes = case
    open_minutes = reference_minutes(spec, start, minutes)
    total = sum(open_minutes)
    assert business_seconds(start, start + minutes * MINUTE, spec.cal) == total * 60

    # The due time of k open minutes is the end of the k-th open minute.
    k = data.draw(st.integers(0, total), label="open minutes to add")
    expected = start
    if k:
        expected = start + ([i for i, is_open in enumerate(open_minutes) if is_open][k - 1] + 1) * MINUTE
    due = add_business_seconds(start, k * 60, spec.cal)
    assert due == expected
    assert business_seconds(start, due, spec.cal) == k * 60


@PROPERTY
@given(case=cases(), data=st.data())
def test_pauses_match_minute_reference(case: tuple[Spec, datetime, int], data: st.DataObject) -> None:
    spec, start, minutes = case
    now = start + minutes * MINUTE
    offsets = st.integers(-60, minutes + 60)
    raw = data.draw(st.lists(st.tuples(offsets, st.one_of(st.none(), st.integers(0, minutes + 60))), max_size=4))
    pauses = [(start + a * MINUTE, None if length is None else start + (a + length) * MINUTE) for a, length in raw]

    def paused(instant: datetime) -> bool:
        return any(p0 <= instant < (now if p1 is None else p1) for p0, p1 in pauses)

    expected = sum(1 for i in range(minutes)
                   if reference_open(spec, start + i * MINUTE) and not paused(start + i * MINUTE))
    assert elapsed_with_pauses(start, now, pauses, spec.cal) == expected * 60


instants = st.datetimes(min_value=datetime(2018, 1, 1), max_value=datetime(2027, 12, 1),  # noqa: DTZ001 - bounds
                        timezones=st.just(UTC))


@PROPERTY
@given(case=cases(), start=instants, seconds=st.integers(0, 14 * 86_400_000).map(lambda ms: ms / 1000))
def test_round_trip(case: tuple[Spec, datetime, int], start: datetime, seconds: float) -> None:
    cal = case[0].cal
    if not cal.has_open_hours and seconds:
        return
    due = add_business_seconds(start, seconds, cal)
    assert due >= start
    assert business_seconds(start, due, cal) == seconds
    # Earliest: a microsecond earlier is not enough.
    if seconds:
        assert business_seconds(start, due - timedelta(microseconds=1), cal) < seconds


spans = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=14))


@PROPERTY
@given(case=cases(), a=instants, ab=spans, bc=spans)
def test_additive_and_bounded(case: tuple[Spec, datetime, int], a: datetime, ab: timedelta, bc: timedelta) -> None:
    cal = case[0].cal
    b, c = a + ab, a + ab + bc
    first, second, whole = business_seconds(a, b, cal), business_seconds(b, c, cal), business_seconds(a, c, cal)
    assert first + second == pytest.approx(whole, abs=1e-6)
    assert 0 <= whole <= (c - a).total_seconds()
    assert business_seconds(c, a, cal) == 0


@PROPERTY
@given(tz=st.sampled_from(ZONES), a=instants, span=spans)
def test_always_open_is_elapsed_time(tz: str, a: datetime, span: timedelta) -> None:
    assert business_seconds(a, a + span, Calendar.always_open(tz)) == pytest.approx(span.total_seconds(), abs=1e-6)
    assert add_business_seconds(a, span.total_seconds(), Calendar.always_open(tz)) == a + span
