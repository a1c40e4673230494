"""Response, resolution and volume reports over [start, end), read from the facts the services recorded.

What counts where:
- a response or resolution counts in the bucket (day or hour, in the tenant's time zone) when it ended, under
  the agent, queue and channel of that moment (models/reports.py); labels are the ticket's labels now, and a
  ticket with two labels counts under each;
- `count` and the times are over the measured spans; `unanswered` counts waits that ended at resolve without a
  human reply (no time);
- volume: customer messages (`in`) and our messages (`out`, bot included) by when they were stored; tickets
  opened (cycles opened by routing or reopening) by when they opened, and resolved by when they were resolved.

On PostgreSQL the figures come from one grouped SQL statement (percentile_cont, as models/rules/report_stats.py
defines them); on SQLite (the embedded mode) the same rows are read and summed in Python by those rules.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, text
from sqlalchemy.orm import Session

from models.base import UTCDateTime
from models.errors import Invalid
from models.labels import Label
from models.org import Channel, Queue, User
from models.reports import FactKind
from models.rules.report_stats import BUCKETS, QUANTILES, bucket_of, figures
from models.services.sla import calendar_of

GROUPS = ("none", "agent", "queue", "channel", "label")
CLOCKS = ("business", "wall")
METRICS = tuple(k.value for k in FactKind)
NONE = "none"  # the group_value of the rows without an agent, queue, channel or label
MAX_PAGE = 1000

# Whitelisted SQL fragments: the only text put into the statements below (values are always bound).
_FACT_GROUP = {"none": "NULL", "agent": "f.agent_id", "queue": "f.queue_id", "channel": "f.channel_id",
               "label": "tl.label_id"}
_MESSAGE_GROUP = {"none": "NULL", "agent": "CASE WHEN m.direction = 'out' THEN m.author_id ELSE t.agent_id END",
                  "queue": "t.queue_id", "channel": "m.channel_id", "label": "tl.label_id"}
_SECONDS = {"business": "f.business_seconds", "wall": "f.wall_seconds"}


@dataclass(frozen=True)
class Filters:
    """What every report takes: the tenant, the range [start, end), and how rows are split and measured."""

    tenant_id: int
    start: datetime
    end: datetime
    group: str = "none"
    bucket: str = "day"
    clock: str = "business"

    def check(self) -> None:
        if not self.start < self.end:
            raise Invalid("end must be after start", field="end")
        for name, allowed in (("group", GROUPS), ("bucket", BUCKETS), ("clock", CLOCKS)):
            if getattr(self, name) not in allowed:
                raise Invalid(f"{name} must be one of {', '.join(allowed)}", field=name)


def _zone(session: Session, tenant_id: int) -> ZoneInfo:
    return ZoneInfo(calendar_of(session, tenant_id).tz)


def _bucket_sql(column: str, bucket: str) -> str:
    """PostgreSQL's spelling of models.rules.report_stats.bucket_of (the same day and hour, DST included)."""
    if bucket == "day":
        return f"({column} AT TIME ZONE :tz)::date"
    if bucket == "hour":
        return f"({column} - (({column} AT TIME ZONE :tz) - date_trunc('hour', {column} AT TIME ZONE :tz)))"
    return "NULL"


def _bucket_name(value: Any, zone: ZoneInfo, bucket: str) -> str | None:
    if value is None or bucket == "none":
        return None
    return str(value.isoformat()) if bucket == "day" else bucket_of(value, zone, "hour")


def _label_join(group: str, alias: str) -> str:
    return f"LEFT JOIN ticket_labels tl ON tl.ticket_id = {alias}.ticket_id" if group == "label" else ""


def _params(f: Filters, zone: ZoneInfo, **more: Any) -> dict[str, Any]:
    return {"tenant_id": f.tenant_id, "start": f.start, "end": f.end, "tz": zone.key, **more}


def _stmt(sql: str, *times: str) -> Any:
    return text(sql).bindparams(*(bindparam(name, type_=UTCDateTime()) for name in ("start", "end", *times)))


def _is_pg(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


# --- responses -------------------------------------------------------------------------------------------------

def responses(session: Session, f: Filters) -> list[dict[str, Any]]:
    """One row per metric, group and bucket: count, unanswered, p50, p90, p99 and mean, in seconds of the clock."""
    f.check()
    zone = _zone(session, f.tenant_id)
    group, seconds, join = _FACT_GROUP[f.group], _SECONDS[f.clock], _label_join(f.group, "f")
    where = "f.tenant_id = :tenant_id AND f.ended_at >= :start AND f.ended_at < :end"
    rows: list[dict[str, Any]] = []
    if _is_pg(session):
        sql = (f"SELECT f.kind, {group} AS grp, {_bucket_sql('f.ended_at', f.bucket)} AS bkt, count({seconds}), "  # noqa: S608 - whitelisted fragments
               f"count(*) - count({seconds}), percentile_cont(ARRAY[0.5, 0.9, 0.99]) WITHIN GROUP "
               f"(ORDER BY {seconds}), avg({seconds}) FROM response_facts f {join} WHERE {where} GROUP BY 1, 2, 3")
        for kind, grp, bkt, n, unanswered, quantiles, mean in session.execute(_stmt(sql), _params(f, zone)):
            qs = quantiles if n else [None] * len(QUANTILES)
            rows.append({"metric": kind, "group_value": grp, "bucket": _bucket_name(bkt, zone, f.bucket),
                         "count": n, "unanswered": unanswered,
                         **{name: q for (name, _), q in zip(QUANTILES, qs, strict=True)}, "mean": mean})
    else:
        sql = (f"SELECT f.kind, {group}, f.ended_at, {seconds} FROM response_facts f {join} "  # noqa: S608 - whitelisted fragments
               f"WHERE {where}")
        spans: dict[tuple[Any, Any, Any], list[float | None]] = defaultdict(list)
        for kind, grp, ended, secs in session.execute(
                _stmt(sql).columns(ended_at=UTCDateTime()), _params(f, zone)):
            spans[(kind, grp, bucket_of(ended, zone, f.bucket))].append(secs)
        for (kind, grp, bkt), values in spans.items():
            measured = [v for v in values if v is not None]
            rows.append({"metric": kind, "group_value": grp, "bucket": bkt,
                         "unanswered": len(values) - len(measured), **figures(measured)})
    return _named(session, f, sorted(rows, key=_order))


def _order(row: dict[str, Any]) -> tuple[Any, ...]:
    return (METRICS.index(row.get("metric") or METRICS[0]), row["group_value"] is None, row["group_value"] or 0,
            row["bucket"] or "")


def response_tickets(session: Session, f: Filters, metric: str, group_value: str | None = None,
                     bucket: str | None = None, after: int | None = None,
                     limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """The spans behind one figure (metric, group value, bucket), in id order, a keyset page at a time.

    Returns the page and the `after` of the next page (None at the end). The answered ones' count and seconds
    are exactly what the figure summarised.
    """
    f.check()
    if metric not in METRICS:
        raise Invalid(f"metric must be one of {', '.join(METRICS)}", field="metric")
    if not 1 <= limit <= MAX_PAGE:
        raise Invalid(f"limit must be 1 to {MAX_PAGE}", field="limit")
    zone = _zone(session, f.tenant_id)
    params = _params(f, zone, metric=metric, after=after or 0, limit=limit + 1)
    where = ["f.tenant_id = :tenant_id", "f.ended_at >= :start", "f.ended_at < :end", "f.kind = :metric",
             "f.id > :after"]
    if f.group != "none" and group_value is not None:
        column = _FACT_GROUP[f.group]
        if group_value == NONE:
            where.append(f"{column} IS NULL")
        else:
            where.append(f"{column} = :group_value")
            params["group_value"] = _int(group_value, "group_value")
    times: list[str] = []
    bucket_filter = None
    if f.bucket != "none" and bucket is not None:
        if _is_pg(session):
            where.append(f"{_bucket_sql('f.ended_at', f.bucket)} = :bucket")
            params["bucket"] = _day(bucket) if f.bucket == "day" else _instant(bucket)
            if f.bucket == "hour":
                times.append("bucket")
        else:
            bucket_filter = bucket if f.bucket == "day" else bucket_of(_instant(bucket), zone, "hour")
            params["limit"] = -1  # SQLite: no limit; the bucket is read here, and the page cut below
    sql = ("SELECT f.id, f.ticket_id, f.cycle, f.started_at, f.ended_at, f.wall_seconds, f.business_seconds, "  # noqa: S608 - whitelisted fragments
           f"f.agent_id, f.queue_id, f.channel_id FROM response_facts f {_label_join(f.group, 'f')} "
           f"WHERE {' AND '.join(where)} ORDER BY f.id LIMIT :limit")
    stmt = _stmt(sql, *times).columns(started_at=UTCDateTime(), ended_at=UTCDateTime())
    out = []
    for row in session.execute(stmt, params).mappings():
        if bucket_filter is not None and bucket_of(row["ended_at"], zone, f.bucket) != bucket_filter:
            continue
        out.append({**row, "seconds": row[f"{f.clock}_seconds"], "answered": row["wall_seconds"] is not None})
        if len(out) > limit:
            break
    if len(out) > limit:
        return out[:limit], out[limit - 1]["id"]
    return out, None


def _int(value: str, field: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Invalid(f"{field} must be an id or {NONE!r}", field=field) from None


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid("bucket must be a date (YYYY-MM-DD), as the report gives it", field="bucket") from None


def _instant(value: str) -> datetime:
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        instant = None
    if instant is None or instant.tzinfo is None:
        raise Invalid("bucket must be an hour's start with its UTC offset, as the report gives it", field="bucket")
    return instant


# --- volume ----------------------------------------------------------------------------------------------------

def volume(session: Session, f: Filters) -> list[dict[str, Any]]:
    """One row per group and bucket: messages in and out, tickets opened and resolved."""
    f.check()
    zone = _zone(session, f.tenant_id)
    counts: Counter[tuple[Any, str | None, str]] = Counter()
    message_sql = (f"FROM messages m JOIN tickets t ON t.id = m.ticket_id {_label_join(f.group, 'm')} "
                   "WHERE m.tenant_id = :tenant_id AND m.created_at >= :start AND m.created_at < :end "
                   "AND m.direction IN ('in', 'out')")
    _count(session, f, zone, counts, _MESSAGE_GROUP[f.group], "m.created_at", "'messages_' || m.direction",
           message_sql)
    for what, column in (("tickets_opened", "f.started_at"), ("tickets_resolved", "f.ended_at")):
        _count(session, f, zone, counts, _FACT_GROUP[f.group], column, f"'{what}'",
               f"FROM response_facts f {_label_join(f.group, 'f')} WHERE f.tenant_id = :tenant_id "
               f"AND f.kind = 'resolution' AND {column} >= :start AND {column} < :end")
    rows: dict[tuple[Any, str | None], dict[str, Any]] = {}
    for (grp, bkt, what), n in counts.items():
        row = rows.setdefault((grp, bkt), {"group_value": grp, "bucket": bkt, "messages_in": 0, "messages_out": 0,
                                           "tickets_opened": 0, "tickets_resolved": 0})
        row[what] = n
    return _named(session, f, sorted(rows.values(), key=_order))


def _count(session: Session, f: Filters, zone: ZoneInfo, counts: Counter[tuple[Any, str | None, str]],
           group: str, column: str, what: str, from_where: str) -> None:
    if _is_pg(session):
        sql = f"SELECT {group}, {_bucket_sql(column, f.bucket)}, {what}, count(*) {from_where} GROUP BY 1, 2, 3"
        for grp, bkt, name, n in session.execute(_stmt(sql), _params(f, zone)):
            counts[(grp, _bucket_name(bkt, zone, f.bucket), name)] += n
    else:
        sql = f"SELECT {group}, {column} AS at, {what} {from_where}"
        for grp, at, name in session.execute(_stmt(sql).columns(at=UTCDateTime()), _params(f, zone)):
            counts[(grp, bucket_of(at, zone, f.bucket), name)] += 1


# --- names -----------------------------------------------------------------------------------------------------

_NAMED = {"agent": (User.id, User.name, User.tenant_id), "queue": (Queue.id, Queue.name, Queue.tenant_id),
          "channel": (Channel.id, Channel.name, Channel.tenant_id), "label": (Label.id, Label.name, Label.tenant_id)}


def _named(session: Session, f: Filters, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each row with its group's name (the agent's, queue's, channel's or label's), read in one query."""
    names: dict[Any, str | None] = {}
    if f.group in _NAMED:
        id_col, name_col, tenant_col = _NAMED[f.group]
        ids = {r["group_value"] for r in rows if r["group_value"] is not None}
        if ids:
            names = dict(session.execute(select(id_col, name_col).where(tenant_col == f.tenant_id,
                                                                        id_col.in_(ids))).tuples().all())
    for row in rows:
        row["group_name"] = names.get(row["group_value"])
    return rows
