"""Contacts: list and search, profile, every ticket of a contact, edit, merge."""

from __future__ import annotations

from typing import Any

from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import commit, db
from api.schemas import ContactPage, ContactPatch, ContactQuery, ContactSchema, MergeSchema, PageArgs, TicketPage
from models.base import utcnow
from models.org import Role
from models.services import contacts, merge

blp = Blueprint("contacts", __name__, url_prefix="/api/contacts", description="Contacts")
BEARER = [{"bearerAuth": []}]


@blp.route("")
class Contacts(MethodView):
    @login_required()
    @blp.arguments(ContactQuery, location="query")
    @blp.response(200, ContactPage)
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Contacts newest first, optionally matching a name, phone or email"""
        items, cursor = contacts.list_contacts(db(), g.user, query.get("q"), query.get("cursor"), query["limit"])
        return {"items": items, "next_cursor": cursor}


@blp.route("/<int:contact_id>")
class ContactById(MethodView):
    @login_required()
    @blp.response(200, ContactSchema)
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.doc(security=BEARER)
    def get(self, contact_id: int) -> dict[str, Any]:
        """One contact's profile"""
        return contacts.profiles(db(), [contacts.get_contact(db(), g.user, contact_id)])[0]

    @login_required()
    @blp.arguments(ContactPatch)
    @blp.response(200, ContactSchema)
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.alt_response(409, description="a phone or email belongs to another contact, or this one was merged")
    @blp.alt_response(422, description="a phone, email or attribute is malformed")
    @blp.doc(security=BEARER)
    def patch(self, body: dict[str, Any], contact_id: int) -> dict[str, Any]:
        """Edit a contact (audited)"""
        profile = contacts.update_contact(db(), g.user, contact_id, body, utcnow())
        commit()
        return profile


@blp.route("/<int:contact_id>/tickets")
class ContactTickets(MethodView):
    @login_required()
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, TicketPage)
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.doc(security=BEARER)
    def get(self, query: dict[str, Any], contact_id: int) -> dict[str, Any]:
        """Every ticket of the contact, on every channel, newest first"""
        items, cursor = contacts.contact_tickets(db(), g.user, contact_id, query.get("cursor"), query["limit"])
        return {"items": items, "next_cursor": cursor}


@blp.route("/<int:contact_id>/merge")
class Merge(MethodView):
    @login_required(Role.SUPERVISOR, Role.ADMIN)
    @blp.arguments(MergeSchema)
    @blp.response(200, ContactSchema)
    @blp.alt_response(400, description="merging a contact into itself")
    @blp.alt_response(404, description="either contact is not in your tenant")
    @blp.alt_response(409, description="either contact was already merged")
    @blp.doc(security=BEARER)
    def post(self, body: dict[str, Any], contact_id: int) -> dict[str, Any]:
        """Merge another contact into this one: its tickets, phones, emails and history move here"""
        target = merge.merge_contacts(db(), g.user, contact_id, body["from_contact_id"], utcnow())
        commit()
        return contacts.profiles(db(), [target])[0]
