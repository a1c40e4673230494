"""Labels: the tenant's set (supervisors), and the labels on a ticket or a contact (agents)."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from api.auth import login_required
from api.db import commit, db
from api.schemas import LabelSchema
from models.base import utcnow
from models.labels import Label
from models.org import Role
from models.services import labels

blp = Blueprint("labels", __name__, url_prefix="/api", description="Labels on tickets and contacts")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]
STAFF = (Role.SUPERVISOR, Role.ADMIN)


class LabelIn(Schema):
    name = fields.String(validate=validate.Length(1, 64))
    color = fields.String(validate=validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="#rrggbb"))


class LabelSet(Schema):
    label_ids = fields.List(fields.Integer(), required=True, validate=validate.Length(0, 100))


@blp.route("/labels")
class Labels(MethodView):
    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.doc(security=BEARER)
    def get(self) -> list[Label]:
        """The tenant's labels, by name"""
        return labels.list_labels(db(), g.user)

    @login_required(*STAFF)
    @blp.arguments(LabelSchema)
    @blp.response(201, LabelSchema)
    @blp.alt_response(409, description="a label of that name exists (any case)")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any]) -> Label:
        """Create a label (supervisors)"""
        label = labels.save_label(db(), g.user, body, utcnow())
        commit()
        return label


@blp.route("/labels/<int:label_id>")
class LabelById(MethodView):
    @login_required(*STAFF)
    @blp.arguments(LabelIn)
    @blp.response(200, LabelSchema)
    @blp.alt_response(404, description="no such label in your tenant")
    @blp.doc(security=BEARER)
    def patch(self, body: dict[str, Any], label_id: int) -> Label:
        """Rename or recolour a label (supervisors)"""
        label = labels.save_label(db(), g.user, body, utcnow(), label_id)
        commit()
        return label

    @login_required(*STAFF)
    @blp.response(204)
    @blp.alt_response(404, description="no such label in your tenant")
    @blp.doc(security=BEARER)
    def delete(self, label_id: int) -> None:
        """Delete a label, taking it off every ticket and contact (supervisors)"""
        labels.delete_label(db(), g.user, label_id, utcnow())
        commit()


def _change(target: Any, entity_id: int, action: Any, *args: Any) -> list[Label]:
    result = action(db(), g.user, target, entity_id, *args, utcnow())
    commit()
    return result


@blp.route("/tickets/<int:ticket_id>/labels")
class TicketLabels(MethodView):
    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such ticket in your tenant")
    @blp.doc(security=BEARER)
    def get(self, ticket_id: int) -> list[Label]:
        """The ticket's labels"""
        return labels.labels_of(db(), g.user, labels.TICKETS, ticket_id)

    @login_required()
    @blp.arguments(LabelSet)
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such ticket or label in your tenant")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any], ticket_id: int) -> list[Label]:
        """Replace the ticket's labels with exactly these"""
        return _change(labels.TICKETS, ticket_id, labels.replace, body["label_ids"])


@blp.route("/tickets/<int:ticket_id>/labels/<int:label_id>")
class TicketLabel(MethodView):
    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such ticket or label in your tenant")
    @blp.doc(security=BEARER)
    def post(self, ticket_id: int, label_id: int) -> list[Label]:
        """Put a label on the ticket (already there: no change); answers the ticket's labels"""
        return _change(labels.TICKETS, ticket_id, labels.add, label_id)

    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such ticket or label in your tenant")
    @blp.doc(security=BEARER)
    def delete(self, ticket_id: int, label_id: int) -> list[Label]:
        """Take a label off the ticket (not there: no change); answers the ticket's labels"""
        return _change(labels.TICKETS, ticket_id, labels.remove, label_id)


@blp.route("/contacts/<int:contact_id>/labels")
class ContactLabels(MethodView):
    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.doc(security=BEARER)
    def get(self, contact_id: int) -> list[Label]:
        """The contact's labels"""
        return labels.labels_of(db(), g.user, labels.CONTACTS, contact_id)

    @login_required()
    @blp.arguments(LabelSet)
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such contact or label in your tenant")
    @blp.doc(security=BEARER)
    def put(self, body: dict[str, Any], contact_id: int) -> list[Label]:
        """Replace the contact's labels with exactly these"""
        return _change(labels.CONTACTS, contact_id, labels.replace, body["label_ids"])


@blp.route("/contacts/<int:contact_id>/labels/<int:label_id>")
class ContactLabel(MethodView):
    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such contact or label in your tenant")
    @blp.doc(security=BEARER)
    def post(self, contact_id: int, label_id: int) -> list[Label]:
        """Put a label on the contact (already there: no change); answers the contact's labels"""
        return _change(labels.CONTACTS, contact_id, labels.add, label_id)

    @login_required()
    @blp.response(200, LabelSchema(many=True))
    @blp.alt_response(404, description="no such contact or label in your tenant")
    @blp.doc(security=BEARER)
    def delete(self, contact_id: int, label_id: int) -> list[Label]:
        """Take a label off the contact (not there: no change); answers the contact's labels"""
        return _change(labels.CONTACTS, contact_id, labels.remove, label_id)
