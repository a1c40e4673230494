"""Inbound media: a customer's photo, voice note or MMS becomes a stored, downloadable attachment of its message.

Real parts only: PostgreSQL, the fake Graph and Twilio servers serving media as the real APIs do, and the object
store on files and on S3's wire protocol (moto).
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from models import Attachment, Message, Ticket
from models.attachments import AttachmentStatus
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.storage import FileStore, S3Store, Store
from models.org import ChannelKind
from models.providers import twilio
from models.services import media, triage
from models.services.inbound import find_channels, store_events
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer
from tests.fakes.s3 import REGION, S3Server
from tests.fakes.twilio import TwilioServer
from tests.fakes.whatsapp import media_message, message_delivery
from tests.infra.test_storage import s3_env, s3_server  # noqa: F401  (fixtures of the S3 store)
from tests.services.helpers import drain
from tests.services.helpers import store as store_delivery


@pytest.fixture(params=["files", "s3"])
def object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "files":
        return FileStore(tmp_path / "media")
    request.getfixturevalue("s3_env")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = f"atd-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=server.url, region_name=REGION).create_bucket(Bucket=bucket)
    return S3Store(bucket, prefix="media", endpoint_url=server.url, region=REGION)


JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 64
OGG = b"OggS" + b"\x01" * 4000


def _read(store: Store, key: str) -> bytes:
    return b"".join(store.open(key))


def _fetcher(store: Store, settings: Settings) -> dict[str, Any]:
    return {"media.fetch": lambda s, attachment_id: media.fetch(s, store, settings, attachment_id, utcnow())}


def _attachments(sessions: sessionmaker[Session]) -> list[Attachment]:
    with sessions() as s:
        return list(s.scalars(select(Attachment).order_by(Attachment.id)))


def _deliver(sessions: sessionmaker[Session], bus: RecordingBus, message: dict[str, Any]) -> None:
    store_delivery(sessions, message_delivery(message))
    drain(sessions, bus)  # triage only: the fetch is the test's to run


def test_whatsapp_image_is_fetched_checked_and_stored(sessions: sessionmaker[Session], bus: RecordingBus,
                                                      tenants: dict[str, Any], graph: GraphServer,
                                                      settings: Settings, object_store: Store) -> None:
    store = object_store
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    store_delivery(sessions, message_delivery(media_message("wamid.img1", "image", media_id, "image/jpeg", sha,
                                                            caption="a tampa quebrou")))
    ran = drain(sessions, bus, _fetcher(store, settings))
    assert ran.count("media.fetch") == 1
    with sessions() as s:
        message = s.scalars(select(Message).where(Message.provider_message_id == "wamid.img1")).one()
        assert message.body == "a tampa quebrou"
    [row] = _attachments(sessions)
    assert (row.status, row.message_id, row.content_type, row.size) == (AttachmentStatus.STORED, message.id,
                                                                         "image/jpeg", len(JPEG))
    assert row.sha256 == hashlib.sha256(JPEG).hexdigest() and row.filename.startswith("image")
    assert _read(store, row.storage_key) == JPEG
    # Both Graph calls carried the channel's token; the metadata call named our number (ownership check).
    meta, download = graph.gets[-2:]
    assert meta["path"].startswith(f"/v21.0/{media_id}?phone_number_id=106540352242922")
    assert download["headers"]["Authorization"] == "Bearer example-graph-token"
    [event] = [e for e in bus.events if e[0] == "attachment.stored" and e[2].endswith(":supervisors")]
    assert event[1]["data"]["attachment"]["id"] == row.id and "/media/" in event[1]["data"]["attachment"]["url"]


def test_voice_note_and_document_keep_their_names_and_types(sessions: sessionmaker[Session], bus: RecordingBus,
                                                            tenants: dict[str, Any], graph: GraphServer,
                                                            settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    voice_id, voice_sha = graph.add_media(OGG, "audio/ogg")
    pdf = b"%PDF-1.4 invoice"
    doc_id, doc_sha = graph.add_media(pdf, "application/pdf")
    store_delivery(sessions, message_delivery(media_message("wamid.v1", "audio", voice_id, "audio/ogg; codecs=opus",
                                                            voice_sha, voice="true")))
    store_delivery(sessions, message_delivery(media_message("wamid.d1", "document", doc_id, "application/pdf",
                                                            doc_sha, filename="fatura-123.pdf")))
    drain(sessions, bus, _fetcher(files, settings))
    voice, document = _attachments(sessions)
    assert (voice.status, voice.content_type) == (AttachmentStatus.STORED, "audio/ogg")
    assert (document.status, document.filename, document.content_type) == (
        AttachmentStatus.STORED, "fatura-123.pdf", "application/pdf")
    assert _read(files, document.storage_key) == pdf


def test_checksum_mismatch_is_failed_and_nothing_stored(sessions: sessionmaker[Session], bus: RecordingBus,
                                                        tenants: dict[str, Any], graph: GraphServer,
                                                        settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    media_id, _ = graph.add_media(JPEG, "image/jpeg")
    wrong = hashlib.sha256(b"another file").hexdigest()
    store_delivery(sessions, message_delivery(media_message("wamid.bad", "image", media_id, "image/jpeg", wrong)))
    drain(sessions, bus, _fetcher(files, settings))
    [row] = _attachments(sessions)
    assert row.status == AttachmentStatus.FAILED and "checksum" in (row.error or "")
    assert row.storage_key is None and not list((tmp_path / "media").rglob("*"))
    assert [e[1]["data"]["attachment"]["status"] for e in bus.events
            if e[0] == "attachment.failed" and e[2].endswith(":supervisors")] == ["failed"]


def test_outage_retries_then_stores(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any],
                                    graph: GraphServer, settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    _deliver(sessions, bus, media_message("wamid.out1", "image", media_id, "image/jpeg", sha))
    [attachment_id] = [a.id for a in _attachments(sessions)]
    graph.get_responder = lambda path, headers: (503, {"error": {"message": "Service temporarily unavailable",
                                                          "code": 2, "type": "OAuthException"}}, {})
    try:
        for _ in (1, 2):
            with sessions() as s, s.begin():
                outcome = media.fetch(s, files, settings, attachment_id, utcnow())
            assert outcome.result == "retry" and 0 < outcome.countdown <= media.RETRY_CAP
        [row] = _attachments(sessions)
        assert (row.status, row.attempts) == (AttachmentStatus.PENDING, 2) and "2:" in (row.error or "")
    finally:
        graph.get_responder = None
    with sessions() as s, s.begin():
        assert media.fetch(s, files, settings, attachment_id, utcnow()).result == "stored"
    with sessions() as s, s.begin():  # a late duplicate task changes nothing
        assert media.fetch(s, files, settings, attachment_id, utcnow()).result == "skipped"
    [row] = _attachments(sessions)
    assert (row.status, row.attempts, row.error) == (AttachmentStatus.STORED, 3, None)


def test_media_that_never_comes_back_expires_with_its_reason(sessions: sessionmaker[Session], bus: RecordingBus,
                                                             tenants: dict[str, Any], graph: GraphServer,
                                                             settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    _deliver(sessions, bus, media_message("wamid.old", "image", media_id, "image/jpeg", sha))
    [attachment_id] = [a.id for a in _attachments(sessions)]
    with sessions() as s, s.begin():  # the item arrived longer ago than MEDIA_FETCH_FOR
        s.execute(update(Attachment).values(created_at=utcnow() - timedelta(seconds=settings.media_fetch_for + 1)))
    graph.get_responder = lambda path, headers: (500, {"error": {"message": "unknown error", "code": 1}}, {})
    try:
        with sessions() as s, s.begin():
            assert media.fetch(s, files, settings, attachment_id, utcnow()).result == "expired"
    finally:
        graph.get_responder = None
    [row] = _attachments(sessions)
    assert row.status == AttachmentStatus.EXPIRED and "not fetched after 1 attempts" in (row.error or "")


def test_a_media_id_meta_no_longer_knows_expires_at_once(sessions: sessionmaker[Session], bus: RecordingBus,
                                                         tenants: dict[str, Any], graph: GraphServer,
                                                         settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    store_delivery(sessions, message_delivery(media_message("wamid.gone", "sticker", "4444000011112222", "image/webp",
                                                            "abc")))
    drain(sessions, bus, _fetcher(files, settings))
    [row] = _attachments(sessions)
    assert row.status == AttachmentStatus.EXPIRED and (row.error or "").startswith("expired: ")


def test_attempts_are_bounded(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any],
                              graph: GraphServer, settings: Settings, tmp_path: Path) -> None:
    files, bounded = FileStore(tmp_path / "media"), settings.with_(media_fetch_attempts=2)
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    _deliver(sessions, bus, media_message("wamid.b1", "image", media_id, "image/jpeg", sha))
    [attachment_id] = [a.id for a in _attachments(sessions)]
    graph.get_responder = lambda path, headers: (429, {"error": {"message": "rate", "code": 4}}, {})
    try:
        results = []
        for _ in range(2):
            with sessions() as s, s.begin():
                results.append(media.fetch(s, files, bounded, attachment_id, utcnow()).result)
    finally:
        graph.get_responder = None
    assert results == ["retry", "expired"]


def test_two_workers_fetch_one_file_once(sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any],
                                         graph: GraphServer, settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    _deliver(sessions, bus, media_message("wamid.race", "image", media_id, "image/jpeg", sha))
    [attachment_id] = [a.id for a in _attachments(sessions)]
    graph.delay = 0.0
    barrier, results = threading.Barrier(2), []

    def run() -> None:
        barrier.wait()
        with sessions() as s, s.begin():
            results.append(media.fetch(s, files, settings, attachment_id, utcnow()).result)

    before = len(graph.gets)
    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) in (["skipped", "stored"], ["stored", "skipped"])
    assert len(graph.gets) - before == 2  # one metadata call and one download, by one worker
    assert len([p for p in (tmp_path / "media").rglob("*") if p.is_file()]) == 1


def test_twilio_mms_is_downloaded_with_the_account_credentials(sessions: sessionmaker[Session], bus: RecordingBus,
                                                                tenants: dict[str, Any], twilio_server: TwilioServer,
                                                                settings: Settings, tmp_path: Path) -> None:
    files = FileStore(tmp_path / "media")
    sid = tw.new_sid("MM")
    url = twilio_server.add_media(JPEG, "image/jpeg", sid)
    form = tw.inbound_form(sid, body="foto do produto", media=[(url, "image/jpeg")])
    event = twilio.parse_inbound(form)
    with sessions() as s, s.begin():
        store_events(s, twilio.PROVIDER, find_channels(s, ChannelKind.SMS, [tw.OUR_NUMBER]), [event])
    drain(sessions, bus, _fetcher(files, settings))
    [row] = _attachments(sessions)
    assert (row.status, row.content_type, row.size) == (AttachmentStatus.STORED, "image/jpeg", len(JPEG))
    assert _read(files, row.storage_key) == JPEG
    assert twilio_server.gets[-1]["headers"]["Authorization"].startswith("Basic ")


def test_triage_records_the_attachment_with_its_message_once(sessions: sessionmaker[Session], bus: RecordingBus,
                                                             tenants: dict[str, Any], graph: GraphServer) -> None:
    media_id, sha = graph.add_media(JPEG, "image/jpeg")
    doc = message_delivery(media_message(f"wamid.{uuid.uuid4().hex[:6]}", "video", media_id, "video/mp4", sha))
    store_delivery(sessions, doc)
    drain(sessions, bus)
    with sessions() as s:  # processing the same inbox event again adds nothing
        inbox_id = s.scalar(select(triage.InboxEvent.id))
    with sessions() as s, s.begin():
        triage.process_event(s, inbox_id, utcnow())
    rows = _attachments(sessions)
    assert [(r.status, r.content_type, r.source["media_id"]) for r in rows] == [
        (AttachmentStatus.PENDING, "video/mp4", media_id)]
    with sessions() as s:
        assert s.scalar(select(Ticket.id)) is not None
