"""Reports for supervisors and admins, always of their own tenant."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Response, g, request
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import login_required
from api.db import db
from models.base import utcnow
from models.org import Role
from models.rules.csat import SCORES
from models.rules.report_stats import BUCKETS
from models.services.board import live_board
from models.services.csat_reports import GROUPS as CSAT_GROUPS
from models.services.csat_reports import csat_report
from models.services.reports import CLOCKS, MAX_PAGE, METRICS, Filters, response_tickets, responses, volume
from models.services.reports import GROUPS as GROUPS_OF_FACTS
from models.services.sla_reports import CLOCKS as SLA_CLOCKS
from models.services.sla_reports import GROUPS, sla_report

blp = Blueprint("reports", __name__, url_prefix="/api/reports", description="SLA, volume and CSAT reports")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
MAX_RANGE = timedelta(days=366)


def _storable(value: datetime) -> None:
    """An instant the database can compare with: in UTC, between 1970 and 9998."""
    try:
        year = value.astimezone(UTC).year
    except OverflowError:
        year = 0
    if not 1970 <= year <= 9998:
        raise ValidationError("must lie between 1970 and 9998")


class SlaReportQuery(Schema):
    start = fields.AwareDateTime(data_key="from", required=True, default_timezone=UTC, validate=_storable,
                                 metadata={"description": "range start, inclusive (ISO 8601; UTC when no offset)"})
    end = fields.AwareDateTime(data_key="to", required=True, default_timezone=UTC, validate=_storable,
                               metadata={"description": "range end, exclusive"})
    group_by = fields.String(load_default="tenant", validate=validate.OneOf(GROUPS))
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv: the rows as CSV, one column per figure"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "start" in data and "end" in data:
            if data["start"] >= data["end"]:
                raise ValidationError("must be after from", field_name="to")
            if data["end"] - data["start"] > MAX_RANGE:
                raise ValidationError(f"the range may span at most {MAX_RANGE.days} days", field_name="to")


class Times(Schema):
    count = fields.Integer()
    p50 = fields.Float(allow_none=True, metadata={"description": "business seconds"})
    p90 = fields.Float(allow_none=True, metadata={"description": "business seconds"})


def _per_clock(description: str, value: fields.Field[Any]) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=value, metadata={"description": description})


class SlaReportRow(Schema):
    key = fields.Integer(allow_none=True, metadata={"description": "tenant, queue or agent id; null: none"})
    name = fields.String(allow_none=True)
    opened = fields.Integer(metadata={"description": "tickets created in the range"})
    resolved = fields.Integer(metadata={"description": "tickets resolved in the range"})
    first_response = fields.Nested(Times, metadata={"description": "first responses made in the range"})
    resolution = fields.Nested(Times, metadata={"description": "resolutions in the range, from (re)opening"})
    breaches = _per_clock("breached tickets opened in the range, per clock", fields.Integer())
    tickets_with_clock = _per_clock("tickets opened in the range with a target for the clock", fields.Integer())
    breach_rate = _per_clock("breaches / tickets_with_clock per clock, and `any`", fields.Float(allow_none=True))


class SlaReport(Schema):
    start = fields.DateTime(data_key="from")
    end = fields.DateTime(data_key="to")
    group_by = fields.String()
    rows = fields.List(fields.Nested(SlaReportRow))


def _csv_doc(schema: type[Schema]) -> dict[str, Any]:
    """The 200 answer's two forms: JSON (the schema) and CSV (Accept: text/csv or format=csv)."""
    return {"200": {"content": {"application/json": {"schema": schema},
                                "text/csv": {"schema": {"type": "string", "description": "the same rows as CSV"}}}}}


def _flat(row: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A report row with its nested figures as columns: {"first_response": {"p50": 1}} -> first_response_p50."""
    out: dict[str, Any] = {}
    for k, v in row.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}_"))
        else:
            out[f"{prefix}{k}"] = v
    return out


SLA_COLUMNS = ("key", "name", "opened", "resolved",
               *(f"{t}_{f}" for t in ("first_response", "resolution") for f in ("count", "p50", "p90")),
               *(f"{fig}_{c}" for fig in ("breaches", "tickets_with_clock") for c in SLA_CLOCKS),
               *(f"breach_rate_{c}" for c in (*SLA_CLOCKS, "any")))
CSAT_COLUMNS = ("key", "name", "count", "average", *(f"distribution_{n}" for n in SCORES))


@blp.route("/sla")
class SlaReportView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(SlaReportQuery, location="query")
    @blp.response(200, SlaReport)
    @blp.doc(security=BEARER, responses=_csv_doc(SlaReport))
    def get(self, query: dict[str, Any]) -> Any:
        """SLA report over [from, to): volumes, first response and resolution p50/p90, breach rates"""
        rows = sla_report(db(), g.user.tenant_id, query["start"], query["end"], query["group_by"])
        if _wants_csv(query):
            return _csv([_flat(r) for r in rows], SLA_COLUMNS, "sla")
        return {**query, "rows": rows}


# --- responses, drill-down and volume (facts recorded as they happen: models/services/facts.py) ---------------



RESPONSE_COLUMNS = ("metric", "group_value", "group_name", "bucket", "count", "unanswered", "p50", "p90", "p99",
                    "mean")
VOLUME_COLUMNS = ("group_value", "group_name", "bucket", "messages_in", "messages_out", "tickets_opened",
                  "tickets_resolved")
SPAN_COLUMNS = ("id", "ticket_id", "cycle", "started_at", "ended_at", "seconds", "wall_seconds", "business_seconds",
                "answered", "agent_id", "queue_id", "channel_id")


class ReportQuery(Schema):
    start = fields.AwareDateTime(required=True, default_timezone=UTC, validate=_storable,
                                 metadata={"description": "range start, inclusive (ISO 8601; UTC when no offset)"})
    end = fields.AwareDateTime(required=True, default_timezone=UTC, validate=_storable,
                               metadata={"description": "range end, exclusive"})
    group = fields.String(load_default="none", validate=validate.OneOf(GROUPS_OF_FACTS),
                          metadata={"description": "split rows by agent, queue, channel or label (none: one group)"})
    bucket = fields.String(load_default="day", validate=validate.OneOf(BUCKETS),
                           metadata={"description": "day or hour in the tenant's business-hours time zone"})
    clock = fields.String(load_default="business", validate=validate.OneOf(CLOCKS),
                          metadata={"description": "business: seconds within business hours; wall: elapsed"})
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv: the rows as CSV (same as Accept: text/csv)"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "start" in data and "end" in data:
            if data["start"] >= data["end"]:
                raise ValidationError("must be after start", field_name="end")
            if data["end"] - data["start"] > MAX_RANGE:
                raise ValidationError(f"the range may span at most {MAX_RANGE.days} days", field_name="end")


class DrillQuery(ReportQuery):
    metric = fields.String(required=True, validate=validate.OneOf(METRICS))
    group_value = fields.String(metadata={"description": "the row's group_value (an id), or `none`; omitted: all"})
    bucket_value = fields.String(metadata={"description": "the row's bucket, as the report gives it; omitted: all"})
    after = fields.Integer(validate=validate.Range(min=0), metadata={"description": "next_after of the last page"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=MAX_PAGE))


class Figures(Schema):
    metric = fields.String(metadata={"description": "first_response, next_response or resolution"})
    group_value = fields.Integer(allow_none=True, metadata={"description": "agent, queue, channel or label id"})
    group_name = fields.String(allow_none=True)
    bucket = fields.String(allow_none=True, metadata={"description": "local date, or the local hour's start"})
    count = fields.Integer(metadata={"description": "measured spans that ended in the bucket"})
    unanswered = fields.Integer(metadata={"description": "waits that ended at resolve without a human reply"})
    p50 = fields.Float(allow_none=True, metadata={"description": "seconds of the chosen clock"})
    p90 = fields.Float(allow_none=True)
    p99 = fields.Float(allow_none=True)
    mean = fields.Float(allow_none=True)


class ResponsesReport(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    group = fields.String()
    bucket = fields.String()
    clock = fields.String()
    rows = fields.List(fields.Nested(Figures))


class Span(Schema):
    id = fields.Integer()
    ticket_id = fields.Integer()
    cycle = fields.Integer(metadata={"description": "1 for the ticket's first opening, 2 after a reopening, ..."})
    started_at = fields.DateTime()
    ended_at = fields.DateTime()
    seconds = fields.Float(allow_none=True, metadata={"description": "seconds of the chosen clock"})
    wall_seconds = fields.Float(allow_none=True)
    business_seconds = fields.Float(allow_none=True)
    answered = fields.Boolean()
    agent_id = fields.Integer(allow_none=True)
    queue_id = fields.Integer(allow_none=True)
    channel_id = fields.Integer(allow_none=True)


class SpanPage(Schema):
    rows = fields.List(fields.Nested(Span))
    next_after = fields.Integer(allow_none=True, metadata={"description": "pass as `after` for the next page"})


class VolumeRow(Schema):
    group_value = fields.Integer(allow_none=True)
    group_name = fields.String(allow_none=True)
    bucket = fields.String(allow_none=True)
    messages_in = fields.Integer(metadata={"description": "customer messages stored in the bucket"})
    messages_out = fields.Integer(metadata={"description": "our messages, the bot's included"})
    tickets_opened = fields.Integer(metadata={"description": "cycles opened: new tickets routed, and reopenings"})
    tickets_resolved = fields.Integer()


class VolumeReport(ResponsesReport):
    rows = fields.List(fields.Nested(VolumeRow))


def _filters(query: dict[str, Any]) -> Filters:
    return Filters(g.user.tenant_id, query["start"], query["end"], query["group"], query["bucket"], query["clock"])


def _wants_csv(query: dict[str, Any]) -> bool:
    if query.get("format"):
        return bool(query["format"] == "csv")
    return request.accept_mimetypes.best_match(["application/json", "text/csv"]) == "text/csv"


def _csv(rows: list[dict[str, Any]], columns: tuple[str, ...], name: str, **headers: str) -> Response:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()})
    return Response(out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"', **headers})


@blp.route("/responses")
class ResponsesView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, ResponsesReport)
    @blp.doc(security=BEARER, responses=_csv_doc(ResponsesReport))
    def get(self, query: dict[str, Any]) -> Any:
        """First response, next response and resolution times over [start, end): count, p50/p90/p99, mean"""
        rows = responses(db(), _filters(query))
        if _wants_csv(query):
            return _csv(rows, RESPONSE_COLUMNS, "responses")
        return {**query, "rows": rows}


@blp.route("/responses/tickets")
class ResponseTicketsView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(DrillQuery, location="query")
    @blp.response(200, SpanPage)
    @blp.doc(security=BEARER, responses=_csv_doc(SpanPage))
    def get(self, query: dict[str, Any]) -> Any:
        """The tickets behind one figure of the responses report (same filters + metric, group_value, bucket_value)"""
        rows, next_after = response_tickets(db(), _filters(query), query["metric"], query.get("group_value"),
                                            query.get("bucket_value"), query.get("after"), query["limit"])
        if _wants_csv(query):
            extra = {"X-Next-After": str(next_after)} if next_after is not None else {}
            return _csv(rows, SPAN_COLUMNS, "response-tickets", **extra)
        return {"rows": rows, "next_after": next_after}


@blp.route("/volume")
class VolumeView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, VolumeReport)
    @blp.doc(security=BEARER, responses=_csv_doc(VolumeReport))
    def get(self, query: dict[str, Any]) -> Any:
        """Messages in and out, tickets opened and resolved over [start, end), per group and bucket"""
        rows = volume(db(), _filters(query))
        if _wants_csv(query):
            return _csv(rows, VOLUME_COLUMNS, "volume")
        return {**query, "rows": rows}


# --- CSAT (models/services/csat_reports.py) ------------------------------------------------------------------


class CsatReportQuery(Schema):
    start = fields.AwareDateTime(required=True, default_timezone=UTC, validate=_storable,
                                 metadata={"description": "answers from, inclusive (ISO 8601; UTC when no offset)"})
    end = fields.AwareDateTime(required=True, default_timezone=UTC, validate=_storable,
                               metadata={"description": "answers until, exclusive"})
    group = fields.String(load_default="tenant", validate=validate.OneOf(CSAT_GROUPS))
    format = fields.String(load_default=None, validate=validate.OneOf(("json", "csv")),
                           metadata={"description": "csv: the rows as CSV, one column per score"})

    @validates_schema
    def _range(self, data: dict[str, Any], **_kwargs: Any) -> None:
        if "start" in data and "end" in data:
            if data["start"] >= data["end"]:
                raise ValidationError("must be after start", field_name="end")
            if data["end"] - data["start"] > MAX_RANGE:
                raise ValidationError(f"the range may span at most {MAX_RANGE.days} days", field_name="end")


class CsatReportRow(Schema):
    key = fields.Integer(allow_none=True, metadata={"description": "tenant, agent or queue id; null: none"})
    name = fields.String(allow_none=True)
    count = fields.Integer(metadata={"description": "ratings received in the range"})
    average = fields.Float(metadata={"description": "mean score, 1 to 5"})
    distribution = fields.Dict(keys=fields.String(), values=fields.Integer(),
                               metadata={"description": "ratings per score", "example": {"1": 0, "5": 3}})


class CsatReport(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    group = fields.String()
    rows = fields.List(fields.Nested(CsatReportRow))


@blp.route("/csat")
class CsatReportView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(CsatReportQuery, location="query")
    @blp.response(200, CsatReport)
    @blp.doc(security=BEARER, responses=_csv_doc(CsatReport))
    def get(self, query: dict[str, Any]) -> Any:
        """CSAT over [start, end) by answer time: count, average and distribution per tenant, agent or queue"""
        rows = csat_report(db(), g.user.tenant_id, query["start"], query["end"], query["group"])
        if _wants_csv(query):
            return _csv([_flat(r) for r in rows], CSAT_COLUMNS, "csat")
        return {**query, "rows": rows}


# --- the live board (models/services/board.py) -------------------------------------------------------------------


class BoardAgent(Schema):
    id = fields.Integer()
    name = fields.String()
    status = fields.String(metadata={"description": "online or away"})
    open_tickets = fields.Integer(metadata={"description": "assigned and pending tickets, every queue"})
    max_tickets = fields.Integer(metadata={"description": "capacity"})


class BoardQueue(Schema):
    id = fields.Integer()
    name = fields.String()
    waiting = fields.Integer(metadata={"description": "tickets queued for an agent"})
    oldest_waiting_since = fields.DateTime(allow_none=True,
                                           metadata={"description": "the longest-waiting ticket's (re)opening"})
    oldest_wait_seconds = fields.Float(allow_none=True, metadata={"description": "from then to `now`"})
    assigned = fields.Integer()
    pending = fields.Integer(metadata={"description": "waiting on the customer"})
    sla_at_risk = fields.Integer(metadata={"description": "open tickets past a warning, not breached"})
    sla_breached = fields.Integer(metadata={"description": "open tickets past a running clock's due time"})
    agents = fields.List(fields.Nested(BoardAgent), metadata={"description": "online and away members"})


class Board(Schema):
    now = fields.DateTime()
    queues = fields.List(fields.Nested(BoardQueue))


@blp.route("/board")
class BoardView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.response(200, Board)
    @blp.doc(security=BEARER)
    def get(self) -> dict[str, Any]:
        """The live board: per queue, waiting tickets and the oldest wait, agents online and away with their load,
        SLA at risk and breached"""
        now = utcnow()
        return {"now": now, "queues": live_board(db(), g.user.tenant_id, now)}
