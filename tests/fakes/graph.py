"""A local HTTP server that plays the WhatsApp Cloud API (Graph API) send endpoint and records every call."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from tests.fakes.http import Answer, FakeProvider


@dataclass
class GraphServer(FakeProvider):
    """Answers `POST /{version}/{phone_number_id}/messages` like Meta: 200 with a wamid, or an error object."""

    token: str = "example-graph-token"
    phone_number_id: str = "106540352242922"

    # media id -> (bytes, MIME type): what customers "sent"; `add_media` puts one there, as Meta holds it
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    templates: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # WABA id -> its templates
    templates_page: int = 2  # small pages, so every sync pages

    def _templates(self, waba_id: str, query: dict[str, str]) -> Answer:
        """`GET /{waba-id}/message_templates`: a page of `templates_page` items, `paging.cursors.after` and
        `paging.next` while more follow (Meta's cursor paging)."""
        if waba_id not in self.templates:
            return 400, {"error": {"message": f"Unsupported get request. Object with ID '{waba_id}' does not exist",
                                   "type": "GraphMethodException", "code": 100, "error_subcode": 33}}, {}
        items = self.templates[waba_id]
        start = int(base64.b64decode(query["after"]).decode()) if query.get("after") else 0
        size = min(int(query.get("limit", 25)), self.templates_page)
        page = items[start:start + size]
        cursors = {"before": base64.b64encode(str(start).encode()).decode(),
                   "after": base64.b64encode(str(start + len(page)).encode()).decode()}
        paging: dict[str, Any] = {"cursors": cursors}
        if start + len(page) < len(items):
            paging["next"] = f"{self.url}/v21.0/{waba_id}/message_templates?after={cursors['after']}"
        return 200, {"data": page, "paging": paging}, {}

    def add_media(self, data: bytes, mime_type: str) -> tuple[str, str]:
        """A media item a customer sent: its id and the base64 SHA-256 the webhook carries for it."""
        media_id = str(uuid.uuid4().int)[:16]
        self.media[media_id] = (data, mime_type)
        return media_id, base64.b64encode(hashlib.sha256(data).digest()).decode()

    def answer_get(self, path: str, headers: Any) -> Answer:
        """`GET /{version}/{phone-number-id}`: the number's profile, for a token that may use it.
        `GET /{version}/{media-id}`: the media's metadata and its short-lived download URL.
        `GET /whatsapp_business/attachments/?mid=..`: the bytes (the token is needed here too)."""
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AbC"}}, {}
        route, _, query = path.partition("?")
        parts = route.strip("/").split("/")
        if parts[0] == "whatsapp_business":
            item = self.media.get(dict(parse_qsl(query)).get("mid", ""))
            if item is None:
                return 404, None, {}
            return 200, item[0], {"Content-Type": item[1]}
        if len(parts) == 3 and parts[2] == "message_templates":
            return self._templates(parts[1], dict(parse_qsl(query)))
        if len(parts) == 2 and parts[1] in self.media:
            data, mime = self.media[parts[1]]
            return 200, {"messaging_product": "whatsapp", "url": f"{self.url}/whatsapp_business/attachments/?mid="
                         f"{parts[1]}&ext=1700000000&hash=ATtest", "mime_type": mime,
                         "sha256": hashlib.sha256(data).hexdigest(), "file_size": str(len(data)),
                         "id": parts[1]}, {}
        if len(parts) != 2 or parts[1] != self.phone_number_id:
            return 400, {"error": {"message": f"Unsupported get request. Object with ID '{parts[-1]}' does not "
                                              "exist", "type": "GraphMethodException", "code": 100,
                                   "error_subcode": 33, "fbtrace_id": "AbC"}}, {}
        return 200, {"verified_name": "Acme", "code_verification_status": "VERIFIED",
                     "display_phone_number": "+1 555-078-3881", "quality_rating": "GREEN", "id": parts[1]}, {}

    def parse(self, path: str, headers: Any, raw: bytes) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        return {"path": path, "phone_number_id": parts[1] if len(parts) == 3 else None,
                "authorization": headers.get("Authorization"), "body": json.loads(raw or b"{}")}

    def answer(self, record: dict[str, Any]) -> Answer:
        if record["authorization"] != f"Bearer {self.token}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AbC"}}, {}
        if self.responder is not None:
            return self.responder(record)
        body = record["body"]
        if body.get("messaging_product") != "whatsapp" or "to" not in body:
            return 400, {"error": {"message": "(#100) Invalid parameter", "type": "OAuthException", "code": 100,
                                   "fbtrace_id": "AbC"}}, {}
        wamid = f"wamid.{uuid.uuid4().hex}"
        return 200, {"messaging_product": "whatsapp", "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                     "messages": [{"id": wamid}]}, {}


def status_for(record: dict[str, Any], wamid: str, status: str = "sent") -> dict[str, Any]:
    """The status webhook Meta sends about the send in `record` (accepted as `wamid`), echoing its
    `biz_opaque_callback_data` as the Cloud API does."""
    from tests.fakes.whatsapp import status_delivery

    body = record["body"]
    return status_delivery(wamid, status, recipient=str(body.get("to")), phone_number_id=str(record["phone_number_id"]),
                           callback_data=body.get("biz_opaque_callback_data"))
