"""A local HTTP server that plays the WhatsApp Cloud API (Graph API) send endpoint and records every call."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from tests.fakes.http import FakeProvider


@dataclass
class GraphServer(FakeProvider):
    """Answers `POST /{version}/{phone_number_id}/messages` like Meta: 200 with a wamid, or an error object."""

    token: str = "example-graph-token"
    phone_number_id: str = "106540352242922"

    def answer_get(self, path: str, headers: Any) -> tuple[int, dict[str, Any], dict[str, str]]:
        """`GET /{version}/{phone-number-id}`: the number's profile, for a token that may use it."""
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"error": {"message": "Invalid OAuth access token.", "type": "OAuthException", "code": 190,
                                   "fbtrace_id": "AbC"}}, {}
        parts = path.split("?", 1)[0].strip("/").split("/")
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

    def answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any], dict[str, str]]:
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
