"""Attachment downloads: listed on their message, served only to their tenant, safe headers, short-lived links."""

from __future__ import annotations

import io
import time
import uuid
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from api import create_app
from models import Attachment, Message
from models.base import utcnow
from models.errors import TooLarge, UnsupportedType
from models.infra.config import Settings
from models.infra.storage import Store
from models.services import attachments
from tests.api.conftest import login
from tests.api.test_webhooks_whatsapp import post
from tests.conftest import truncate_all
from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server
from tests.fakes.whatsapp import encode, text_delivery
from tests.services.helpers import drain

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 2048


def _inbound_message(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], bus: Any) -> Message:
    assert post(client, encode(text_delivery(f"wamid.{uuid.uuid4().hex[:8]}"))).status_code == 200
    with sessions() as s:
        from models import OutboxTask

        bus.tasks = [(row.task, row.args) for row in s.scalars(select(OutboxTask).order_by(OutboxTask.id))]
    drain(sessions, bus)
    with sessions() as s:
        return s.scalars(select(Message).order_by(Message.id.desc())).first()


def _attach(app: Flask, sessions: sessionmaker[Session], message: Message, name: str, content_type: str,
            data: bytes) -> int:
    store: Store = app.extensions["atendimento.system"].store
    with sessions() as s, s.begin():
        row = attachments.store_upload(s, store, s.get(Message, message.id), filename=name,
                                       content_type=content_type, data=io.BytesIO(data), max_bytes=1024 * 1024,
                                       now=utcnow())
        s.flush()
        return row.id


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_message_lists_its_attachments_and_the_link_serves_them_safely(
        client: FlaskClient, app: Flask, sessions: sessionmaker[Session], bus: Any, tenants: dict[str, Any]) -> None:
    message = _inbound_message(client, app, sessions, bus)
    _attach(app, sessions, message, "foto.png", "image/png", PNG)
    _attach(app, sessions, message, "nota.html", "text/html", b"<script>alert(1)</script>")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    items = client.get(f"/api/tickets/{message.ticket_id}/messages", headers=carla).json["items"]
    listed = next(m for m in items if m["id"] == message.id)["attachments"]
    assert [(a["filename"], a["content_type"], a["size"], a["status"]) for a in listed] == [
        ("foto.png", "image/png", len(PNG), "stored"), ("nota.html", "text/html", 25, "stored")]
    image = client.get(_path(listed[0]["url"]))  # no token: the link itself is the permission
    assert image.status_code == 200 and image.data == PNG and image.mimetype == "image/png"
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert image.headers["Content-Disposition"].startswith("inline")
    page = client.get(_path(listed[1]["url"]))  # HTML would run in our origin: it is a download, never a page
    assert page.status_code == 200 and page.mimetype == "application/octet-stream"
    assert page.headers["Content-Disposition"].startswith('attachment; filename="nota.html"')
    assert "sandbox" in page.headers["Content-Security-Policy"]


def test_links_expire_and_cannot_be_altered(client: FlaskClient, app: Flask, sessions: sessionmaker[Session],
                                            bus: Any, tenants: dict[str, Any]) -> None:
    message = _inbound_message(client, app, sessions, bus)
    attachment_id = _attach(app, sessions, message, "foto.png", "image/png", PNG)
    from api.links import signed_url

    with app.app_context(), sessions() as s:
        row = s.get(Attachment, attachment_id)
        stale = signed_url(row, now=time.time() - 3600)
        fresh = signed_url(row)
    assert client.get(_path(stale)).json["error"]["code"] == "link_invalid"
    other = _path(fresh).replace(f"/media/{attachment_id}/", f"/media/{attachment_id + 1}/")
    assert client.get(other).status_code == 403
    assert client.get(_path(fresh).replace("s=", "s=0")).status_code == 403
    assert client.get(_path(fresh)).status_code == 200


def test_another_tenant_gets_404(client: FlaskClient, app: Flask, sessions: sessionmaker[Session], bus: Any,
                                 tenants: dict[str, Any]) -> None:
    message = _inbound_message(client, app, sessions, bus)
    attachment_id = _attach(app, sessions, message, "foto.png", "image/png", PNG)
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    for path in (f"/api/attachments/{attachment_id}", f"/api/attachments/{attachment_id}/content"):
        resp = client.get(path, headers=gina)
        assert (resp.status_code, resp.json["error"]["code"]) == (404, "not_found")
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    assert client.get(f"/api/attachments/{attachment_id}/content", headers=carla).data == PNG


def test_a_refused_file_leaves_nothing_behind(client: FlaskClient, app: Flask, sessions: sessionmaker[Session],
                                             bus: Any, tenants: dict[str, Any], settings: Settings) -> None:
    message = _inbound_message(client, app, sessions, bus)
    store: Store = app.extensions["atendimento.system"].store
    media_dir = app.extensions["atendimento.settings"].data_dir / "media"
    files_before = {p for p in media_dir.rglob("*") if p.is_file()} if media_dir.exists() else set()
    with sessions() as s, s.begin(), pytest.raises(TooLarge):
        attachments.store_upload(s, store, s.get(Message, message.id), filename="big.bin",
                                 content_type="application/pdf", data=io.BytesIO(b"x" * 5000), max_bytes=4096,
                                 now=utcnow())
    with sessions() as s, s.begin(), pytest.raises(UnsupportedType):
        attachments.store_upload(s, store, s.get(Message, message.id), filename="run.exe",
                                 content_type="application/x-msdownload", data=io.BytesIO(b"MZ"),
                                 max_bytes=4096, now=utcnow())
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Attachment)) == 0
    assert ({p for p in media_dir.rglob("*") if p.is_file()} if media_dir.exists() else set()) == files_before


def test_with_an_s3_store_the_download_redirects_to_a_presigned_url(
        settings: Settings, engine: Any, sessions: sessionmaker[Session], bus: Any, tenants: dict[str, Any],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    server = S3Server()
    try:
        bucket = f"atd-{uuid.uuid4().hex[:8]}"
        boto3.client("s3", endpoint_url=server.url, region_name=REGION).create_bucket(Bucket=bucket)
        app = create_app(settings.with_(s3_bucket=bucket, s3_endpoint_url=server.url, s3_region=REGION))
        client = app.test_client()
        message = _inbound_message(client, app, sessions, bus)
        attachment_id = _attach(app, sessions, message, "foto.png", "image/png", PNG)
        carla = login(client, "acme", "carla@acme.example", "pw-carla")
        resp = client.get(f"/api/attachments/{attachment_id}/content", headers=carla)
        assert resp.status_code == 302 and resp.location.startswith(server.url)
        fetched = requests.get(resp.location, timeout=5)
        assert fetched.status_code == 200 and fetched.content == PNG
        app.extensions["atendimento.engine"].dispose()
    finally:
        server.close()
        truncate_all(engine)
