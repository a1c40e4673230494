"""The object store: the same behaviour from the filesystem backend and from S3 over its real wire protocol."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from models.infra.config import Settings
from models.infra.storage import FileStore, ObjectMissing, S3Store, Store, StoreUnavailable
from models.infra.wiring import make_store
from tests.fakes.s3 import ACCESS_KEY, REGION, SECRET_KEY, S3Server


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    server = S3Server()
    yield server
    server.close()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    # boto3 reads credentials from its standard chain; these are the fake server's.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)


@pytest.fixture(params=["files", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "files":
        return FileStore(tmp_path / "media")
    request.getfixturevalue("s3_env")
    server: S3Server = request.getfixturevalue("s3_server")
    bucket = f"atd-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=server.url, region_name=REGION).create_bucket(Bucket=bucket)
    return S3Store(bucket, prefix="media", endpoint_url=server.url, region=REGION)


def _read(store: Store, key: str) -> bytes:
    return b"".join(store.open(key))


def test_put_then_read_back_with_size_and_hash(store: Store) -> None:
    data = bytes(range(256)) * 1000  # 256 kB, several chunks
    stored = store.put("t1/photo.jpg", io.BytesIO(data), "image/jpeg")
    assert (stored.size, stored.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert _read(store, "t1/photo.jpg") == data


def test_delete_is_idempotent_and_a_missing_object_says_so(store: Store) -> None:
    store.put("t1/a.pdf", io.BytesIO(b"%PDF-1.4"), "application/pdf")
    store.delete("t1/a.pdf")
    store.delete("t1/a.pdf")
    with pytest.raises(ObjectMissing):
        _read(store, "t1/a.pdf")


def test_the_s3_download_url_is_presigned_and_carries_the_disposition(s3_env: Any, s3_server: S3Server) -> None:
    bucket = f"atd-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_server.url, region_name=REGION).create_bucket(Bucket=bucket)
    store = S3Store(bucket, endpoint_url=s3_server.url, region=REGION)
    store.put("t1/nota fiscal.html", io.BytesIO(b"<script>x</script>"), "text/html")
    url = store.download_url("t1/nota fiscal.html", filename="nota fiscal.html", content_type="text/html",
                             attachment=True, expires_in=60)
    assert url is not None and "X-Amz-Expires=60" in url
    resp = requests.get(url, timeout=5)
    assert resp.status_code == 200 and resp.content == b"<script>x</script>"
    assert resp.headers["Content-Disposition"].startswith('attachment; filename="nota fiscal.html"')


def test_an_unreachable_store_is_unavailable_not_a_crash(s3_env: Any) -> None:
    store = S3Store("nowhere", endpoint_url="http://127.0.0.1:9", region=REGION, connect_timeout=0.2)
    with pytest.raises(StoreUnavailable):
        store.put("t1/x", io.BytesIO(b"x"), "text/plain")


def test_a_key_cannot_escape_the_media_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="escapes"):
        FileStore(tmp_path / "media").put("../../etc/passwd", io.BytesIO(b"x"), "text/plain")


def test_configuration_picks_the_backend(tmp_path: Path) -> None:
    base = {"SECRET_KEY": "x" * 32, "DATA_DIR": str(tmp_path)}
    assert isinstance(make_store(Settings.from_env(base)), FileStore)
    s3 = make_store(Settings.from_env({**base, "S3_BUCKET": "b", "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
                                       "S3_REGION": REGION}))
    assert isinstance(s3, S3Store) and s3.bucket == "b"
