"""API keys: shown once, stored hashed, scoped, revocable, rate-limited per key, audited by name."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from models import ApiKey, AuditEntry, OutboxTask, Ticket, User
from models.base import utcnow
from models.infra.config import Settings
from models.org import Role
from models.services import api_keys
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.whatsapp import encode, text_delivery
from tests.services.helpers import drain


def promote(sessions: sessionmaker[Session], email: str, role: Role = Role.ADMIN) -> None:
    with sessions() as s, s.begin():
        s.scalars(select(User).where(User.email == email)).one().role = role


def new_key(client: FlaskClient, admin: dict[str, str], *scopes: str, name: str = "CRM") -> dict[str, Any]:
    resp = client.post("/api/admin/api-keys", json={"name": name, "scopes": list(scopes)}, headers=admin)
    assert resp.status_code == 201, resp.json
    return resp.json


def a_ticket(client: FlaskClient, sessions: sessionmaker[Session], bus: Any, wamid: str = "wamid.k1") -> int:
    post(client, encode(text_delivery(wamid)))
    with sessions() as s:
        bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
    drain(sessions, bus)
    with sessions() as s:
        return s.scalars(select(Ticket.id)).one()


def test_a_key_is_shown_once_and_stored_hashed(client: FlaskClient, sessions: sessionmaker[Session],
                                               tenants: dict[str, Any]) -> None:
    promote(sessions, "carla@acme.example")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    created = new_key(client, carla, "tickets:read")
    token = created["key"]
    assert token.startswith(f"atd_{created['prefix']}_") and created["scopes"] == ["tickets:read"]
    listed = client.get("/api/admin/api-keys", headers=carla).json
    assert [k["id"] for k in listed] == [created["id"]] and all("key" not in k for k in listed)
    with sessions() as s:
        row = s.get_one(ApiKey, created["id"])
        secret = token.rsplit("_", 1)[-1]
        assert secret not in row.secret_hash and len(row.secret_hash) == 64
        audit = s.scalars(select(AuditEntry).where(AuditEntry.action == "api_key.created")).one()
        assert audit.actor_id == tenants["users"]["carla"].id and audit.data["prefix"] == created["prefix"]
    # Only admins manage keys, and never with a key.
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.get("/api/admin/api-keys", headers=ana).status_code == 403
    admin_key = new_key(client, carla, "admin")["key"]
    resp = client.post("/api/admin/api-keys", json={"name": "x", "scopes": ["admin"]},
                       headers={"X-Api-Key": admin_key})
    assert (resp.status_code, resp.json["error"]["code"]) == (403, "user_required")
    bad = client.post("/api/admin/api-keys", json={"name": "x", "scopes": ["tickets:write"]}, headers=carla)
    assert bad.status_code == 422 and "scopes" in bad.json["error"]["details"]["json"]


def test_scopes_decide_what_a_key_may_do(client: FlaskClient, sessions: sessionmaker[Session],
                                         tenants: dict[str, Any], bus: Any) -> None:
    ticket_id = a_ticket(client, sessions, bus)
    promote(sessions, "carla@acme.example")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    reader = new_key(client, carla, "tickets:read")["key"]
    writer = new_key(client, carla, "messages:write", "tickets:read")["key"]
    for headers in ({"Authorization": f"Bearer {reader}"}, {"X-Api-Key": reader}):
        page = client.get("/api/tickets", headers=headers)
        assert page.status_code == 200 and [t["id"] for t in page.json["items"]] == [ticket_id]
        assert client.get(f"/api/tickets/{ticket_id}/messages", headers=headers).status_code == 200
    refused = client.post(f"/api/tickets/{ticket_id}/messages", json={"body": "hi"}, headers={"X-Api-Key": reader})
    assert (refused.status_code, refused.json["error"]["code"]) == (403, "insufficient_scope")
    assert refused.json["error"]["details"]["required"] == "messages:write"
    for path in (f"/api/tickets/{ticket_id}/resolve", f"/api/tickets/{ticket_id}/notes"):
        assert client.post(path, json={"body": "x"}, headers={"X-Api-Key": reader}).status_code == 403
    assert client.get("/api/admin/users", headers={"X-Api-Key": reader}).status_code == 403
    assert client.get("/api/reports/sla?from=2026-01-01&to=2026-02-01",
                      headers={"X-Api-Key": reader}).status_code == 403
    sent = client.post(f"/api/tickets/{ticket_id}/messages", json={"body": "Olá"}, headers={"X-Api-Key": writer})
    assert sent.status_code == 202 and sent.json["author_id"] is None
    # What needs a person answers 403 to any key.
    for method, path in (("GET", "/api/me"), ("PUT", "/api/me/status"), ("POST", f"/api/tickets/{ticket_id}/accept"),
                         ("POST", "/api/auth/logout")):
        resp = client.open(path, method=method, json={"status": "online"}, headers={"X-Api-Key": writer})
        assert (resp.status_code, resp.json["error"]["code"]) == (403, "user_required"), path


def test_bad_and_revoked_keys_are_refused(client: FlaskClient, sessions: sessionmaker[Session],
                                          tenants: dict[str, Any]) -> None:
    promote(sessions, "carla@acme.example")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    created = new_key(client, carla, "tickets:read")
    token = created["key"]
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    for bad in (wrong, "atd_nothing", f"atd_{'0' * 12}_{'x' * 43}"):
        resp = client.get("/api/tickets", headers={"X-Api-Key": bad})
        assert (resp.status_code, resp.json["error"]["code"]) == (401, "invalid_api_key"), bad
    assert client.get("/api/tickets", headers={"X-Api-Key": token}).status_code == 200
    assert client.delete(f"/api/admin/api-keys/{created['id']}", headers=carla).json["revoked_at"]
    resp = client.get("/api/tickets", headers={"X-Api-Key": token})
    assert (resp.status_code, resp.json["error"]["code"]) == (401, "api_key_revoked")
    assert client.delete(f"/api/admin/api-keys/{created['id']}", headers=carla).status_code == 200  # idempotent
    with sessions() as s:
        assert s.scalar(select(AuditEntry.id).where(AuditEntry.action == "api_key.revoked")) is not None
        assert len(s.scalars(select(AuditEntry).where(AuditEntry.action == "api_key.revoked")).all()) == 1


def test_last_use_is_recorded_at_most_once_a_minute(client: FlaskClient, sessions: sessionmaker[Session],
                                                    tenants: dict[str, Any]) -> None:
    promote(sessions, "carla@acme.example")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    created = new_key(client, carla, "tickets:read")
    assert created["last_used_at"] is None
    client.get("/api/tickets", headers={"X-Api-Key": created["key"]})
    first = client.get("/api/admin/api-keys", headers=carla).json[0]["last_used_at"]
    assert first is not None
    client.get("/api/tickets", headers={"X-Api-Key": created["key"]})
    assert client.get("/api/admin/api-keys", headers=carla).json[0]["last_used_at"] == first
    with sessions() as s, s.begin():  # a minute passes
        key = s.get_one(ApiKey, created["id"])
        key.last_used_at -= timedelta(minutes=2)
        before = key.last_used_at
    client.get("/api/tickets", headers={"X-Api-Key": created["key"]})
    with sessions() as s:
        assert s.get_one(ApiKey, created["id"]).last_used_at > before


def test_concurrent_uses_write_the_last_use_once(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    with sessions() as s, s.begin():
        key, _token = api_keys.create_key(s, tenants["users"]["carla"], "CRM", ["tickets:read"], utcnow())
        key_id = key.id
    now, barrier, written = utcnow(), threading.Barrier(8), []

    def use() -> None:
        with sessions() as s, s.begin():
            barrier.wait()
            written.append(api_keys.touch(s, key_id, now))

    threads = [threading.Thread(target=use) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert written.count(True) == 1


def test_audit_entries_name_the_key(client: FlaskClient, sessions: sessionmaker[Session],
                                    tenants: dict[str, Any], bus: Any) -> None:
    ticket_id = a_ticket(client, sessions, bus)
    promote(sessions, "carla@acme.example")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    created = new_key(client, carla, "admin")
    resp = client.post(f"/api/tickets/{ticket_id}/resolve", headers={"Authorization": f"Bearer {created['key']}"})
    assert resp.status_code == 200 and resp.json["status"] == "resolved"
    with sessions() as s:
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.resolved")).one()
        assert (entry.actor_id, entry.api_key_id) == (None, created["id"])
    log = client.get("/api/admin/audit?action=ticket.resolved", headers=carla).json["items"]
    assert [(e["actor_id"], e["api_key_id"]) for e in log] == [(None, created["id"])]
    client.post(f"/api/tickets/{ticket_id}/reopen", headers=carla)
    with sessions() as s:  # a user's request names no key
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "ticket.reopened")).one()
        assert (entry.actor_id, entry.api_key_id) == (tenants["users"]["carla"].id, None)


def test_rate_limits_count_per_key(settings: Settings, sessions: sessionmaker[Session],
                                   tenants: dict[str, Any]) -> None:
    app = create_app(settings.with_(ratelimit_default="3/minute"))
    try:
        client = app.test_client()
        with sessions() as s, s.begin():
            carla = tenants["users"]["carla"]
            one = api_keys.create_key(s, carla, "one", ["tickets:read"], utcnow())[1]
            two = api_keys.create_key(s, carla, "two", ["tickets:read"], utcnow())[1]
        codes = [client.get("/api/tickets", headers={"X-Api-Key": one}).status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        # Another key from the same address has its own budget.
        assert client.get("/api/tickets", headers={"X-Api-Key": two}).status_code == 200
    finally:
        app.extensions["atendimento.system"].close()
