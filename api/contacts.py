"""Contacts: list and search, profile, every ticket of a contact, edit, merge, export and erasure."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify
from flask.views import MethodView
from flask_smorest import Blueprint

from api.auth import login_required
from api.db import commit, db
from api.errors import ApiError
from api.schemas import (
    ContactJobSchema,
    ContactPage,
    ContactPatch,
    ContactQuery,
    ContactSchema,
    EraseSchema,
    MergeSchema,
    PageArgs,
    TicketPage,
)
from models.base import utcnow
from models.contacts import ContactJob, JobKind, JobStatus
from models.org import Role
from models.services import contacts, merge, privacy

blp = Blueprint("contacts", __name__, url_prefix="/api/contacts", description="Contacts")
BEARER: list[dict[str, list[str]]] = [{"bearerAuth": []}]


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


SUPERVISORS = (Role.SUPERVISOR, Role.ADMIN)


def _request(contact_id: int, kind: JobKind) -> ContactJob:
    job = privacy.request_job(db(), g.user, contact_id, kind, utcnow())
    commit()
    return job


@blp.route("/<int:contact_id>/export")
class Export(MethodView):
    @login_required(*SUPERVISORS)
    @blp.response(202, ContactJobSchema)
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.alt_response(409, description="the contact was merged into another")
    @blp.doc(security=BEARER)
    def post(self, contact_id: int) -> ContactJob:
        """Export everything held about the contact (LGPD/GDPR access request), as a background job"""
        return _request(contact_id, JobKind.EXPORT)


@blp.route("/<int:contact_id>/erase")
class Erase(MethodView):
    @login_required(*SUPERVISORS)
    @blp.arguments(EraseSchema)
    @blp.response(202, ContactJobSchema)
    @blp.alt_response(404, description="no such contact in your tenant")
    @blp.alt_response(409, description="the contact was merged into another, or is already erased")
    @blp.doc(security=BEARER)
    def post(self, _body: dict[str, Any], contact_id: int) -> ContactJob:
        """Erase the contact (message text anonymised, identities and profile removed; audited), in the background"""
        return _request(contact_id, JobKind.ERASURE)


@blp.route("/jobs/<int:job_id>")
class Job(MethodView):
    @login_required(*SUPERVISORS)
    @blp.response(200, ContactJobSchema)
    @blp.alt_response(404, description="no such job in your tenant")
    @blp.doc(security=BEARER)
    def get(self, job_id: int) -> ContactJob:
        """An export or erasure job: status and progress"""
        return privacy.get_job(db(), g.user, job_id)


@blp.route("/jobs/<int:job_id>/result")
class JobResult(MethodView):
    @login_required(*SUPERVISORS)
    @blp.response(200, description="the export document (JSON), or the erasure's counts, as a download")
    @blp.alt_response(404, description="no such job in your tenant")
    @blp.alt_response(409, description="the job has not finished")
    @blp.doc(security=BEARER)
    def get(self, job_id: int) -> Response:
        """Download a finished job's result"""
        job = privacy.get_job(db(), g.user, job_id)
        if job.status != JobStatus.DONE:
            raise ApiError(409, "not_finished", f"job is {job.status.value} ({job.progress}%)")
        resp = jsonify(job.result)
        resp.headers["Content-Disposition"] = f'attachment; filename="contact-{job.contact_id}-{job.kind.value}.json"'
        return resp
