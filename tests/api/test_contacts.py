"""Contacts over HTTP: search, profile, history across channels, edits (validated, audited), merge."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Contact, ContactIdentity, OutboxTask, Ticket
from models.base import utcnow
from models.tickets import TicketStatus
from tests.api.conftest import login
from tests.services.contacts_helpers import EMAIL, WHATSAPP, received

MARIA_PHONE, MARIA_EMAIL = "5511987654321", "maria@example.com"


def two_marias(sessions: sessionmaker[Session]) -> tuple[int, int]:
    """The phone contact and the email contact of one person, each with a ticket: (phone id, email id)."""
    _m, phone_ticket = received(sessions, WHATSAPP, MARIA_PHONE, "Oi, meu pedido atrasou", name="Maria Silva")
    _m, email_ticket = received(sessions, EMAIL, "Maria@Example.com", "Sobre o pedido 123")
    with sessions() as s:
        return (s.get_one(Ticket, phone_ticket).contact_id, s.get_one(Ticket, email_ticket).contact_id)


def test_search_profile_and_every_ticket(client: FlaskClient, sessions: sessionmaker[Session],
                                         tenants: dict[str, Any]) -> None:
    phone_id, email_id = two_marias(sessions)
    ana = login(client, "acme", "ana@acme.example", "pw-ana")

    def ids(q: str) -> list[int]:
        return [c["id"] for c in client.get("/api/contacts", query_string={"q": q}, headers=ana).json["items"]]

    assert ids("mar") == [email_id, phone_id]  # name prefix and email prefix, newest first
    assert ids("silva") == [phone_id]  # any word of the name
    assert ids("98765") == [phone_id] and ids("(11) 98765") == [phone_id]  # digits, without the country code
    assert ids("maria@") == [email_id] and ids("nobody") == []
    page = client.get("/api/contacts", query_string={"limit": 1}, headers=ana).json
    assert [c["id"] for c in page["items"]] == [email_id]
    rest = client.get("/api/contacts", query_string={"limit": 1, "cursor": page["next_cursor"]}, headers=ana).json
    assert [c["id"] for c in rest["items"]] == [phone_id] and rest["next_cursor"] is None
    profile = client.get(f"/api/contacts/{phone_id}", headers=ana).json
    assert (profile["name"], profile["phones"], profile["emails"], profile["attributes"]) == (
        "Maria Silva", [MARIA_PHONE], [], {})
    assert client.get(f"/api/contacts/{email_id}", headers=ana).json["emails"] == [MARIA_EMAIL]
    assert client.get("/api/contacts/999999", headers=ana).status_code == 404
    # A second phone added by an agent: the customer writing from it lands on the same contact.
    resp = client.patch(f"/api/contacts/{phone_id}", headers=ana, json={
        "phones": ["+55 11 98765-4321", "+55 (21) 99999-0000"], "attributes": {"plan": "gold", "seats": 3},
        "notes": "prefere WhatsApp"})
    assert resp.status_code == 200, resp.json
    assert resp.json["phones"] == [MARIA_PHONE, "5521999990000"] and resp.json["attributes"]["plan"] == "gold"
    _m, ticket_id = received(sessions, WHATSAPP, "5521999990000", "outro número")
    tickets = client.get(f"/api/contacts/{phone_id}/tickets", headers=ana).json["items"]
    assert [t["id"] for t in tickets] == [ticket_id]  # the contact's open WhatsApp ticket
    # An email added to the profile: the customer's email opens a ticket on the same contact, another channel.
    assert client.patch(f"/api/contacts/{phone_id}", headers=ana, json={"emails": ["m.silva@example.com"]}
                        ).status_code == 200
    _m, email_ticket = received(sessions, EMAIL, "M.Silva@example.com", "por email agora")
    tickets = client.get(f"/api/contacts/{phone_id}/tickets", headers=ana).json["items"]
    assert [t["id"] for t in tickets] == [email_ticket, ticket_id]
    resp = client.patch(f"/api/contacts/{phone_id}", headers=ana, json={"attributes": {"plan": None}})
    assert resp.json["attributes"] == {"seats": 3}
    with sessions() as s:
        audit = s.scalars(select(AuditEntry).where(AuditEntry.entity == "contact", AuditEntry.entity_id == phone_id)
                          .order_by(AuditEntry.id)).all()
    assert [a.action for a in audit] == ["contact.updated"] * 3
    assert audit[0].data["changes"]["phones"] == [[MARIA_PHONE], [MARIA_PHONE, "5521999990000"]]
    assert audit[0].actor_id == tenants["users"]["ana"].id


def test_edits_are_validated_precisely(client: FlaskClient, sessions: sessionmaker[Session],
                                       tenants: dict[str, Any]) -> None:
    phone_id, email_id = two_marias(sessions)
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    for body, field in (({"phones": ["call me"]}, "phones"), ({"phones": ["123"]}, "phones"),
                        ({"emails": ["maria@"]}, "emails"), ({"attributes": {"Bad Key": 1}}, "attributes"),
                        ({"attributes": {"plan": {"nested": True}}}, "attributes")):
        resp = client.patch(f"/api/contacts/{phone_id}", headers=ana, json=body)
        assert resp.status_code == 422, (body, resp.json)
        assert resp.json["error"]["details"]["field"] == field, resp.json
    resp = client.patch(f"/api/contacts/{phone_id}", headers=ana, json={"color": "blue"})
    assert resp.status_code == 422 and "color" in resp.json["error"]["details"]["json"]
    # The email is the other contact's: the answer says which, so the agent can merge them.
    resp = client.patch(f"/api/contacts/{phone_id}", headers=ana, json={"emails": ["MARIA@example.com"]})
    assert resp.status_code == 409 and resp.json["error"]["details"]["contact_id"] == email_id
    with sessions() as s:  # nothing half-written
        assert s.get_one(Contact, phone_id).email is None
        assert not s.scalars(select(AuditEntry).where(AuditEntry.entity == "contact")).all()


def test_merge_moves_tickets_and_identities_and_leaves_a_tombstone(client: FlaskClient,
                                                                   sessions: sessionmaker[Session],
                                                                   tenants: dict[str, Any]) -> None:
    phone_id, email_id = two_marias(sessions)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    client.patch(f"/api/contacts/{email_id}", headers=carla, json={"attributes": {"city": "Recife"}})
    url = f"/api/contacts/{phone_id}/merge"
    assert client.post(url, headers=ana, json={"from_contact_id": email_id}).status_code == 403
    resp = client.post(url, headers=carla, json={"from_contact_id": phone_id})
    assert (resp.status_code, resp.json["error"]["code"]) == (400, "merge_into_self")
    assert client.post(url, headers=carla, json={"from_contact_id": 999999}).status_code == 404
    resp = client.post(url, headers=carla, json={"from_contact_id": email_id})
    assert resp.status_code == 200, resp.json
    merged = resp.json
    assert (merged["phones"], merged["emails"], merged["email"]) == ([MARIA_PHONE], [MARIA_EMAIL], MARIA_EMAIL)
    assert merged["attributes"] == {"city": "Recife"} and merged["name"] == "Maria Silva"
    tickets = client.get(f"/api/contacts/{phone_id}/tickets", headers=ana).json["items"]
    assert len(tickets) == 2 and {t["contact_id"] for t in tickets} == {phone_id}
    tombstone = client.get(f"/api/contacts/{email_id}", headers=ana).json
    assert tombstone["merged_into_id"] == phone_id and tombstone["emails"] == []
    assert email_id not in [c["id"] for c in client.get("/api/contacts", headers=ana).json["items"]]
    # Merging again, either way round, is refused: the merged contact is a tombstone.
    assert client.post(url, headers=carla, json={"from_contact_id": email_id}).status_code == 409
    assert client.post(f"/api/contacts/{email_id}/merge", headers=carla,
                       json={"from_contact_id": phone_id}).status_code == 409
    assert client.patch(f"/api/contacts/{email_id}", headers=carla, json={"name": "x"}).status_code == 409
    # The customer's next email lands on the surviving contact's (moved) email ticket.
    _m, ticket_id = received(sessions, EMAIL, MARIA_EMAIL, "ainda aguardo")
    with sessions() as s:
        assert s.get_one(Ticket, ticket_id).contact_id == phone_id
        assert s.scalars(select(ContactIdentity.contact_id).distinct()).all() == [phone_id]
        actions = s.scalars(select(AuditEntry.entity_id).where(AuditEntry.action == "contact.merged")).all()
    assert sorted(actions) == sorted([phone_id, email_id])


def test_merge_resolves_the_duplicate_open_ticket_on_one_channel(client: FlaskClient,
                                                                 sessions: sessionmaker[Session],
                                                                 tenants: dict[str, Any]) -> None:
    """Two WhatsApp numbers of one person, each with an open ticket: one open ticket per contact and channel."""
    _m, first = received(sessions, WHATSAPP, MARIA_PHONE, "oi")
    _m, second = received(sessions, WHATSAPP, "5521999990000", "sou eu de novo")
    with sessions() as s:
        target, source = s.get_one(Ticket, first).contact_id, s.get_one(Ticket, second).contact_id
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.post(f"/api/contacts/{target}/merge", headers=carla, json={"from_contact_id": source})
    assert resp.status_code == 200, resp.json
    with sessions() as s:
        tickets = {t.id: t for t in s.scalars(select(Ticket))}
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "contact.merged")).first()
    assert {t.contact_id for t in tickets.values()} == {target}
    assert (tickets[first].status, tickets[second].status) == (TicketStatus.QUEUED, TicketStatus.RESOLVED)
    assert audit is not None and audit.data["resolved_duplicates"] == [second]


def test_other_tenants_see_no_contact(client: FlaskClient, sessions: sessionmaker[Session],
                                      tenants: dict[str, Any]) -> None:
    phone_id, _email_id = two_marias(sessions)
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/contacts", headers=gina).json["items"] == []
    assert client.get("/api/contacts", query_string={"q": "maria"}, headers=gina).json["items"] == []
    assert client.get(f"/api/contacts/{phone_id}", headers=gina).status_code == 404


def test_export_and_erasure_jobs_over_http(client: FlaskClient, sessions: sessionmaker[Session], bus: Any,
                                           tenants: dict[str, Any]) -> None:
    from models.services import privacy
    from tests.services.helpers import drain

    phone_id, _email_id = two_marias(sessions)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.post(f"/api/contacts/{phone_id}/export", headers=ana).status_code == 403
    resp = client.post(f"/api/contacts/{phone_id}/export", headers=carla)
    assert resp.status_code == 202, resp.json
    job = resp.json
    assert (job["kind"], job["status"], job["progress"], job["result_url"]) == ("export", "queued", 0, None)
    assert client.get(f"/api/contacts/jobs/{job['id']}/result", headers=carla).status_code == 409

    def run_job(_s: Session, job_id: int) -> None:  # what the worker's task does: one transaction per step
        status = "running"
        while status == "running":
            with sessions() as step, step.begin():
                status = privacy.run_step(step, job_id, utcnow())

    with sessions() as s:  # the task the API queued, as a worker would receive it
        bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).where(
            OutboxTask.task == "contacts.run_job"))]
    assert drain(sessions, bus, {"contacts.run_job": run_job}) == ["contacts.run_job"]
    done = client.get(f"/api/contacts/jobs/{job['id']}", headers=carla).json
    assert (done["status"], done["progress"]) == ("done", 100)
    download = client.get(done["result_url"], headers=carla)
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    assert download.json["contact"]["name"] == "Maria Silva"
    assert [m["body"] for t in download.json["tickets"] for m in t["messages"]] == ["Oi, meu pedido atrasou"]
    resp = client.post(f"/api/contacts/{phone_id}/erase", headers=carla, json={})
    assert resp.status_code == 422 and "confirm" in resp.json["error"]["details"]["json"]
    resp = client.post(f"/api/contacts/{phone_id}/erase", headers=carla, json={"confirm": True})
    assert resp.status_code == 202, resp.json
    with sessions() as s:
        bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).where(
            OutboxTask.task == "contacts.run_job").order_by(OutboxTask.id.desc()).limit(1))]
    drain(sessions, bus, {"contacts.run_job": run_job})
    profile = client.get(f"/api/contacts/{phone_id}", headers=carla).json
    assert profile["erased_at"] and profile["name"] is None and profile["phones"] == []
    assert client.post(f"/api/contacts/{phone_id}/erase", headers=carla, json={"confirm": True}).status_code == 409
    assert client.get("/api/search", query_string={"q": "pedido atrasou"}, headers=carla).json["items"] == []
