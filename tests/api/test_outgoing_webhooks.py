"""The supervisors' webhook API: the secret shown once, staff only, a ping through the real line, the log."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import OutboxTask
from tests.api.conftest import login


def test_create_list_ping_and_log(client: FlaskClient, app: Flask, tenants: dict[str, Any],
                                  sessions: sessionmaker[Session]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    body = {"url": "https://93.184.215.14/hooks/atendimento", "events": ["ticket.created", "message.created"]}
    assert client.post("/api/admin/webhooks", json=body, headers=ana).status_code == 403
    created = client.post("/api/admin/webhooks", json=body, headers=carla)
    assert created.status_code == 201 and created.json["secret"].startswith("whsec_")
    listed = client.get("/api/admin/webhooks", headers=carla).json
    assert [e["url"] for e in listed] == [body["url"]] and "secret" not in listed[0]
    bad = client.post("/api/admin/webhooks", json={**body, "events": ["ticket.exploded"]}, headers=carla)
    assert bad.status_code == 422 and "events" in bad.json["error"]["details"]["json"]
    local = client.post("/api/admin/webhooks", json={**body, "url": "https://127.0.0.1:9/x"}, headers=carla)
    assert (local.status_code, local.json["error"]["code"]) == (422, "url_refused")
    endpoint_id = created.json["id"]
    assert client.post(f"/api/admin/webhooks/{endpoint_id}/ping", headers=carla).status_code == 202
    log = client.get(f"/api/admin/webhooks/{endpoint_id}/deliveries", headers=carla).json
    assert [(d["event"], d["state"], d["attempts"]) for d in log] == [("ping", "pending", 0)]
    with sessions() as s:
        assert s.scalars(select(OutboxTask.task).where(OutboxTask.task == "webhooks.deliver")).all()
    rotated = client.post(f"/api/admin/webhooks/{endpoint_id}/rotate-secret", headers=carla).json["secret"]
    assert rotated != created.json["secret"]
    off = client.patch(f"/api/admin/webhooks/{endpoint_id}", json={"active": False}, headers=carla)
    assert off.json["active"] is False
    assert client.delete(f"/api/admin/webhooks/{endpoint_id}", headers=carla).status_code == 204
