"""What the admin screens read back before they edit: a queue's members and the tenant's business hours."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import login


def test_a_queues_members_read_back_as_they_were_set(client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    users = tenants["users"]
    queue_id = tenants["queues"][(users["ana"].tenant_id, "Sales")].id
    url = f"/api/admin/queues/{queue_id}/members"
    assert client.get(url, headers=carla).json == {"user_ids": []}
    assert client.put(url, json={"user_ids": [users["bruno"].id, users["ana"].id]}, headers=carla).status_code == 200
    assert client.get(url, headers=carla).json == {"user_ids": sorted([users["ana"].id, users["bruno"].id])}
    assert client.get(url, headers=ana).status_code == 403
    missing = client.get("/api/admin/queues/999999/members", headers=carla)
    assert missing.status_code == 404 and missing.json["error"]["code"] == "not_found"


def test_business_hours_read_24x7_until_set_then_as_stored(client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    unset = client.get("/api/admin/business-hours", headers=carla).json
    assert unset["configured"] is False and unset["weekly"]["sun"] == [["00:00", "24:00"]]
    doc = {"tz": "America/Sao_Paulo", "weekly": {"mon": [["08:00", "12:00"], ["13:00", "18:00"]]}}
    assert client.put("/api/admin/business-hours", json=doc, headers=carla).status_code == 200
    read = client.get("/api/admin/business-hours", headers=carla).json
    assert read == {**doc, "holidays": [], "configured": True}
    globex = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/admin/business-hours", headers=globex).status_code == 403  # an agent
