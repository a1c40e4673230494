"""Helpers for the agent's-day API tests: a ticket assigned to ana from a real webhook, run as a worker would."""

from __future__ import annotations

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


def run_worker(app: Flask, sessions: sessionmaker[Session]) -> None:
    """Run every undispatched task recorded so far (triage, assignment), each in its own transaction."""
    worker_bus = RecordingBus()
    with sessions() as s, s.begin():
        rows = list(s.scalars(select(OutboxTask).where(OutboxTask.dispatched_at.is_(None)).order_by(OutboxTask.id)))
        worker_bus.tasks = [(row.task, row.args) for row in rows]
        for row in rows:
            row.dispatched_at = row.created_at
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
