"""A queue's auto-resolve setting over HTTP: supervisors only, validated, the tenant's queues only."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from tests.api.conftest import login


def test_supervisors_set_read_and_remove_a_queues_auto_resolve(client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    queue_id = tenants["queues"][(tenants["users"]["ana"].tenant_id, "Support")].id
    url = f"/api/admin/queues/{queue_id}/auto-resolve"
    assert client.get(url, headers=carla).status_code == 404  # not set yet
    assert client.put(url, json={"idle_hours": 8}, headers=ana).status_code == 403
    body = {"idle_hours": 8, "closing_message": "Encerramos o atendimento. Qualquer coisa, é só chamar!",
            "closing_template": {"name": "encerramento", "language": {"code": "pt_BR"}}}
    saved = client.put(url, json=body, headers=carla)
    assert saved.status_code == 200 and saved.json["idle_hours"] == 8 and saved.json["enabled"] is True
    assert client.get(url, headers=carla).json["closing_template"]["name"] == "encerramento"
    assert client.put(url, json={"idle_hours": 0.1}, headers=carla).status_code == 422
    assert client.put(url, json={}, headers=carla).status_code == 422
    off = client.put(url, json={"idle_hours": 24, "enabled": False}, headers=carla).json
    assert (off["enabled"], off["closing_message"]) == (False, None)
    assert client.delete(url, headers=carla).status_code == 204
    assert client.get(url, headers=carla).status_code == 404
    assert client.put("/api/admin/queues/999999/auto-resolve", json={"idle_hours": 8}, headers=carla
                      ).status_code == 404
