"""Canned responses over HTTP: scopes, codes, unknown variables at save time, filled on the server when sent."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import AuditEntry, Message, OutboxTask
from tests.api.conftest import login
from tests.api.workday import assigned_ticket

URL = "/api/canned-responses"


def test_scopes_codes_and_prefix_search(client: FlaskClient, tenants: dict[str, Any]) -> None:
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    # Agents keep their own; only supervisors write the tenant's.
    refused = client.post(URL, json={"code": "ola", "body": "Olá!", "scope": "tenant"}, headers=ana)
    assert refused.status_code == 403
    shared = client.post(URL, json={"code": "ola", "body": "Olá, {{contact.name}}!", "scope": "tenant"},
                         headers=carla)
    assert shared.status_code == 201 and shared.json["scope"] == "tenant" and shared.json["owner_id"] is None
    own = client.post(URL, json={"code": "OLA", "body": "Oi {{contact.first_name}}"}, headers=ana)
    assert own.status_code == 201 and own.json["code"] == "ola" and own.json["scope"] == "personal"
    assert client.post(URL, json={"code": "ola", "body": "again"}, headers=ana).status_code == 409
    assert client.post(URL, json={"code": "ola", "body": "other", "scope": "tenant"}, headers=carla
                       ).status_code == 409
    assert client.post(URL, json={"code": "olx", "body": "x"}, headers=ana).status_code == 201
    assert client.post(URL, json={"code": "pix", "body": "Chave PIX: 123"}, headers=ana).status_code == 201
    bad_code = client.post(URL, json={"code": "com espaço", "body": "x"}, headers=ana)
    assert bad_code.status_code == 422 and bad_code.json["error"]["details"]["field"] == "code"
    # Search by prefix: ana sees hers and the tenant's; bruno only the tenant's.
    found = client.get(f"{URL}?prefix=ol", headers=ana).json
    assert [(c["code"], c["scope"]) for c in found] == [("ola", "personal"), ("ola", "tenant"), ("olx", "personal")]
    assert [c["code"] for c in client.get(f"{URL}?prefix=ol", headers=bruno).json] == ["ola"]
    assert [c["code"] for c in client.get(f"{URL}?scope=personal", headers=ana).json] == ["ola", "olx", "pix"]
    assert client.get(f"{URL}?prefix=o%25", headers=ana).json == []  # a LIKE wildcard is a literal
    # Someone else's own response does not exist for you; the tenant's is read-only for agents.
    assert client.get(f"{URL}/{own.json['id']}", headers=bruno).status_code == 404
    assert client.delete(f"{URL}/{own.json['id']}", headers=carla).status_code == 404
    assert client.patch(f"{URL}/{shared.json['id']}", json={"body": "x"}, headers=ana).status_code == 403
    changed = client.patch(f"{URL}/{own.json['id']}", json={"body": "Oi {{agent.first_name}}"}, headers=ana)
    assert changed.status_code == 200 and changed.json["body"] == "Oi {{agent.first_name}}"
    assert client.delete(f"{URL}/{own.json['id']}", headers=ana).status_code == 204
    assert client.get(f"{URL}/{own.json['id']}", headers=ana).status_code == 404
    variables = {v["name"] for v in client.get(f"{URL}/variables", headers=ana).json}
    assert {"contact.name", "agent.name", "ticket.id", "contact.phone", "contact.email", "queue.name"} <= variables


def test_an_unknown_variable_is_a_400_naming_it_at_save_time(client: FlaskClient, tenants: dict[str, Any],
                                                            sessions: sessionmaker[Session]) -> None:
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    resp = client.post(URL, json={"code": "x", "body": "Olá {{contact.nome}} e {{ticket.id}}"}, headers=ana)
    assert resp.status_code == 400
    error = resp.json["error"]
    assert error["code"] == "unknown_variable" and "contact.nome" in error["message"]
    assert error["details"]["variables"] == ["contact.nome"] and "contact.name" in error["details"]["known"]
    ok = client.post(URL, json={"code": "x", "body": "Olá {{contact.name}}"}, headers=ana).json
    resp = client.patch(f"{URL}/{ok['id']}", json={"body": "{{agent.nickname}}"}, headers=ana)
    assert resp.status_code == 400 and resp.json["error"]["details"]["variables"] == ["agent.nickname"]
    assert client.get(f"{URL}/{ok['id']}", headers=ana).json["body"] == "Olá {{contact.name}}"  # nothing half-saved
    with sessions() as s:
        assert [a.action for a in s.scalars(select(AuditEntry).where(AuditEntry.entity == "canned_response"))] == [
            "canned_response.created"]


def test_a_canned_reply_is_filled_on_the_server_and_sent_through_the_reply_path(
        client: FlaskClient, app: Flask, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id, ana = assigned_ticket(client, app, sessions)
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    body = "Olá {{contact.first_name}} ({{contact.phone}}{{contact.email}}), aqui é {{agent.name}} da " \
           "{{queue.name}}. Protocolo {{ticket.id}}."
    shared = client.post(URL, json={"code": "ola", "body": body, "scope": "tenant"}, headers=carla).json
    preview = client.post(f"{URL}/{shared['id']}/preview", json={"ticket_id": ticket_id}, headers=ana)
    expected = f"Olá Maria (5511987654321), aqui é Ana da Support. Protocolo {ticket_id}."
    assert preview.status_code == 200 and preview.json["body"] == expected
    sent = client.post(f"/api/tickets/{ticket_id}/messages", json={"canned_response_id": shared["id"]}, headers=ana)
    assert sent.status_code == 202 and sent.json["body"] == expected and sent.json["status"] == "queued"
    # By code, one's own wins over the tenant's.
    client.post(URL, json={"code": "ola", "body": "Oi de novo, {{contact.name}}"}, headers=ana)
    by_code = client.post(f"/api/tickets/{ticket_id}/messages", json={"canned_code": "OLA"}, headers=ana)
    assert by_code.status_code == 202 and by_code.json["body"] == "Oi de novo, Maria Silva"
    with sessions() as s:
        queued = list(s.scalars(select(Message).where(Message.direction == "out").order_by(Message.id)))
        assert [m.body for m in queued] == [expected, "Oi de novo, Maria Silva"]
        sends = list(s.scalars(select(OutboxTask.args).where(OutboxTask.task == "outbound.send_message")))
        assert sorted(a[0] for a in sends) == [m.id for m in queued]
    # Bad requests are precise and send nothing.
    both = client.post(f"/api/tickets/{ticket_id}/messages", json={"body": "x", "canned_code": "ola"}, headers=ana)
    assert both.status_code == 422 and "body" in both.json["error"]["details"]["json"]
    two = client.post(f"/api/tickets/{ticket_id}/messages", json={"canned_response_id": shared["id"],
                                                                  "canned_code": "ola"}, headers=ana)
    assert two.status_code == 422
    missing = client.post(f"/api/tickets/{ticket_id}/messages", json={"canned_code": "nope"}, headers=ana)
    assert missing.status_code == 404 and missing.json["error"]["details"]["field"] == "canned_code"
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    other = client.post(f"/api/tickets/{ticket_id}/messages", json={"canned_response_id": shared["id"]}, headers=gina)
    assert other.status_code == 404 and "Maria" not in other.get_data(as_text=True)
    with sessions() as s:
        assert len(list(s.scalars(select(Message).where(Message.direction == "out")))) == 2
