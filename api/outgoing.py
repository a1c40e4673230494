"""Supervisors' outgoing webhooks: endpoints, their delivery log, test pings, secret rotation, replays."""

from __future__ import annotations

from typing import Any

from flask import current_app, g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.auth import login_required
from api.db import commit, db
from models.base import utcnow
from models.org import Role
from models.rules.webhooks import EVENTS
from models.services import webhooks
from models.webhooks import DeliveryState, WebhookDelivery, WebhookEndpoint

blp = Blueprint("outgoing_webhooks", __name__, url_prefix="/api/admin",
                description="Outgoing webhooks: signed event deliveries to the tenant's own systems")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)


class EndpointOut(Schema):
    id = fields.Integer()
    url = fields.String()
    description = fields.String()
    events = fields.List(fields.String())
    active = fields.Boolean()
    disabled_reason = fields.String(allow_none=True)
    failing_since = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()


class NewEndpointOut(EndpointOut):
    secret = fields.String(metadata={"description": "the signing secret, shown only this once"})


class EndpointIn(Schema):
    url = fields.Url(schemes={"https", "http"}, validate=validate.Length(1, 2000))
    events = fields.List(fields.String(validate=validate.OneOf(EVENTS)), validate=validate.Length(1, 50))
    description = fields.String(validate=validate.Length(0, 200))
    active = fields.Boolean()


class NewEndpointIn(EndpointIn):
    url = fields.Url(schemes={"https", "http"}, required=True, validate=validate.Length(1, 2000))
    events = fields.List(fields.String(validate=validate.OneOf(EVENTS)), required=True,
                         validate=validate.Length(1, 50))


class SecretOut(Schema):
    secret = fields.String()


class DeliveryOut(Schema):
    id = fields.Integer()
    endpoint_id = fields.Integer()
    event_id = fields.String()
    event = fields.String()
    state = fields.Function(lambda d: d.state.value, metadata={"enum": [s.value for s in DeliveryState]})
    attempts = fields.Integer()
    last_status = fields.Integer(allow_none=True)
    last_error = fields.String(allow_none=True)
    last_latency_ms = fields.Integer(allow_none=True)
    next_attempt_at = fields.DateTime()
    created_at = fields.DateTime()
    delivered_at = fields.DateTime(allow_none=True)


class DeliveryQuery(Schema):
    state = fields.String(validate=validate.OneOf([s.value for s in DeliveryState]))
    before = fields.Integer(metadata={"description": "ids below this one (the last id of the previous page)"})
    limit = fields.Integer(load_default=50, validate=validate.Range(1, 200))


def _allow_private() -> bool:
    return bool(current_app.extensions["atendimento.settings"].webhooks_allow_private)


@blp.route("/webhooks")
class Endpoints(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.response(200, EndpointOut(many=True))
    def get(self) -> list[WebhookEndpoint]:
        """The tenant's webhook endpoints"""
        return list(db().scalars(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == g.user.tenant_id)
                                 .order_by(WebhookEndpoint.id)))

    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.arguments(NewEndpointIn)
    @blp.response(201, NewEndpointOut)
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Subscribe an HTTPS endpoint to events; the answer holds its signing secret, shown once"""
        endpoint, secret = webhooks.create_endpoint(db(), g.user, body["url"], body["events"],
                                                    body.get("description", ""), utcnow(),
                                                    allow_private=_allow_private())
        commit()
        return {**{name: getattr(endpoint, name) for name in EndpointOut().fields}, "secret": secret}


@blp.route("/webhooks/<int:endpoint_id>")
class EndpointById(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.arguments(EndpointIn)
    @blp.response(200, EndpointOut)
    def patch(self, body: dict[str, Any], endpoint_id: int) -> WebhookEndpoint:
        """Change an endpoint's URL, events or description, or switch it off or on again"""
        endpoint = webhooks.update_endpoint(db(), g.user, endpoint_id, body, allow_private=_allow_private())
        commit()
        return endpoint

    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.response(204)
    def delete(self, endpoint_id: int) -> None:
        """Remove an endpoint and its delivery log"""
        webhooks.delete_endpoint(db(), g.user, endpoint_id)
        commit()


@blp.route("/webhooks/<int:endpoint_id>/rotate-secret")
class RotateSecret(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.response(200, SecretOut)
    def post(self, endpoint_id: int) -> dict[str, str]:
        """A new signing secret; deliveries are signed with it and the previous one until the next rotation"""
        secret = webhooks.rotate_secret(db(), g.user, endpoint_id)
        commit()
        return {"secret": secret}


@blp.route("/webhooks/<int:endpoint_id>/ping")
class Ping(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.response(202)
    def post(self, endpoint_id: int) -> None:
        """Send a signed `ping` event to the endpoint (see its delivery log for the answer)"""
        webhooks.ping(db(), g.user, endpoint_id, utcnow())
        commit()


@blp.route("/webhooks/<int:endpoint_id>/deliveries")
class Deliveries(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.arguments(DeliveryQuery, location="query")
    @blp.response(200, DeliveryOut(many=True))
    def get(self, query: dict[str, Any], endpoint_id: int) -> list[WebhookDelivery]:
        """The endpoint's delivery log, newest first: status codes, errors, latency, attempts"""
        return webhooks.deliveries(db(), g.user, endpoint_id, query.get("state"), query.get("before"),
                                   query["limit"])


@blp.route("/webhook-deliveries/<int:delivery_id>/replay")
class Replay(MethodView):
    @blp.doc(security=BEARER)
    @login_required(*STAFF)
    @blp.response(202, DeliveryOut)
    def post(self, delivery_id: int) -> WebhookDelivery:
        """Send a dead (or delivered) event again, with its original event id"""
        copy = webhooks.replay(db(), g.user, delivery_id, utcnow())
        commit()
        return copy
