"""The agent's HTTP API and Socket.IO connect: tokens, presence, tenant scoping."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Contact, Message, OutboxTask, Ticket
from models.infra.bus import RecordingBus
from models.infra.db import make_session_factory
from models.tickets import DeliveryStatus
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.whatsapp import encode, text_delivery
from tests.services.helpers import drain


def test_login_refuses_wrong_credentials_alike(client: FlaskClient, tenants: dict[str, Any]) -> None:
    for body in ({"tenant": "acme", "email": "ana@acme.example", "password": "wrong"},
                 {"tenant": "acme", "email": "nobody@acme.example", "password": "pw-ana"},
                 {"tenant": "globex", "email": "ana@acme.example", "password": "pw-ana"}):
        resp = client.post("/api/auth/login", json=body)
        assert (resp.status_code, resp.json["error"]["code"]) == (401, "invalid_credentials")
    resp = client.post("/api/auth/login", json={"tenant": "acme", "email": "not-an-email"})
    assert resp.status_code == 422 and {"email", "password"} <= set(resp.json["error"]["details"]["json"])


def test_tokens_are_required_and_refreshable(client: FlaskClient, tenants: dict[str, Any]) -> None:
    assert client.get("/api/me").status_code == 401
    assert client.get("/api/me", headers={"Authorization": "Bearer nope"}).json["error"]["code"] == "invalid_token"
    tokens = client.post("/api/auth/login", json={"tenant": "acme", "email": "ana@acme.example",
                                                  "password": "pw-ana"}).json
    # A refresh token is not an access token, and vice versa.
    assert client.get("/api/me", headers={"Authorization": f"Bearer {tokens['refresh_token']}"}).status_code == 401
    fresh = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert fresh.status_code == 200
    me = client.get("/api/me", headers={"Authorization": f"Bearer {fresh.json['access_token']}"})
    assert me.json["email"] == "ana@acme.example" and me.json["status"] == "offline"


def test_agent_goes_online_receives_and_replies(client: FlaskClient, sessions: sessionmaker[Session],
                                                tenants: dict[str, Any], app: Flask) -> None:
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.put("/api/me/status", json={"status": "online"}, headers=ana).json["status"] == "online"
    assert client.put("/api/me/status", json={"status": "busy"}, headers=ana).status_code == 422
    assert post(client, encode(text_delivery("wamid.1"))).status_code == 200
    # Run the queued work as a worker would, on the same database.
    worker_bus = RecordingBus()
    worker_sessions = make_session_factory(app.extensions["atendimento.engine"], worker_bus)
    with sessions() as s:
        worker_bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
    drain(worker_sessions, worker_bus)
    tickets = client.get("/api/tickets", headers=ana).json["items"]
    assert len(tickets) == 1 and tickets[0]["status"] == "assigned"
    ticket_id = tickets[0]["id"]
    resp = client.post(f"/api/tickets/{ticket_id}/messages", json={"body": "Olá Maria!"}, headers=ana)
    assert resp.status_code == 202 and resp.json["status"] == "queued"
    messages = client.get(f"/api/tickets/{ticket_id}/messages", headers=ana).json["items"]
    assert [m["direction"] for m in messages] == ["in", "out"]
    with sessions() as s:
        reply = s.get_one(Message, resp.json["id"])
        assert reply.status == DeliveryStatus.QUEUED
        assert s.scalars(select(OutboxTask).where(OutboxTask.task == "outbound.send_message")).one().args == [
            reply.id]


def test_another_tenant_sees_nothing(client: FlaskClient, sessions: sessionmaker[Session],
                                     tenants: dict[str, Any]) -> None:
    with sessions() as s, s.begin():
        ch = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        contact = Contact(tenant_id=ch.tenant_id, phone="5511900000001")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=ch.tenant_id, contact_id=contact.id, channel_id=ch.id, queue_id=ch.default_queue_id)
        s.add(ticket)
        s.flush()
        ticket_id = ticket.id
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/tickets", headers=gina).json == {"items": [], "next_cursor": None}
    for method, path in (("get", f"/api/tickets/{ticket_id}"), ("get", f"/api/tickets/{ticket_id}/messages"),
                         ("post", f"/api/tickets/{ticket_id}/messages")):
        resp = getattr(client, method)(path, headers=gina, json={"body": "hi"} if method == "post" else None)
        assert (resp.status_code, resp.json["error"]["code"]) == (404, "not_found")


def test_supervisors_manage_sla_policies_of_their_tenant(client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    body = {"name": "Support", "first_response_seconds": 300, "resolution_seconds": 86400, "warning_fraction": 0.8}
    assert client.post("/api/admin/sla-policies", json=body, headers=ana).status_code == 403  # agents may not
    created = client.post("/api/admin/sla-policies", json=body, headers=carla)
    assert created.status_code == 201 and created.json["first_response_seconds"] == 300
    bad = client.post("/api/admin/sla-policies", json={**body, "warning_fraction": 2}, headers=carla)
    assert bad.status_code == 422 and "warning_fraction" in bad.json["error"]["details"]["json"]
    changed = client.patch(f"/api/admin/sla-policies/{created.json['id']}", json={"first_response_seconds": 120},
                           headers=carla)
    assert changed.json["first_response_seconds"] == 120
    assert [p["name"] for p in client.get("/api/admin/sla-policies", headers=carla).json] == ["Support"]


def test_logout_revokes_the_tokens(client: FlaskClient, tenants: dict[str, Any]) -> None:
    tokens = client.post("/api/auth/login", json={"tenant": "acme", "email": "ana@acme.example",
                                                  "password": "pw-ana"}).json
    auth = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/auth/logout", json={"refresh_token": tokens["refresh_token"]},
                       headers=auth).status_code == 204
    assert client.get("/api/me", headers=auth).json["error"]["code"] == "token_revoked"
    again = client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert (again.status_code, again.json["error"]["code"]) == (401, "token_revoked")


def test_mark_read_clears_unread(client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any],
                                 app: Flask) -> None:
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    client.put("/api/me/status", json={"status": "online"}, headers=ana)
    post(client, encode(text_delivery("wamid.read1")))
    worker_bus = RecordingBus()
    with sessions() as s:
        worker_bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
    drain(make_session_factory(app.extensions["atendimento.engine"], worker_bus), worker_bus)
    ticket = client.get("/api/tickets?mine=true", headers=ana).json["items"][0]
    assert ticket["unread"] is True
    read = client.post(f"/api/tickets/{ticket['id']}/read", headers=ana)
    assert read.status_code == 200 and read.json["unread"] is False
    bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    assert client.post(f"/api/tickets/{ticket['id']}/read", headers=bruno).status_code == 403


def test_an_agent_lists_the_colleagues_of_their_tenant_by_name_only(client: FlaskClient,
                                                                    tenants: dict[str, Any]) -> None:
    """Whom a note can @mention: every active user of the tenant (any role), never another tenant's, no emails."""
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    bruno = tenants["users"]["bruno"]
    assert client.patch(f"/api/admin/users/{bruno.id}", json={"active": False}, headers=carla).status_code == 200
    resp = client.get("/api/colleagues", headers=login(client, "acme", "ana@acme.example", "pw-ana"))
    assert resp.status_code == 200
    assert [c["name"] for c in resp.json] == ["Ana", "Carla"]
    assert set(resp.json[0]) == {"id", "name"}
    globex = client.get("/api/colleagues", headers=login(client, "globex", "gina@globex.example", "pw-gina"))
    assert [c["name"] for c in globex.json] == ["Gina"]
    assert client.get("/api/colleagues").status_code == 401
