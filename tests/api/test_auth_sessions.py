"""Sessions: refresh tokens rotate with reuse detection, logout ends the session, a password change or reset and a
deactivation end every session of the user; all of it holds while Redis is down (the check is in PostgreSQL)."""

from __future__ import annotations

import copy
import threading
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from models.infra.config import Settings
from models.services.accounts import provision
from tests.conftest import TENANTS

ANA = {"tenant": "acme", "email": "ana@acme.example", "password": "pw-ana"}


def _login(client: FlaskClient, body: dict[str, str] = ANA) -> dict[str, Any]:
    resp = client.post("/api/auth/login", json=body)
    assert resp.status_code == 200, resp.json
    return dict(resp.json)


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refresh(client: FlaskClient, tokens: dict[str, Any]) -> Any:
    return client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})


def _me_code(client: FlaskClient, tokens: dict[str, Any]) -> tuple[int, str | None]:
    resp = client.get("/api/me", headers=_bearer(tokens))
    return resp.status_code, (resp.json.get("error") or {}).get("code")


def test_a_refresh_token_works_once_and_its_reuse_ends_the_session(client: FlaskClient,
                                                                   tenants: dict[str, Any]) -> None:
    first = _login(client)
    second = _refresh(client, first)
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    third = _refresh(client, second.json)  # the newest one may be traded, once
    assert third.status_code == 200
    stolen = _refresh(client, first)  # an old one comes back: someone holds a copy
    assert (stolen.status_code, stolen.json["error"]["code"]) == (401, "refresh_token_reused")
    # The whole family ends, the legitimate holder's newest tokens included.
    assert _me_code(client, third.json) == (401, "token_revoked")
    assert _refresh(client, third.json).json["error"]["code"] == "token_revoked"
    assert _me_code(client, _login(client)) == (200, None)  # logging in again starts a new session


def test_two_trades_of_one_refresh_token_at_once_give_one_pair_at_most(app: Flask, tenants: dict[str, Any]) -> None:
    tokens = _login(app.test_client())
    barrier, results = threading.Barrier(4), []

    def trade() -> None:
        barrier.wait()
        results.append(_refresh(app.test_client(), tokens))

    threads = [threading.Thread(target=trade) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ok = [r for r in results if r.status_code == 200]
    assert len(ok) == 1
    codes = [r.json["error"]["code"] for r in results if r.status_code != 200]
    # The first loser detects the reuse and ends the family; later ones find it ended.
    assert "refresh_token_reused" in codes and set(codes) <= {"refresh_token_reused", "token_revoked"}
    assert _me_code(app.test_client(), ok[0].json) == (401, "token_revoked")  # the reuse ended the family


def test_logout_ends_the_session_not_the_others(client: FlaskClient, tenants: dict[str, Any]) -> None:
    phone, laptop = _login(client), _login(client)
    rotated = _refresh(client, phone).json
    # Only the access token is presented: the refresh token of that session stops working too.
    assert client.post("/api/auth/logout", json={}, headers=_bearer(rotated)).status_code == 204
    assert _refresh(client, rotated).json["error"]["code"] == "token_revoked"
    assert _me_code(client, phone) == (401, "token_revoked")  # an older access token of the same session
    assert _me_code(client, laptop) == (200, None)
    assert _refresh(client, laptop).status_code == 200


def test_an_admin_password_reset_or_deactivation_ends_every_session_of_that_user(
        client: FlaskClient, tenants: dict[str, Any]) -> None:
    carla = _bearer(_login(client, {"tenant": "acme", "email": "carla@acme.example", "password": "pw-carla"}))
    bruno = _login(client, {"tenant": "acme", "email": "bruno@acme.example", "password": "pw-bruno"})
    ana_id = tenants["users"]["ana"].id
    sessions = [_login(client), _login(client)]
    reset = client.patch(f"/api/admin/users/{ana_id}", json={"password": "a-new-password"}, headers=carla)
    assert reset.status_code == 200
    for tokens in sessions:
        assert _me_code(client, tokens) == (401, "token_revoked")
        assert _refresh(client, tokens).json["error"]["code"] == "token_revoked"
    assert _me_code(client, bruno) == (200, None)  # another user keeps his session
    again = _login(client, {**ANA, "password": "a-new-password"})
    assert client.patch(f"/api/admin/users/{ana_id}", json={"active": False}, headers=carla).status_code == 200
    assert client.patch(f"/api/admin/users/{ana_id}", json={"active": True}, headers=carla).status_code == 200
    assert _me_code(client, again) == (401, "token_revoked")  # re-enabling does not bring a session back
    assert _refresh(client, again).json["error"]["code"] == "token_revoked"
    # Other changes (capacity) end nothing.
    assert client.patch(f"/api/admin/users/{bruno['user_id']}", json={"max_tickets": 3},
                        headers=carla).status_code == 200
    assert _me_code(client, bruno) == (200, None)


def test_provisioning_a_new_password_ends_the_sessions_and_the_same_one_does_not(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    kept, doc = _login(client), copy.deepcopy(TENANTS)
    with sessions() as s, s.begin():
        provision(s, doc)  # the same document again
    assert _me_code(client, kept) == (200, None)
    doc["tenants"][0]["users"][0]["password"] = "rotated-by-ops"
    with sessions() as s, s.begin():
        provision(s, doc)
    assert _me_code(client, kept) == (401, "token_revoked")
    _login(client, {**ANA, "password": "rotated-by-ops"})


def test_changing_ones_own_password_ends_every_session_and_answers_a_new_one(
        client: FlaskClient, tenants: dict[str, Any]) -> None:
    other, current = _login(client), _login(client)
    wrong = client.put("/api/me/password", json={"current_password": "nope", "new_password": "long-enough-1"},
                       headers=_bearer(current))
    assert (wrong.status_code, wrong.json["error"]["code"]) == (403, "wrong_password")
    short = client.put("/api/me/password", json={"current_password": "pw-ana", "new_password": "short"},
                       headers=_bearer(current))
    assert short.status_code == 422 and "new_password" in short.json["error"]["details"]["json"]
    assert _me_code(client, current) == (200, None)  # refused attempts change nothing
    changed = client.put("/api/me/password", json={"current_password": "pw-ana", "new_password": "long-enough-1"},
                         headers=_bearer(current))
    assert changed.status_code == 200
    for tokens in (other, current):
        assert _me_code(client, tokens) == (401, "token_revoked")
    assert _me_code(client, changed.json) == (200, None)
    assert _refresh(client, changed.json).status_code == 200
    assert client.post("/api/auth/login", json=ANA).status_code == 401
    _login(client, {**ANA, "password": "long-enough-1"})


def test_with_redis_down_an_ended_session_is_still_refused(settings: Settings, engine: Any,
                                                           tenants: dict[str, Any]) -> None:
    app = create_app(settings.with_(redis_url="redis://127.0.0.1:1/0"))
    try:
        client = app.test_client()
        tokens = _login(client)
        assert client.post("/api/auth/logout", json={}, headers=_bearer(tokens)).status_code == 204
        assert _me_code(client, tokens) == (401, "token_revoked")
        assert _refresh(client, tokens).json["error"]["code"] == "token_revoked"
    finally:
        app.extensions["atendimento.engine"].dispose()
