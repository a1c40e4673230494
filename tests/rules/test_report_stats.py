"""Report arithmetic: percentiles like percentile_cont, and local days and hours across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from models.rules.report_stats import bucket_of, figures, percentile

NY, KOLKATA = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([], 0.5) is None
    assert percentile([10.0, 40.0, 20.0, 30.0], 0.5) == 25.0
    assert percentile([10.0, 20.0, 30.0, 40.0], 0.99) == pytest.approx(39.7)
    assert figures([]) == {"count": 0, "p50": None, "p90": None, "p99": None, "mean": None}
    assert figures([1.0, 2.0, 6.0]) == {"count": 3, "p50": 2.0, "p90": pytest.approx(5.2),
                                        "p99": pytest.approx(5.92), "mean": 3.0}


@pytest.mark.parametrize(("instant", "zone", "day", "hour"), [
    # The fall-back night: two 01:00 hours in New York, one local date.
    (datetime(2026, 11, 1, 5, 30, tzinfo=UTC), NY, "2026-11-01", "2026-11-01T01:00:00-04:00"),
    (datetime(2026, 11, 1, 6, 30, tzinfo=UTC), NY, "2026-11-01", "2026-11-01T01:00:00-05:00"),
    # Spring forward: 02:00 never happens; 03:10 EDT is in the 03:00 hour.
    (datetime(2026, 3, 8, 7, 10, tzinfo=UTC), NY, "2026-03-08", "2026-03-08T03:00:00-04:00"),
    # Late evening in New York is the next day in UTC; a half-hour offset keeps its own hours.
    (datetime(2026, 3, 3, 2, 0, tzinfo=UTC), NY, "2026-03-02", "2026-03-02T21:00:00-05:00"),
    (datetime(2026, 3, 3, 2, 0, tzinfo=UTC), KOLKATA, "2026-03-03", "2026-03-03T07:00:00+05:30"),
])
def test_buckets_are_local(instant: datetime, zone: ZoneInfo, day: str, hour: str) -> None:
    assert bucket_of(instant, zone, "day") == day
    assert bucket_of(instant, zone, "hour") == hour
    assert bucket_of(instant, zone, "none") is None


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        bucket_of(datetime(2026, 3, 3), NY, "day")  # noqa: DTZ001 - the naive instant is the point
    with pytest.raises(ValueError, match="bucket"):
        bucket_of(datetime(2026, 3, 3, tzinfo=UTC), NY, "week")
