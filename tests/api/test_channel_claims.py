"""Claiming a number or address: credentials checked with the provider, clashes answered without naming anyone."""

from __future__ import annotations

import threading
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import User
from models.base import utcnow
from models.errors import Conflict
from models.infra.config import Settings
from models.org import Channel
from models.providers.adapter import Transport
from models.services import admin
from tests.api.conftest import login
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer
from tests.fakes.whatsapp import PHONE_NUMBER_ID


def _channels(sessions: sessionmaker[Session]) -> int:
    with sessions() as s:
        return s.scalar(select(func.count()).select_from(Channel)) or 0


def _globex_admin(client: FlaskClient, sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as s, s.begin():
        gina = s.scalars(select(User).where(User.email == "gina@globex.example")).one()
        gina.role = "supervisor"  # type: ignore[assignment]
    return login(client, "globex", "gina@globex.example", "pw-gina")


def test_a_channel_whose_credentials_the_provider_refuses_is_not_created(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    before = _channels(sessions)
    resp = client.post("/api/admin/channels", headers=headers, json={
        "kind": "sms", "external_id": "+15005550007",
        "credentials": {"account_sid": tw.ACCOUNT_SID, "auth_token": "guessed"}})
    assert resp.status_code == 422, resp.json
    assert resp.json["error"]["code"] == "credentials_rejected"
    assert resp.json["error"]["details"]["field"] == "credentials"
    assert _channels(sessions) == before
    ok = client.post("/api/admin/channels", headers=headers, json={
        "kind": "sms", "external_id": "+15005550007",
        "credentials": {"account_sid": tw.ACCOUNT_SID, "auth_token": tw.AUTH_TOKEN}})
    assert ok.status_code == 201, ok.json


def test_changed_credentials_are_checked_and_kept_only_when_the_provider_accepts_them(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    channel_id = tenants["channels"][tw.OUR_NUMBER].id
    resp = client.patch(f"/api/admin/channels/{channel_id}", headers=headers,
                        json={"credentials": {"auth_token": "rotated-but-wrong"}})
    assert resp.status_code == 422 and resp.json["error"]["code"] == "credentials_rejected"
    with sessions() as s:
        assert s.get_one(Channel, channel_id).credentials["auth_token"] == tw.AUTH_TOKEN
    # A rename touches no credentials and asks the provider nothing.
    assert client.patch(f"/api/admin/channels/{channel_id}", headers=headers, json={"name": "SMS"}).status_code == 200


def test_a_clash_with_another_tenant_does_not_name_it_and_comes_only_after_the_credentials(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any], graph: GraphServer) -> None:
    headers = _globex_admin(client, sessions)
    # Without working credentials nobody learns whether acme's number is a channel: the same 422 as any number.
    probe = client.post("/api/admin/channels", headers=headers, json={
        "kind": "whatsapp", "external_id": PHONE_NUMBER_ID, "credentials": {"access_token": "guessed"}})
    assert probe.status_code == 422 and probe.json["error"]["code"] == "credentials_rejected"
    claim = client.post("/api/admin/channels", headers=headers, json={
        "kind": "whatsapp", "external_id": PHONE_NUMBER_ID,
        "credentials": {"access_token": "example-graph-token", "app_secret": "x"}})
    assert claim.status_code == 409, claim.json
    text = str(claim.json)
    assert "acme" not in text.lower() and str(tenants["channels"][PHONE_NUMBER_ID].tenant_id) not in text
    assert claim.json["error"]["details"]["field"] == "external_id"


def test_two_tenants_claiming_one_number_at_once_one_holds_it(
        sessions: sessionmaker[Session], tenants: dict[str, Any], settings: Settings) -> None:
    with sessions() as s:
        actors = [s.scalars(select(User).where(User.email == e)).one()
                  for e in ("carla@acme.example", "gina@globex.example")]
        for actor in actors:
            s.expunge(actor)
    barrier, outcomes = threading.Barrier(2), []

    def claim(actor: User) -> None:
        with sessions() as s:
            try:
                with s.begin():
                    barrier.wait()
                    admin.save_channel(s, actor, {"kind": "sms", "external_id": "+15005550099", "credentials": {
                        "account_sid": tw.ACCOUNT_SID, "auth_token": tw.AUTH_TOKEN}}, utcnow(),
                        transport=Transport(settings))
                outcomes.append("created")
            except Conflict:
                outcomes.append("conflict")

    threads = [threading.Thread(target=claim, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["conflict", "created"]
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Channel).where(Channel.external_id == "+15005550099")) == 1


def test_the_provider_unreachable_is_a_503_and_nothing_is_saved(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any], graph: GraphServer) -> None:
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    graph.get_responder = lambda path, headers: (503, {"error": {"message": "Service temporarily unavailable",
                                                                 "type": "OAuthException", "code": 2}}, {})
    try:
        resp = client.post("/api/admin/channels", headers=headers, json={
            "kind": "whatsapp", "external_id": "777000111", "credentials": {"access_token": "t"}})
    finally:
        graph.get_responder = None
    assert resp.status_code == 503 and resp.json["error"]["code"] == "provider_unavailable"
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Channel).where(Channel.external_id == "777000111")) == 0
