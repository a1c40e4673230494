"""Reports for supervisors and admins, always of their own tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth import login_required
from api.db import db
from models.org import Role
from models.services.sla_reports import GROUPS, sla_report

blp = Blueprint("reports", __name__, url_prefix="/api/reports", description="SLA and volume reports")
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


@blp.route("/sla")
class SlaReportView(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(SlaReportQuery, location="query")
    @blp.response(200, SlaReport)
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """SLA report over [from, to): volumes, first response and resolution p50/p90, breach rates"""
        rows = sla_report(db(), g.user.tenant_id, query["start"], query["end"], query["group_by"])
        return {**query, "rows": rows}
