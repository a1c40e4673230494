"""Input PostgreSQL or the parser cannot take answers 400 with the JSON error shape and stores nothing: JSON
nested past the bound (a RecursionError before), a NUL character in any text (JSON, query, form), and a
request id that is too long or carries odd characters is replaced, never echoed."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import MAX_JSON_DEPTH as MAX_DEPTH
from models.events import AuditEntry
from models.org import Queue
from tests.api.conftest import login


def nested(depth: int) -> str:
    return '{"name": ' + "[" * depth + "]" * depth + "}"


def assert_bad_request(resp: Any) -> None:
    assert resp.status_code == 400, (resp.status_code, resp.get_data(as_text=True)[:300])
    assert set(resp.json["error"]) >= {"code", "message"}


@pytest.mark.parametrize("field", ["tenant", "email", "password"])
def test_a_nul_in_a_login_field_is_a_400(client: FlaskClient, tenants: dict[str, Any], field: str) -> None:
    body = {"tenant": "acme", "email": "carla@acme.example", "password": "pw-carla", field: "ac\u0000me"}
    assert_bad_request(client.post("/api/auth/login", json=body))


def test_a_nul_in_the_ticket_search_is_a_400(client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    assert_bad_request(client.get("/api/tickets?q=55%0011", headers=carla))
    assert client.get("/api/tickets?q=5511", headers=carla).status_code == 200


def test_deeply_nested_json_is_a_400_and_nothing_is_stored(client: FlaskClient, tenants: dict[str, Any],
                                                           sessions: sessionmaker[Session]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    for depth in (100, 100_000):  # past the bound; past Python's recursion limit
        for url in ("/api/auth/login", "/api/admin/queues"):
            resp = client.post(url, data=nested(depth), headers={**carla, "Content-Type": "application/json"})
            assert_bad_request(resp)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Queue)) == 3  # what provisioning made
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0


def test_a_nul_in_any_json_text_is_a_400_and_nothing_is_stored(client: FlaskClient, tenants: dict[str, Any],
                                                               sessions: sessionmaker[Session]) -> None:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    assert_bad_request(client.post("/api/admin/queues", json={"name": "Vendas\u0000"}, headers=carla))
    assert_bad_request(client.post("/api/admin/queues", json={"name": "Vendas", "strategy\u0000": "x"},
                                   headers=carla))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Queue)) == 3


def test_the_request_id_is_bounded(client: FlaskClient) -> None:
    good = client.get("/healthz", headers={"X-Request-ID": "abc-123_DEF.4:5"})
    assert good.headers["X-Request-ID"] == "abc-123_DEF.4:5"
    for bad in ("x" * 129, "abc\tSet-Cookie: a=b", "<script>", "a b", "id\x7f", ""):
        resp = client.get("/healthz", headers={"X-Request-ID": bad})
        assert resp.status_code == 200
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["X-Request-ID"]), bad


def test_a_signed_webhook_with_a_nul_or_deep_nesting_is_a_400_and_nothing_is_stored(
        client: FlaskClient, tenants: dict[str, Any], sessions: sessionmaker[Session]) -> None:
    from models.events import InboxEvent
    from tests.api.test_webhooks_whatsapp import post
    from tests.fakes.whatsapp import encode, text_delivery

    assert_bad_request(post(client, encode(text_delivery("wamid.nul\u0000id"))))
    doc = text_delivery("wamid.deep")
    deep: list[Any] = []
    for _ in range(40):  # past MAX_JSON_DEPTH, far below the parser's own limit
        deep = [deep]
    doc["entry"][0]["changes"][0]["value"]["messages"][0]["context"] = {"x": deep}
    assert_bad_request(post(client, encode(doc)))
    assert_bad_request(post(client, ("[" * 100_000 + "]" * 100_000).encode()))
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(InboxEvent)) == 0


def test_every_operation_refuses_nul_and_deep_json_with_a_400(client: FlaskClient, tenants: dict[str, Any],
                                                               sessions: sessionmaker[Session]) -> None:
    """The cases the fuzz test once found by luck, over every operation of the OpenAPI document."""
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    spec = client.get("/openapi.json").json
    tried = 0
    for path, ops in spec["paths"].items():
        if path.startswith("/webhooks"):
            continue  # signature first: test_a_signed_webhook_... above
        url = re.sub(r"{\w+}", "1", path)
        for method, op in ops.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for param in op.get("parameters", []):
                if param["in"] == "query":
                    resp = client.open(url, method=method.upper(), headers=carla,
                                       query_string={param["name"]: "a\u0000b"})
                    assert_bad_request(resp)
                    tried += 1
            if "application/json" in op.get("requestBody", {}).get("content", {}):
                for raw in (nested(100_000), nested(MAX_DEPTH + 1), '{"a": "a\\u0000b"}', '{"a\\u0000": 1}'):
                    resp = client.open(url, method=method.upper(), data=raw,
                                       headers={**carla, "Content-Type": "application/json"})
                    assert_bad_request(resp)
                    tried += 1
    assert tried >= 40
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry)) == 0
