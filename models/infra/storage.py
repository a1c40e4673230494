"""Where attachment bytes live: an S3-compatible object store in production, files under DATA_DIR embedded.

One interface, two backends chosen by configuration (`S3_BUCKET` set or not) in the composition root. Keys
are opaque to the store (`t{tenant}/{sha256}` style, chosen by the caller); objects are written whole and
never changed, so a retried upload of the same key is harmless. A download URL is the store's own short-lived
presigned URL where it has one (S3, MinIO): the API checks the tenant first and then redirects to it, so the
bytes never pass through an API thread. The filesystem store has no URL of its own: the API streams the file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

_CHUNK = 64 * 1024


class Readable(Protocol):
    """Anything with `read(n)` returning bytes: a file, an upload stream, a size-bounded wrapper."""

    def read(self, n: int = -1, /) -> bytes: ...


class StoreUnavailable(Exception):
    """The object store could not be reached or refused the request; the caller retries later."""


class ObjectMissing(Exception):
    """No object under this key."""


@dataclass(frozen=True)
class Stored:
    key: str
    size: int
    sha256: str


class Store(Protocol):
    """An object store: whole objects under keys, written once."""

    def put(self, key: str, data: Readable, content_type: str) -> Stored:
        """Store `data` (read to its end) under `key`; returns its size and SHA-256."""

    def open(self, key: str) -> Iterator[bytes]:
        """The object's bytes, in chunks. Raises ObjectMissing."""

    def delete(self, key: str) -> None:
        """Remove the object; a missing one is not an error (erasure is idempotent)."""

    def download_url(self, key: str, *, filename: str, content_type: str, attachment: bool,
                     expires_in: int) -> str | None:
        """A short-lived URL the browser can fetch directly, or None when the API must stream it."""


class _Hashing:
    """Reads a stream through SHA-256 and a byte count."""

    def __init__(self, data: Readable) -> None:
        self._data, self.size, self._hash = data, 0, hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        chunk = self._data.read(n)
        self.size += len(chunk)
        self._hash.update(chunk)
        return chunk

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()


class FileStore:
    """Objects as files under `root` (the embedded default: DATA_DIR/media). Writes are atomic (rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise ValueError(f"key escapes the store: {key!r}")
        return path

    def put(self, key: str, data: Readable, content_type: str) -> Stored:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        reader = _Hashing(data)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := reader.read(_CHUNK):
                    out.write(chunk)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Stored(key, reader.size, reader.sha256)

    def open(self, key: str) -> Iterator[bytes]:
        path = self._path(key)
        try:
            handle = path.open("rb")
        except FileNotFoundError as exc:
            raise ObjectMissing(key) from exc

        def chunks() -> Iterator[bytes]:
            with handle:
                while chunk := handle.read(_CHUNK):
                    yield chunk

        return chunks()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def download_url(self, key: str, *, filename: str, content_type: str, attachment: bool,
                     expires_in: int) -> str | None:
        return None


class S3Store:
    """Objects in an S3-compatible bucket (AWS S3, MinIO) through boto3, under `prefix`."""

    def __init__(self, bucket: str, prefix: str = "", endpoint_url: str | None = None, region: str | None = None,
                 connect_timeout: float = 3.05, read_timeout: float = 30.0,
                 public_endpoint_url: str | None = None) -> None:
        import boto3
        from botocore.config import Config

        self.bucket, self.prefix = bucket, prefix.strip("/")
        config = Config(connect_timeout=connect_timeout, read_timeout=read_timeout,
                        retries={"max_attempts": 3, "mode": "standard"},
                        # Path-style addressing: MinIO and other self-hosted stores have no per-bucket DNS.
                        s3={"addressing_style": "path"} if endpoint_url else None,
                        signature_version="s3v4")
        self._client: Any = boto3.client("s3", endpoint_url=endpoint_url, region_name=region, config=config)
        # Browsers may reach the store by another name than the workers do (compose: http://minio:9000 inside,
        # the published port outside); a presigned URL is signed for the host it names.
        self._signer: Any = self._client if not public_endpoint_url else boto3.client(
            "s3", endpoint_url=public_endpoint_url, region_name=region, config=config)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: Readable, content_type: str) -> Stored:
        from botocore.exceptions import BotoCoreError, ClientError

        # Spooled so the hash and size are known before the upload, and boto3 gets a seekable body it can retry.
        reader = _Hashing(data)
        with tempfile.SpooledTemporaryFile(max_size=8 * 1024 * 1024) as spool:
            while chunk := reader.read(_CHUNK):
                spool.write(chunk)
            spool.seek(0)
            try:
                self._client.put_object(Bucket=self.bucket, Key=self._key(key), Body=spool,
                                        ContentType=content_type, ChecksumAlgorithm="SHA256")
            except (BotoCoreError, ClientError) as exc:
                raise StoreUnavailable(str(exc)) from exc
        return Stored(key, reader.size, reader.sha256)

    def open(self, key: str) -> Iterator[bytes]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            body = self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                raise ObjectMissing(key) from exc
            raise StoreUnavailable(str(exc)) from exc
        except BotoCoreError as exc:
            raise StoreUnavailable(str(exc)) from exc
        return iter(lambda: body.read(_CHUNK), b"")

    def delete(self, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except (BotoCoreError, ClientError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    def download_url(self, key: str, *, filename: str, content_type: str, attachment: bool,
                     expires_in: int) -> str | None:
        disposition = content_disposition(filename, attachment)
        return str(self._signer.generate_presigned_url(
            "get_object", ExpiresIn=expires_in,
            Params={"Bucket": self.bucket, "Key": self._key(key), "ResponseContentType": content_type,
                    "ResponseContentDisposition": disposition}))


def content_disposition(filename: str, attachment: bool) -> str:
    """`attachment` or `inline`, with an ASCII fallback name and the UTF-8 one (RFC 6266 / RFC 5987)."""
    from urllib.parse import quote

    ascii_name = filename.encode("ascii", "replace").decode().replace('"', "").replace("?", "_") or "file"
    kind = "attachment" if attachment else "inline"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"
