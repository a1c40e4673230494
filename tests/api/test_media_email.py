"""Email attachments: Inbound Parse posts the files with the email; they are stored before the inbox row
commits, inline images keep their Content-ID, refused files are said so, and the route takes large emails."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Attachment, Message
from models.attachments import AttachmentStatus
from tests.api.conftest import login
from tests.api.test_webhooks_sms_email import work
from tests.fakes import sendgrid as sg

PNG = b"\x89PNG\r\n\x1a\n" + b"\x07" * 4096
PDF = b"%PDF-1.4\n" + b"0" * (2 * 1024 * 1024)  # over MAX_WEBHOOK_BYTES: only this route takes it


def _post(client: FlaskClient, fields: dict[str, str], files: dict[str, tuple[bytes, str, str]]) -> Any:
    data: dict[str, Any] = dict(fields)
    for name, (content, filename, content_type) in files.items():
        data[name] = (io.BytesIO(content), filename, content_type)
    return client.post("/webhooks/sendgrid/inbound/parse-secret-acme", data=data, content_type="multipart/form-data")


def _files(app: Flask) -> int:
    root = app.extensions["atendimento.settings"].data_dir / "media"
    return len([p for p in root.rglob("*") if p.is_file()]) if root.exists() else 0


def test_files_and_inline_images_arrive_with_the_email(app: Flask, client: FlaskClient,
                                                       sessions: sessionmaker[Session],
                                                       tenants: dict[str, Any]) -> None:
    fields = sg.inbound_parse_fields(html='<p>Veja: <img src="cid:ii_photo1"></p>',
                                     attachments=[("foto.png", "image/png", "ii_photo1"),
                                                  ("fatura.pdf", "application/pdf")])
    files_before = _files(app)  # the app (and its DATA_DIR) serve the whole run
    resp = _post(client, fields, {"attachment1": (PNG, "foto.png", "image/png"),
                                  "attachment2": (PDF, "fatura.pdf", "application/pdf")})
    assert resp.status_code == 200, resp.json
    assert _post(client, fields, {"attachment1": (PNG, "foto.png", "image/png"),
                                  "attachment2": (PDF, "fatura.pdf", "application/pdf")}).json["duplicates"] == 1
    assert _files(app) - files_before == 2  # the redelivery stored no file again
    work(app, sessions)
    with sessions() as s:
        message = s.scalars(select(Message)).one()
    headers = login(client, "acme", "carla@acme.example", "pw-carla")
    page = client.get(f"/api/tickets/{message.ticket_id}/messages", headers=headers).json
    photo, invoice = page["items"][0]["attachments"]
    assert (photo["filename"], photo["status"], photo["inline_id"], photo["size"]) == (
        "foto.png", "stored", "ii_photo1", len(PNG))
    assert (invoice["content_type"], invoice["inline_id"], invoice["size"]) == ("application/pdf", None, len(PDF))
    url = urlsplit(photo["url"])
    assert client.get(f"{url.path}?{url.query}").data == PNG


def test_a_refused_file_is_said_so_and_the_email_still_arrives(app: Flask, client: FlaskClient,
                                                               sessions: sessionmaker[Session],
                                                               tenants: dict[str, Any]) -> None:
    fields = sg.inbound_parse_fields(attachments=[("setup.exe", "application/x-msdownload")])
    files_before = _files(app)
    resp = _post(client, fields, {"attachment1": (b"MZ" + b"\x00" * 100, "setup.exe", "application/x-msdownload")})
    assert resp.status_code == 200
    work(app, sessions)
    assert _files(app) == files_before
    with sessions() as s:
        [row] = s.scalars(select(Attachment)).all()
        assert row.status == AttachmentStatus.FAILED and "not accepted" in (row.error or "")
        assert s.scalar(select(Message.body)) == "Olá, preciso de ajuda\n"
