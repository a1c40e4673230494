"""The SLA clock: business time between instants under an office-hours calendar.

Pure rules: no database and no clock of its own. Every function takes the instants it needs, which must be
timezone-aware (naive input raises ValueError); results are UTC.

What "open" means, DST included
-------------------------------
An instant is open when its wall-clock reading in ``Calendar.tz`` falls inside one of the open intervals of that
local date's weekday and that local date is not a holiday. Business time is the measure of the open instants,
i.e. real elapsed seconds while the office is open. This defines DST behaviour without picking a ``fold``:

* A wall time that does not exist (spring forward) is never shown by the clock, so it contributes nothing: on
  2018-11-04 in America/Sao_Paulo (00:00 jumped to 01:00) an interval 00:00-04:00 holds 3 hours, and one that
  begins inside the gap effectively opens at the transition instant.
* A wall time that happens twice (fall back) is open both times: on 2026-11-01 in America/New_York (02:00 fell
  back to 01:00) an interval 00:00-06:00 holds 7 hours, which is what the people on that shift actually work.
* An interval that does not touch the transition (08:00-18:00 on either of those dates) is still exactly
  08:00-18:00 wall clock, 10 hours.

So no local time is ever converted to UTC (where ``fold`` would have to choose); instead UTC is walked in spans
of constant UTC offset, and within such a span local time is UTC plus a constant, so the local open intervals map
back exactly. Internally everything is integer microseconds since the Unix epoch, so sums are exact and the
round trip ``business_seconds(s, add_business_seconds(s, x)) == x`` holds for any x given to the microsecond.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "Calendar",
    "add_business_seconds",
    "business_seconds",
    "elapsed_with_pauses",
    "warning_at",
]

_US = 1_000_000
_ONE_US = timedelta(microseconds=1)
_DAY_US = 86_400 * _US
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

# UTC is walked in chunks no longer than this, checking the UTC offset at both ends. A chunk whose ends agree is
# taken to have a constant offset, which holds as long as no zone changes its offset and back within 6 hours
# (none in the IANA database does); a chunk whose ends differ is bisected to the exact transition instant.
_CHUNK_US = 6 * 3600 * _US

# add_business_seconds gives up when the due instant would lie further than this from the start: a calendar
# whose holidays cover every open weekday would otherwise be searched forever.
SEARCH_LIMIT = timedelta(days=3653)

_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DOC_FIELDS = frozenset({"tz", "weekly", "holidays"})
_CLOCK_RE = re.compile(r"(\d{2}):(\d{2})(?::(\d{2}))?")

# One weekday's open intervals as (start, end) microseconds since local midnight, sorted, disjoint.
_DaySpans = tuple[tuple[int, int], ...]
_Intervals = tuple[tuple[time, time], ...]


def _time_us(t: time) -> int:
    return ((t.hour * 60 + t.minute) * 60 + t.second) * _US + t.microsecond


def _normalize_day(weekday: int, intervals: Sequence[tuple[time, time]]) -> tuple[_Intervals, _DaySpans]:
    """Validate one weekday's intervals; return them sorted and merged, and as microsecond spans.

    Overlapping or touching intervals are merged so no open instant is counted twice. An end of ``time(0)``
    (midnight) means the end of the day, "24:00", since ``datetime.time`` cannot spell 24:00.
    """
    spans: list[tuple[int, int]] = []
    for i, pair in enumerate(intervals):
        try:
            start, end = pair
        except (TypeError, ValueError):
            raise ValueError(f"weekly[{weekday}][{i}]: expected a (start, end) pair, got {pair!r}") from None
        if not isinstance(start, time) or not isinstance(end, time):
            raise ValueError(f"weekly[{weekday}][{i}]: start and end must be datetime.time, got {pair!r}")
        if start.tzinfo is not None or end.tzinfo is not None:
            raise ValueError(f"weekly[{weekday}][{i}]: times are local wall-clock times and must carry no tzinfo")
        s = _time_us(start)
        e = _time_us(end) or _DAY_US
        if e <= s:
            raise ValueError(f"weekly[{weekday}][{i}]: end {end.isoformat()} must be after start {start.isoformat()}")
        spans.append((s, e))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    as_times = tuple((_us_time(s), _us_time(e)) for s, e in merged)
    return as_times, tuple(merged)


def _us_time(us: int) -> time:
    if us >= _DAY_US:
        return time(0)
    seconds, micro = divmod(us, _US)
    return time(seconds // 3600, seconds // 60 % 60, seconds % 60, micro)


@dataclass(frozen=True)
class Calendar:
    """Office hours: when the SLA clock runs.

    ``weekly`` maps a weekday (0=Monday .. 6=Sunday) to local wall-clock (start, end) intervals within that day;
    a missing weekday is closed all day. An end of ``time(0)`` means midnight at the end of the day (24:00).
    Intervals are stored sorted with overlaps merged. ``holidays`` are local dates closed all day.
    """

    tz: str
    weekly: Mapping[int, _Intervals]
    holidays: frozenset[date] = frozenset()
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _days: tuple[_DaySpans, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.tz, str) or not self.tz:
            raise ValueError(f"tz: expected an IANA time zone name, got {self.tz!r}")
        try:
            zone = ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"tz: unknown time zone {self.tz!r}") from exc
        if not isinstance(self.weekly, Mapping):
            raise ValueError(f"weekly: expected a mapping of weekday to intervals, got {type(self.weekly).__name__}")
        weekly: dict[int, _Intervals] = {}
        days: list[_DaySpans] = [()] * 7
        for weekday, intervals in self.weekly.items():
            if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
                raise ValueError(f"weekly: weekday must be an int 0 (Monday) .. 6 (Sunday), got {weekday!r}")
            as_times, spans = _normalize_day(weekday, intervals)
            if spans:
                weekly[weekday] = as_times
                days[weekday] = spans
        holidays = frozenset(self.holidays)
        for day in holidays:
            if not isinstance(day, date) or isinstance(day, datetime):
                raise ValueError(f"holidays: expected datetime.date values, got {day!r}")
        # Frozen dataclass: normalized values go in through object.__setattr__, once, here.
        object.__setattr__(self, "weekly", MappingProxyType(dict(sorted(weekly.items()))))
        object.__setattr__(self, "holidays", holidays)
        object.__setattr__(self, "_zone", zone)
        object.__setattr__(self, "_days", tuple(days))

    def __hash__(self) -> int:
        # The generated hash would fail on the mapping; hash its normalized items instead.
        return hash((self.tz, tuple(self.weekly.items()), self.holidays))

    def __reduce__(self) -> tuple[type[Calendar], tuple[str, dict[int, _Intervals], frozenset[date]]]:
        # The read-only weekly view cannot be pickled; rebuild from plain values (Celery, copy.deepcopy).
        return (Calendar, (self.tz, dict(self.weekly), self.holidays))

    @property
    def has_open_hours(self) -> bool:
        """Whether any weekday has an open interval (holidays aside)."""
        return any(self._days)

    @classmethod
    def always_open(cls, tz: str = "UTC") -> Calendar:
        """A 24x7 calendar: business time equals elapsed time."""
        return cls(tz=tz, weekly={d: ((time(0), time(0)),) for d in range(7)})

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Calendar:
        """Build a calendar from its JSON-friendly form.

        ``{"tz": "America/Sao_Paulo", "weekly": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]], ...},
        "holidays": ["2026-12-25"]}``. Times are "HH:MM" or "HH:MM:SS"; an end may be "24:00". Weekday keys are
        mon..sun; missing weekdays are closed; "holidays" may be omitted. Raises ValueError naming the bad field.
        """
        if not isinstance(doc, Mapping):
            raise ValueError(f"calendar: expected an object, got {type(doc).__name__}")
        unknown = sorted(set(doc) - _DOC_FIELDS, key=str)
        if unknown:
            raise ValueError(f"calendar: unknown field(s) {', '.join(map(str, unknown))}")
        if "tz" not in doc:
            raise ValueError("tz: required")
        tz = doc["tz"]
        if not isinstance(tz, str):
            raise ValueError(f"tz: expected a string, got {tz!r}")
        weekly_doc = doc.get("weekly")
        if not isinstance(weekly_doc, Mapping):
            raise ValueError(f"weekly: expected an object keyed by mon..sun, got {weekly_doc!r}")
        weekly: dict[int, _Intervals] = {}
        for key, intervals in weekly_doc.items():
            name = str(key).lower()
            if name not in _WEEKDAYS:
                raise ValueError(f"weekly.{key}: unknown weekday, expected one of {', '.join(_WEEKDAYS)}")
            if not isinstance(intervals, Sequence) or isinstance(intervals, str):
                raise ValueError(f"weekly.{key}: expected a list of [start, end] pairs, got {intervals!r}")
            pairs: list[tuple[time, time]] = []
            for i, pair in enumerate(intervals):
                where = f"weekly.{key}[{i}]"
                if not isinstance(pair, Sequence) or isinstance(pair, str) or len(pair) != 2:
                    raise ValueError(f"{where}: expected [start, end], got {pair!r}")
                start = _parse_clock(pair[0], f"{where}.start", allow_24=False)
                end = _parse_clock(pair[1], f"{where}.end", allow_24=True)
                if (_time_us(end) or _DAY_US) <= _time_us(start):
                    raise ValueError(f"{where}: end {pair[1]} must be after start {pair[0]}")
                pairs.append((start, end))
            weekly[_WEEKDAYS.index(name)] = tuple(pairs)
        holidays_doc = doc.get("holidays", [])
        if not isinstance(holidays_doc, Sequence) or isinstance(holidays_doc, str):
            raise ValueError(f"holidays: expected a list of YYYY-MM-DD dates, got {holidays_doc!r}")
        holidays: set[date] = set()
        for i, raw in enumerate(holidays_doc):
            if not isinstance(raw, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                raise ValueError(f"holidays[{i}]: expected a YYYY-MM-DD date, got {raw!r}")
            try:
                holidays.add(date.fromisoformat(raw))
            except ValueError:
                raise ValueError(f"holidays[{i}]: not a valid date: {raw!r}") from None
        return cls(tz=tz, weekly=weekly, holidays=frozenset(holidays))


def _parse_clock(raw: object, where: str, *, allow_24: bool) -> time:
    """Parse "HH:MM" or "HH:MM:SS"; "24:00" (end of day) becomes time(0) when allowed."""
    match = _CLOCK_RE.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(f"{where}: expected HH:MM, got {raw!r}")
    hour, minute, second = int(match[1]), int(match[2]), int(match[3] or 0)
    if allow_24 and hour == 24 and minute == 0 and second == 0:
        return time(0)
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"{where}: not a valid time of day: {raw!r}")
    return time(hour, minute, second)


def _to_us(dt: datetime, name: str) -> int:
    if not isinstance(dt, datetime):
        raise TypeError(f"{name}: expected a datetime, got {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError(f"{name}: naive datetime {dt.isoformat()}; pass a timezone-aware UTC datetime")
    return (dt - _EPOCH) // _ONE_US


def _from_us(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _offset_us(zone: ZoneInfo, us: int) -> int:
    offset = _from_us(us).astimezone(zone).utcoffset()
    assert offset is not None
    return offset // _ONE_US


def _constant_offset_chunks(zone: ZoneInfo, start: int, stop: int) -> Iterator[tuple[int, int, int]]:
    """Split [start, stop) into (chunk_start, chunk_end, utc_offset) pieces of constant UTC offset."""
    cur = start
    offset = _offset_us(zone, cur)
    while cur < stop:
        probe = min(cur + _CHUNK_US, stop)
        if _offset_us(zone, probe) == offset:
            yield cur, probe, offset
            cur = probe
            continue
        # Bisect for the first instant with the new offset: lo keeps the old one, hi has the new one.
        lo, hi = cur, probe
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if _offset_us(zone, mid) == offset:
                lo = mid
            else:
                hi = mid
        yield cur, hi, offset
        cur = hi
        offset = _offset_us(zone, cur)


def _open_spans(cal: Calendar, start: int, stop: int) -> Iterator[tuple[int, int]]:
    """Open UTC spans within [start, stop), in ascending order, as microseconds since the epoch.

    Within a chunk of constant offset, local time is UTC + offset, so the local open intervals of each local
    date touched by the chunk map back to UTC by subtracting the offset. Spans may abut across chunk edges.
    """
    for c0, c1, offset in _constant_offset_chunks(cal._zone, start, stop):
        local0, local1 = c0 + offset, c1 + offset
        for day in range(local0 // _DAY_US, (local1 - 1) // _DAY_US + 1):
            spans = cal._days[(day + 3) % 7]  # 1970-01-01 was a Thursday (weekday 3)
            if not spans or date.fromordinal(_EPOCH_ORDINAL + day) in cal.holidays:
                continue
            midnight = day * _DAY_US
            for s, e in spans:
                lo = max(midnight + s, local0)
                hi = min(midnight + e, local1)
                if lo < hi:
                    yield lo - offset, hi - offset


def _business_us(start: int, stop: int, cal: Calendar) -> int:
    if stop <= start:
        return 0
    return sum(e - s for s, e in _open_spans(cal, start, stop))


def business_seconds(start: datetime, end: datetime, cal: Calendar) -> float:
    """Business seconds between two instants under ``cal``; 0 when end <= start."""
    return _business_us(_to_us(start, "start"), _to_us(end, "end"), cal) / _US


def add_business_seconds(start: datetime, seconds: float, cal: Calendar) -> datetime:
    """The earliest instant ``due`` with ``business_seconds(start, due, cal) == seconds``.

    Starting outside office hours, the clock starts at the next opening. Being the earliest such instant, a due
    time that lands exactly on a closing returns the closing, not the next opening; and ``seconds == 0`` returns
    ``start`` itself. Raises ValueError for negative or non-finite seconds, for a calendar with no open interval
    in its weekly schedule, and when the due instant lies beyond SEARCH_LIMIT (e.g. holidays cover every open
    day), so the search always terminates.
    """
    begin = _to_us(start, "start")
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or not math.isfinite(seconds):
        raise ValueError(f"seconds: expected a finite number, got {seconds!r}")
    if seconds < 0:
        raise ValueError(f"seconds: must not be negative, got {seconds!r}")
    remaining = round(seconds * _US)
    if remaining == 0:
        return _from_us(begin)
    if not cal.has_open_hours:
        raise ValueError("calendar has no open hours on any weekday; no due time exists")
    limit = begin + SEARCH_LIMIT // _ONE_US
    for s, e in _open_spans(cal, begin, limit):
        if remaining <= e - s:
            return _from_us(s + remaining)
        remaining -= e - s
    raise ValueError(f"no due time within {SEARCH_LIMIT.days} days of {start.isoformat()}: "
                     f"{seconds} business seconds do not fit (are holidays covering every open day?)")


def elapsed_with_pauses(start: datetime, now: datetime, pauses: Sequence[tuple[datetime, datetime | None]],
                        cal: Calendar) -> float:
    """Business seconds from ``start`` to ``now`` outside the paused spans.

    A pause whose end is None is still running, i.e. lasts until ``now``. Pauses may be unsorted, may overlap
    and may reach outside [start, now]: they are clipped and merged first so no second is subtracted twice.
    Raises ValueError for a pause whose given end precedes its start (an open pause that starts after ``now``
    simply has not begun yet).
    """
    begin, stop = _to_us(start, "start"), _to_us(now, "now")
    if stop <= begin:
        return 0.0
    clipped: list[tuple[int, int]] = []
    for i, (p_start, p_end) in enumerate(pauses):
        p0 = _to_us(p_start, f"pauses[{i}].start")
        p1 = stop if p_end is None else _to_us(p_end, f"pauses[{i}].end")
        if p_end is not None and p1 < p0:
            raise ValueError(f"pauses[{i}]: ends before it starts")
        p0, p1 = max(p0, begin), min(p1, stop)
        if p0 < p1:
            clipped.append((p0, p1))
    clipped.sort()
    # Walk the running spans between merged pauses: cursor is where the clock last resumed.
    total = 0
    cursor = begin
    for p0, p1 in clipped:
        if p0 > cursor:
            total += _business_us(cursor, p0, cal)
        cursor = max(cursor, p1)
    total += _business_us(cursor, stop, cal)
    return total / _US


def warning_at(start: datetime, allowed_seconds: float, fraction: float, cal: Calendar) -> datetime:
    """The instant when ``fraction`` (e.g. 0.8) of ``allowed_seconds`` business seconds has elapsed."""
    if not isinstance(fraction, int | float) or isinstance(fraction, bool) or not math.isfinite(fraction) \
            or fraction < 0:
        raise ValueError(f"fraction: expected a finite number >= 0, got {fraction!r}")
    return add_business_seconds(start, allowed_seconds * fraction, cal)


def is_open(cal: Calendar, now: datetime) -> bool:
    """Whether `now` falls inside business hours (the off-hours auto-reply asks this)."""
    return business_seconds(now, now + timedelta(seconds=1), cal) > 0
