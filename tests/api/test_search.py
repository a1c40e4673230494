"""GET /api/search: what an agent sees, tenant-scoped, with precise 422s."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from tests.api.conftest import login
from tests.services.contacts_helpers import EMAIL, WHATSAPP, received


def test_search_messages_and_contacts_over_http(client: FlaskClient, sessions: sessionmaker[Session],
                                                tenants: dict[str, Any]) -> None:
    late, ticket_id = received(sessions, WHATSAPP, "5511987654321", "Meu pedido não chegou", name="Maria Silva")
    invoice, _t = received(sessions, EMAIL, "carlos@example.com", "nota fiscal do pedido")
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    resp = client.get("/api/search", query_string={"q": "nao chegou"}, headers=ana)
    assert resp.status_code == 200, resp.json
    (hit,) = resp.json["items"]
    assert (hit["kind"], hit["message_id"], hit["ticket_id"], hit["contact_name"], hit["direction"]) == (
        "message", late, ticket_id, "Maria Silva", "in")
    page = client.get("/api/search", query_string={"q": "pedido", "limit": 1}, headers=ana).json
    rest = client.get("/api/search", query_string={"q": "pedido", "limit": 1, "cursor": page["next_cursor"]},
                      headers=ana).json
    assert {page["items"][0]["message_id"], rest["items"][0]["message_id"]} == {late, invoice}
    assert rest["next_cursor"] is None
    recent = client.get("/api/search", query_string={"q": "pedido", "sort": "recent", "from": "2020-01-01T00:00:00Z"},
                        headers=ana).json
    assert [h["message_id"] for h in recent["items"]] == [invoice, late]
    contacts = client.get("/api/search", query_string={"q": "mari", "scope": "contacts"}, headers=ana).json
    assert [(h["kind"], h["contact"]["phones"]) for h in contacts["items"]] == [("contact", ["5511987654321"])]
    for query, field in (({"q": "?!"}, "q"), ({"q": "x", "scope": "tickets"}, "scope"),
                         ({"q": "x", "from": "yesterday"}, "from"), ({"q": "x", "cursor": "bogus"}, "cursor"),
                         ({}, "q")):
        resp = client.get("/api/search", query_string=query, headers=ana)
        assert resp.status_code == 422, (query, resp.json)
        details = resp.json["error"].get("details", {})
        assert field in details.get("query", {}) or details.get("field") == field, (query, resp.json)
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    for scope, q in (("messages", "pedido"), ("contacts", "maria")):
        assert client.get("/api/search", query_string={"q": q, "scope": scope}, headers=gina).json["items"] == []
