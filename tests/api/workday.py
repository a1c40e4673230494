"""Helpers for the agent's-day API tests: a ticket assigned to ana from a real webhook, run as a worker would."""

from __future__ import annotations

import weakref
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import OutboxTask
from models.infra.bus import RecordingBus
from models.infra.db import make_session_factory
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.fakes.whatsapp import encode, text_delivery
from tests.services.helpers import drain

_HANDLED: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()


def run_worker(app: Flask, sessions: sessionmaker[Session]) -> None:
    """Run every task recorded since the last call (triage, assignment), each in its own transaction.

    Rows are taken by id, not by `dispatched_at`: the app's marker thread sets that column after its own
    publish, at a moment a test cannot know (it raced this helper under load)."""
    worker_bus = RecordingBus()
    with sessions() as s:
        rows = list(s.scalars(select(OutboxTask).where(OutboxTask.id > _HANDLED.get(sessions, 0))
                              .order_by(OutboxTask.id)))
    if rows:
        _HANDLED[sessions] = rows[-1].id
    worker_bus.tasks = [(row.task, row.args) for row in rows]
    drain(make_session_factory(app.extensions["atendimento.engine"], worker_bus), worker_bus)


def customer_writes(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], wamid: str,
                    body: str = "Olá, preciso de ajuda", **kw: Any) -> None:
    assert post(client, encode(text_delivery(wamid, body=body, **kw))).status_code == 200
    run_worker(app, sessions)


def assigned_ticket(client: FlaskClient, app: Flask, sessions: sessionmaker[Session]) -> tuple[int, dict[str, str]]:
    """Ana online, Maria writes on WhatsApp: the ticket lands on ana. Returns its id and ana's headers."""
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.put("/api/me/status", json={"status": "online"}, headers=ana).status_code == 200
    customer_writes(client, app, sessions, "wamid.first")
    items = client.get("/api/tickets", headers=ana).json["items"]
    assert len(items) == 1 and items[0]["status"] == "assigned", items
    return items[0]["id"], ana
