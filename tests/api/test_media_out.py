"""Agents send files: a multipart reply is stored, checked against the provider's limits before anything is
queued, and each adapter sends it its provider's way (WhatsApp by our signed link, Twilio MMS MediaUrl, SendGrid
base64 attachments), through the same send path as text."""

from __future__ import annotations

import base64
import io
import uuid
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from models import Attachment, Message, OutboxTask
from models.base import utcnow
from models.infra.config import Settings
from models.services import outbound
from models.tickets import DeliveryStatus, Direction
from tests.api.conftest import login
from tests.api.test_webhooks_sms_email import SMS_URL, parse, post_twilio, work
from tests.api.test_webhooks_whatsapp import post
from tests.conftest import truncate_all
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer
from tests.fakes.sendgrid import SendGridServer
from tests.fakes.twilio import TwilioServer
from tests.fakes.whatsapp import encode, text_delivery

PNG = b"\x89PNG\r\n\x1a\n" + b"\x01" * 8192
PDF = b"%PDF-1.4\n" + b"1" * (2 * 1024 * 1024)  # over MAX_WEBHOOK_BYTES: this route takes more


def _ticket(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], kind: str) -> int:
    if kind == "whatsapp":
        assert post(client, encode(text_delivery(f"wamid.{uuid.uuid4().hex[:8]}"))).status_code == 200
    elif kind == "sms":
        assert post_twilio(client, SMS_URL, tw.inbound_form()).status_code == 200
    else:
        assert parse(client, "parse-secret-acme", sg.inbound_parse_fields()).status_code == 200
    work(app, sessions)
    with sessions() as s:
        return int(s.scalar(select(Message.ticket_id).order_by(Message.id.desc()).limit(1)))


def _reply(client: FlaskClient, ticket_id: int, body: str, *files: tuple[bytes, str, str]) -> Any:
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    data: dict[str, Any] = {"body": body, "file": [(io.BytesIO(c), name, ctype) for c, name, ctype in files]}
    return client.post(f"/api/tickets/{ticket_id}/messages", data=data, headers=headers,
                       content_type="multipart/form-data")


def _send_all(app: Flask, sessions: sessionmaker[Session], settings: Settings) -> list[str]:
    store = app.extensions["atendimento.system"].store
    with sessions() as s:
        ids = list(s.scalars(select(Message.id).where(Message.direction == Direction.OUTBOUND,
                                                      Message.status == DeliveryStatus.QUEUED).order_by(Message.id)))
    results = []
    for message_id in ids:
        with sessions() as s, s.begin():
            results.append(outbound.send_message(s, message_id, utcnow(), settings, store=store))
    return results


def _stored_files(app: Flask) -> int:
    root = app.extensions["atendimento.settings"].data_dir / "media"
    return len([p for p in root.rglob("*") if p.is_file()]) if root.exists() else 0


def test_whatsapp_image_goes_by_our_signed_link_with_its_caption(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any],
        graph: GraphServer, settings: Settings) -> None:
    ticket_id = _ticket(client, app, sessions, "whatsapp")
    resp = _reply(client, ticket_id, "Segue a foto", (PNG, "etiqueta.png", "image/png"))
    assert resp.status_code == 202, resp.json
    assert resp.json["kind"] == "image" and resp.json["attachments"][0]["filename"] == "etiqueta.png"
    before = len(graph.requests)
    assert _send_all(app, sessions, settings) == ["sent"]
    sent = graph.requests[before]["body"]
    assert sent["type"] == "image" and sent["image"]["caption"] == "Segue a foto"
    link = urlsplit(sent["image"]["link"])
    assert link.netloc == "atendimento.example.com" and link.path.startswith("/media/")
    fetched = app.test_client().get(f"{link.path}?{link.query}")  # Meta fetches it without any token of ours
    assert fetched.status_code == 200 and fetched.data == PNG


def test_several_files_and_a_voice_note_on_whatsapp(app: Flask, client: FlaskClient,
                                                   sessions: sessionmaker[Session], tenants: dict[str, Any],
                                                   graph: GraphServer, settings: Settings) -> None:
    ticket_id = _ticket(client, app, sessions, "whatsapp")
    resp = _reply(client, ticket_id, "Ouça e leia", (b"ID3" + b"\x00" * 500, "audio.mp3", "audio/mpeg"),
                  (PDF, "manual.pdf", "application/pdf"))
    assert resp.status_code == 202, resp.json
    before = len(graph.requests)
    assert _send_all(app, sessions, settings) == ["sent", "sent", "sent"]
    bodies = [r["body"] for r in graph.requests[before:]]
    assert [b["type"] for b in bodies] == ["text", "audio", "document"]  # audio carries no caption: text first
    assert bodies[0]["text"]["body"] == "Ouça e leia" and "caption" not in bodies[1]["audio"]
    assert bodies[2]["document"]["filename"] == "manual.pdf"


def test_provider_limits_are_checked_before_queueing_and_nothing_stays(
        app: Flask, client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    ticket_id = _ticket(client, app, sessions, "whatsapp")
    files_before = _stored_files(app)  # the app (and its DATA_DIR) serve the whole run
    with sessions() as s:
        messages, tasks = s.scalar(select(func.count(Message.id))), s.scalar(select(func.count(OutboxTask.id)))
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (5 * 1024 * 1024 + 1)
    resp = _reply(client, ticket_id, "foto", (PNG, "ok.png", "image/png"), (big, "grande.png", "image/png"))
    assert resp.status_code == 422
    error = resp.json["error"]
    assert error["code"] == "media_too_large" and error["details"]["limit"] == 5 * 1024 * 1024
    assert "5 MB" in error["message"]
    resp = _reply(client, ticket_id, "", (b"GIF89a" + b"\x00" * 10, "a.gif", "image/gif"))
    assert resp.status_code == 422 and resp.json["error"]["code"] == "media_type_unsupported"
    resp = _reply(client, ticket_id, "", (b"MZ\x90", "setup.exe", "application/x-msdownload"))
    assert resp.status_code == 415
    assert _stored_files(app) == files_before
    with sessions() as s:
        assert s.scalar(select(func.count(Message.id))) == messages
        assert s.scalar(select(func.count(OutboxTask.id))) == tasks
        assert s.scalar(select(func.count(Attachment.id))) == 0


def test_a_file_over_the_stored_limit_is_413(settings: Settings, engine: Any, sessions: sessionmaker[Session],
                                             tenants: dict[str, Any]) -> None:
    app = create_app(settings.with_(attachment_max_bytes_by_kind=(("whatsapp", 4096),)))
    try:
        client = app.test_client()
        ticket_id = _ticket(client, app, sessions, "whatsapp")
        files_before = _stored_files(app)
        resp = _reply(client, ticket_id, "", (PNG, "x.png", "image/png"))
        assert resp.status_code == 413 and resp.json["error"]["details"]["limit"] == 4096
        assert _stored_files(app) == files_before
    finally:
        app.extensions["atendimento.engine"].dispose()
        truncate_all(engine)


def test_twilio_mms_carries_our_links(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                      tenants: dict[str, Any], twilio_server: TwilioServer,
                                      settings: Settings) -> None:
    ticket_id = _ticket(client, app, sessions, "sms")
    resp = _reply(client, ticket_id, "Fotos", (PNG, "a.png", "image/png"), (PNG, "b.png", "image/png"))
    assert resp.status_code == 202 and resp.json["kind"] == "media"
    before = len(twilio_server.requests)
    assert _send_all(app, sessions, settings) == ["sent"]
    pairs = twilio_server.requests[before]["pairs"]
    urls = [v for k, v in pairs if k == "MediaUrl"]
    assert len(urls) == 2 and all("/media/" in u and "&s=" in u for u in urls)
    assert dict(pairs)["Body"] == "Fotos"


def test_sendgrid_attaches_the_bytes(app: Flask, client: FlaskClient, sessions: sessionmaker[Session],
                                     tenants: dict[str, Any], sendgrid_server: SendGridServer,
                                     settings: Settings) -> None:
    ticket_id = _ticket(client, app, sessions, "email")
    resp = _reply(client, ticket_id, "Segue a fatura", (PDF, "fatura.pdf", "application/pdf"))
    assert resp.status_code == 202, resp.json
    before = len(sendgrid_server.requests)
    assert _send_all(app, sessions, settings) == ["sent"]
    [attachment] = sendgrid_server.requests[before]["body"]["attachments"]
    assert (attachment["filename"], attachment["type"], attachment["disposition"]) == (
        "fatura.pdf", "application/pdf", "attachment")
    assert base64.b64decode(attachment["content"]) == PDF
