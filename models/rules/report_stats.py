"""Report arithmetic: percentiles, the day and hour a fact falls in, the figures of a set of durations.

Pure rules, time passed in. PostgreSQL computes the same figures in SQL for speed (models/services/reports.py);
these are the definitions, used on SQLite (the embedded mode) and by the tests to check the SQL.

Buckets are read in the tenant's time zone, DST included:
- a day is a local date ("2026-11-01"), so a DST day holds 23 or 25 hours, as the people there lived it;
- an hour starts at the instant its local hour began, given with the local offset
  ("2026-11-01T01:00:00-04:00" and "2026-11-01T01:00:00-05:00" are the two 01:00 hours of a fall-back night).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

__all__ = ["BUCKETS", "QUANTILES", "bucket_of", "figures", "hour_start", "percentile"]

BUCKETS = ("none", "day", "hour")
QUANTILES = (("p50", 0.5), ("p90", 0.9), ("p99", 0.99))


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1), interpolating linearly between closest ranks like percentile_cont; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def figures(values: Sequence[float]) -> dict[str, float | int | None]:
    """count, p50, p90, p99 and mean of some durations (None for the times when there are none)."""
    out: dict[str, float | int | None] = {"count": len(values)}
    for name, q in QUANTILES:
        out[name] = percentile(values, q)
    out["mean"] = sum(values) / len(values) if values else None
    return out


def hour_start(instant: datetime, zone: ZoneInfo) -> datetime:
    """The instant at which the local hour holding `instant` began (aware, UTC in, the same zone's offset out)."""
    local = instant.astimezone(zone)
    start = instant - timedelta(minutes=local.minute, seconds=local.second, microseconds=local.microsecond)
    return start.astimezone(zone)


def bucket_of(instant: datetime, zone: ZoneInfo, bucket: str) -> str | None:
    """The bucket's name: the local date (day), the local hour's start with its offset (hour), None (none)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetime refused: pass an aware instant")
    if bucket == "day":
        return instant.astimezone(zone).date().isoformat()
    if bucket == "hour":
        return hour_start(instant, zone).isoformat()
    if bucket == "none":
        return None
    raise ValueError(f"bucket must be one of {', '.join(BUCKETS)}")
