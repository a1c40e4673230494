"""Labels over HTTP: the tenant's set, on tickets and contacts, by agents and by triage keywords, audited and live."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Channel, RealtimeEvent, Ticket
from models.infra import realtime
from tests.api.conftest import login
from tests.api.workday import assigned_ticket, customer_writes
from tests.fakes.whatsapp import PHONE_NUMBER_ID


def make_labels(client: FlaskClient, *names: str) -> dict[str, int]:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ids = {}
    for name in names:
        resp = client.post("/api/labels", json={"name": name, "color": "#E11D48"}, headers=carla)
        assert resp.status_code == 201, resp.json
        ids[name] = resp.json["id"]
    return ids


def test_supervisors_keep_the_tenants_labels(client: FlaskClient, tenants: dict[str, Any]) -> None:
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    assert client.post("/api/labels", json={"name": "vip"}, headers=ana).status_code == 403
    vip = client.post("/api/labels", json={"name": " vip ", "color": "#E11D48"}, headers=carla)
    assert vip.status_code == 201 and vip.json == {"id": vip.json["id"], "name": "vip", "color": "#e11d48"}
    assert client.post("/api/labels", json={"name": "VIP"}, headers=carla).status_code == 409
    bad = client.post("/api/labels", json={"name": "x", "color": "red"}, headers=carla)
    assert bad.status_code == 422 and "color" in bad.json["error"]["details"]["json"]
    client.post("/api/labels", json={"name": "billing"}, headers=carla)
    assert [x["name"] for x in client.get("/api/labels", headers=ana).json] == ["billing", "vip"]
    renamed = client.patch(f"/api/labels/{vip.json['id']}", json={"name": "gold"}, headers=carla)
    assert renamed.status_code == 200 and renamed.json["name"] == "gold"
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/labels", headers=gina).json == []


def test_agents_label_tickets_filter_by_label_audited_and_live(client: FlaskClient, app: Flask,
                                                              sessions: sessionmaker[Session],
                                                              tenants: dict[str, Any]) -> None:
    ids = make_labels(client, "vip", "billing", "urgent")
    ticket_id, ana = assigned_ticket(client, app, sessions)
    url = f"/api/tickets/{ticket_id}/labels"
    added = client.post(f"{url}/{ids['vip']}", headers=ana)
    assert added.status_code == 200 and [x["name"] for x in added.json] == ["vip"]
    again = client.post(f"{url}/{ids['vip']}", headers=ana)  # already there: no change, no second row
    assert [x["name"] for x in again.json] == ["vip"]
    assert [x["name"] for x in client.put(url, json={"label_ids": [ids["billing"], ids["urgent"]]},
                                          headers=ana).json] == ["billing", "urgent"]
    missing = client.put(url, json={"label_ids": [ids["vip"], 999999]}, headers=ana)
    assert missing.status_code == 404 and missing.json["error"]["details"]["missing"] == [999999]
    assert [x["name"] for x in client.delete(f"{url}/{ids['urgent']}", headers=ana).json] == ["billing"]
    assert client.delete(f"{url}/{ids['urgent']}", headers=ana).status_code == 200
    ticket = client.get(f"/api/tickets/{ticket_id}", headers=ana).json
    assert [x["name"] for x in ticket["labels"]] == ["billing"]
    # The ticket list filters by label.
    listed = client.get(f"/api/tickets?label={ids['billing']}", headers=ana).json["items"]
    assert [t["id"] for t in listed] == [ticket_id] and listed[0]["labels"][0]["name"] == "billing"
    assert client.get(f"/api/tickets?label={ids['vip']}", headers=ana).json["items"] == []
    assert client.get("/api/tickets?label=abc", headers=ana).status_code == 422
    with sessions() as s:
        audit = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.labels_changed")
                               .order_by(AuditEntry.id)))
        assert [(a.data["added"], a.data["removed"]) for a in audit] == [
            ([ids["vip"]], []), (sorted([ids["billing"], ids["urgent"]]), [ids["vip"]]), ([], [ids["urgent"]])]
        assert {a.actor_id for a in audit} == {tenants["users"]["ana"].id}
        events = list(s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "ticket.labels_changed")
                                .order_by(RealtimeEvent.id)))
        tenant_id = tenants["users"]["ana"].tenant_id
        assert len(events) == 3 and all(realtime.ticket_room(tenant_id, ticket_id) in e.rooms for e in events)
        assert [x["name"] for x in events[-1].data["labels"]] == ["billing"]


def test_contacts_carry_labels_too(client: FlaskClient, app: Flask, sessions: sessionmaker[Session],
                                   tenants: dict[str, Any]) -> None:
    ids = make_labels(client, "vip")
    ticket_id, ana = assigned_ticket(client, app, sessions)
    with sessions() as s:
        contact_id = s.get_one(Ticket, ticket_id).contact_id
    resp = client.post(f"/api/contacts/{contact_id}/labels/{ids['vip']}", headers=ana)
    assert resp.status_code == 200 and [x["name"] for x in resp.json] == ["vip"]
    assert [x["name"] for x in client.get(f"/api/contacts/{contact_id}/labels", headers=ana).json] == ["vip"]
    assert client.put(f"/api/contacts/{contact_id}/labels", json={"label_ids": []}, headers=ana).json == []
    with sessions() as s:
        events = list(s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "contact.labels_changed")))
        tenant_id = tenants["users"]["ana"].tenant_id
        assert len(events) == 2 and realtime.ticket_room(tenant_id, ticket_id) in events[0].rooms
        assert len(list(s.scalars(select(AuditEntry).where(AuditEntry.action == "contact.labels_changed")))) == 2


def test_triage_keyword_rules_label_the_ticket(client: FlaskClient, app: Flask, sessions: sessionmaker[Session],
                                               tenants: dict[str, Any]) -> None:
    ids = make_labels(client, "billing", "urgent")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    with sessions() as s:
        channel_id = s.scalars(select(Channel.id).where(Channel.external_id == PHONE_NUMBER_ID)).one()
    rules = {"triage": {"keywords": [{"words": ["boleto", "fatura"], "queue": "Sales", "labels": ["Billing"]},
                                     {"words": ["urgente"], "labels": ["urgent", "no-such-label"]}]}}
    assert client.patch(f"/api/admin/channels/{channel_id}", json={"settings": rules}, headers=carla
                        ).status_code == 200
    bad = {"triage": {"keywords": [{"words": ["x"], "labels": "billing"}]}}
    assert client.patch(f"/api/admin/channels/{channel_id}", json={"settings": bad}, headers=carla
                        ).status_code in (400, 422)
    customer_writes(client, app, sessions, "wamid.k1", body="Minha fatura veio errada")
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert [x.name for x in ticket.labels] == ["billing"]
    customer_writes(client, app, sessions, "wamid.k2", body="URGENTE, por favor")
    customer_writes(client, app, sessions, "wamid.k3", body="é urgente e a fatura")  # both already there
    with sessions() as s:
        ticket = s.scalars(select(Ticket)).one()
        assert [x.name for x in ticket.labels] == ["billing", "urgent"]
        audit = list(s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.labels_changed")
                               .order_by(AuditEntry.id)))
        assert [(a.actor_id, a.data["added"], a.data["via"]) for a in audit] == [
            (None, [ids["billing"]], "triage"), (None, [ids["urgent"]], "triage")]
