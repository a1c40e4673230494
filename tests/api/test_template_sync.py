"""Template sync: the Graph API's paged catalogue of a channel's business account becomes the stored one, on
demand (202, then a worker) and on beat; the account id is a credential or learned from deliveries."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, MessageTemplate, OutboxTask
from models.base import utcnow
from models.infra.config import Settings
from models.services import templates
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import encode, text_delivery

WABA = "102290129340398"  # the entry.id of the fake deliveries


def _template(name: str, status: str = "APPROVED", body: str = "Olá {{1}}, seu pedido {{2}} saiu.") -> dict[str, Any]:
    return {"name": name, "language": "pt_BR", "status": status, "category": "UTILITY", "id": f"tpl-{name}",
            "components": [{"type": "HEADER", "format": "IMAGE"}, {"type": "BODY", "text": body}]}


def _run_syncs(sessions: sessionmaker[Session], settings: Settings) -> list[dict[str, Any]]:
    with sessions() as s, s.begin():
        rows = list(s.scalars(select(OutboxTask).where(OutboxTask.task == "templates.sync")))
        ids = [r.args[0] for r in rows]
        for r in rows:
            s.delete(r)
    results = []
    for channel_id in ids:
        with sessions() as s, s.begin():
            results.append(templates.sync(s, channel_id, settings, utcnow()))
    return results


def test_sync_now_learns_the_account_pages_and_replaces(app: Flask, client: FlaskClient,
                                                       sessions: sessionmaker[Session], tenants: dict[str, Any],
                                                       graph: GraphServer, settings: Settings) -> None:
    channel = tenants["channels"]["106540352242922"]
    graph.templates[WABA] = [_template(f"pedido_{i}") for i in range(5)] + [_template("promo", "REJECTED")]
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    url = f"/api/admin/channels/{channel.id}/templates/sync"
    resp = client.post(url, headers=carla)  # no credential and no delivery yet: the account is unknown
    assert resp.status_code == 422 and resp.json["error"]["code"] == "business_account_unknown"
    assert post(client, encode(text_delivery("wamid.t1"))).status_code == 200  # names the account: entry.id
    resp = client.post(url, headers=carla)
    assert (resp.status_code, resp.json) == (202, {"channel_id": channel.id, "queued": True})
    before = len(graph.gets)
    assert _run_syncs(sessions, settings) == [{"added": 6, "updated": 0, "removed": 0, "total": 6}]
    pages = [g["path"] for g in graph.gets[before:]]
    assert len(pages) == 3 and all(p.startswith(f"/v21.0/{WABA}/message_templates?") for p in pages)
    assert "after=" in pages[1] and "fields=name%2Cstatus%2Clanguage%2Ccategory%2Ccomponents" in pages[0]
    listed = client.get("/api/templates", headers=carla).json
    assert sorted(t["name"] for t in listed) == [f"pedido_{i}" for i in range(5)]
    assert listed[0]["needs"] == {"body": 2, "header_text": 0, "header_media": "image"}
    graph.templates[WABA] = [_template("pedido_0", body="Oi {{1}}")]  # renamed and removed at Meta
    client.post(url, headers=carla)
    assert _run_syncs(sessions, settings) == [{"added": 0, "updated": 1, "removed": 5, "total": 1}]


def test_the_credential_names_the_account_and_beat_syncs_every_channel(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any],
        graph: GraphServer, settings: Settings) -> None:
    graph.templates["555000"] = [_template("boas_vindas")]
    with sessions() as s, s.begin():
        channel = s.scalars(select(Channel).where(Channel.external_id == "106540352242922")).one()
        channel.credentials = {**channel.credentials, "business_account_id": "555000"}
    with sessions() as s, s.begin():
        assert templates.schedule_all(s) == 2  # acme's and globex's WhatsApp channels
    results = _run_syncs(sessions, settings)
    assert {"added": 1, "updated": 0, "removed": 0, "total": 1} in results
    assert {"skipped": "business account unknown"} in results
    with sessions() as s:
        assert [t.name for t in s.scalars(select(MessageTemplate))] == ["boas_vindas"]


def test_sync_is_for_staff_of_the_tenant_and_whatsapp_only(app: Flask, client: FlaskClient,
                                                          sessions: sessionmaker[Session],
                                                          tenants: dict[str, Any]) -> None:
    sms = tenants["channels"]["+15005550006"]
    whatsapp = tenants["channels"]["106540352242922"]
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.post(f"/api/admin/channels/{whatsapp.id}/templates/sync", headers=ana).status_code == 403
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    resp = client.post(f"/api/admin/channels/{sms.id}/templates/sync", headers=carla)
    assert resp.status_code == 422 and resp.json["error"]["code"] == "templates_unsupported"
    globex = tenants["channels"]["999000111"]
    assert client.post(f"/api/admin/channels/{globex.id}/templates/sync", headers=carla).status_code == 404
