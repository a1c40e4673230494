"""A local server playing SendGrid's v3 Mail Send, Inbound Parse posts, and an Event Webhook signer."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.fakes.http import FakeProvider

API_KEY = "SG.example-key.example-secret"
SUPPORT = "support@acme.example"
CUSTOMER = "maria@example.com"
SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"



def sendgrid_error(message: str, field_name: str | None = None) -> dict[str, Any]:
    return {"errors": [{"message": message, "field": field_name, "help": None}]}


def new_message_id() -> str:
    """Shaped like SendGrid's X-Message-Id: 22 URL-safe characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("=")


@dataclass
class SendGridServer(FakeProvider):
    """Answers `POST /v3/mail/send` like SendGrid: 202, empty body, `X-Message-Id`; or `{"errors": [...]}`."""

    api_key: str = API_KEY
    accepted: ClassVar[int] = 202
    scopes: tuple[str, ...] = ("mail.send", "user.profile.read")

    def answer_get(self, path: str, headers: Any) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        """`GET /v3/scopes`: what the API key may do."""
        if headers.get("Authorization") != f"Bearer {self.api_key}":
            return 401, sendgrid_error("authorization required"), {}
        if path != "/v3/scopes":
            return 404, sendgrid_error("resource not found"), {}
        return 200, {"scopes": list(self.scopes)}, {}

    def parse(self, path: str, headers: Any, raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            body = None
        return {"path": path, "authorization": headers.get("Authorization"),
                "content_type": headers.get("Content-Type"), "body": body}

    def answer(self, record: dict[str, Any]) -> tuple[int, dict[str, Any] | None, dict[str, str]]:
        if record["authorization"] != f"Bearer {self.api_key}":
            return 401, sendgrid_error("The provided authorization grant is invalid, expired, or revoked"), {}
        if record["path"] != "/v3/mail/send":
            return 404, sendgrid_error("resource not found"), {}
        if self.responder is not None:
            return self.responder(record)
        body = record["body"]
        if not isinstance(body, dict):
            return 400, sendgrid_error("Bad Request", None), {}
        personalizations = body.get("personalizations")
        if not isinstance(personalizations, list) or not personalizations or not all(
                isinstance(p, dict) and p.get("to") for p in personalizations):
            return 400, sendgrid_error("The personalizations field is required and must have at least one "
                                       "personalization.", "personalizations"), {}
        if not (body.get("from") or {}).get("email"):
            return 400, sendgrid_error("The from object must be provided for every email send.", "from"), {}
        if not body.get("subject"):
            return 400, sendgrid_error("The subject is required.", "subject"), {}
        if not body.get("content"):
            return 400, sendgrid_error("Unless a valid template_id is provided, the content parameter is required.",
                                       "content"), {}
        record["message_id"] = new_message_id()  # what the sender will know the mail by
        return 202, None, {"X-Message-Id": record["message_id"]}


def inbound_parse_fields(*, from_: str = f"Maria Silva <{CUSTOMER}>", to: str = f"Acme Support <{SUPPORT}>",
                         subject: str = "Pedido 123", text: str = "Olá, preciso de ajuda\n",
                         html: str = "<p>Olá, preciso de ajuda</p>", message_id: str | None = None,
                         in_reply_to: str | None = None, references: Sequence[str] = (),
                         envelope_to: Sequence[str] | None = None,
                         attachments: Sequence[tuple[str, ...]] = ()) -> dict[str, str]:
    """The text fields of an Inbound Parse post (files are not included: `attachments` only describes them).

    `message_id` defaults to a fresh id; pass "" for an email without a Message-ID header. Ids are given bare
    and written bracketed; References is folded over lines as mail servers do.
    """
    msg_id = f"{uuid.uuid4().hex}@mail.example.com" if message_id is None else message_id
    lines = [
        "Received: by mx0047p1mdw1.sendgrid.net with SMTP id 6WCVv7KAWn Wed, 27 Jul 2016 20:53:06 +0000 (UTC)",
        f"From: {from_}", f"To: {to}", f"Subject: {subject}", f"Date: {formatdate(usegmt=True)}",
        "MIME-Version: 1.0", 'Content-Type: multipart/alternative; boundary="001a113df448cad2d00538a6a7a4"',
    ]
    if msg_id:
        lines.append(f"Message-ID: <{msg_id}>")
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + "\n\t".join(f"<{r}>" for r in references))
    envelope = {"to": list(envelope_to) if envelope_to is not None else [SUPPORT], "from": CUSTOMER}
    # (filename, type[, content-id]): an inline image carries the Content-ID its HTML refers to as cid:...
    info = {f"attachment{i}": {"filename": a[0], "name": a[0], "type": a[1], **({"content-id": a[2]} if a[2:] else {})}
            for i, a in enumerate(attachments, start=1)}
    fields = {
        "headers": "\n".join(lines) + "\n", "dkim": "{@example.com : pass}", "to": to, "from": from_,
        "subject": subject, "text": text, "html": html, "sender_ip": "209.85.223.169",
        "envelope": json.dumps(envelope), "charsets": json.dumps({"to": "UTF-8", "html": "UTF-8", "subject": "UTF-8",
                                                                 "from": "UTF-8", "text": "UTF-8"}),
        "SPF": "pass", "spam_score": "0.1", "attachments": str(len(attachments)),
    }
    if attachments:
        fields["attachment-info"] = json.dumps(info)
    return fields


def event_item(sg_message_id: str, event: str, **extra: Any) -> dict[str, Any]:
    """One Event Webhook item; `sg_message_id` gets the `.filter...` suffix SendGrid appends."""
    item = {"email": CUSTOMER, "timestamp": int(time.time()), "event": event,
            "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
            "sg_message_id": f"{sg_message_id}.filterdrecv-p3mdw1-756b745b58-kmzbl-18-5F5FC76C-9.0",
            "smtp-id": f"<{sg_message_id}@ismtpd0001p1lon1.sendgrid.net>"}
    item.update(extra)
    return item


class EventSigner:
    """A P-256 key pair standing in for the account's Event Webhook signing key."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        der = self._key.public_key().public_bytes(serialization.Encoding.DER,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)
        self.public_key_b64 = base64.b64encode(der).decode()

    @staticmethod
    def p384_public_key_b64() -> str:
        """A well-formed EC public key on the wrong curve (P-384), which SendGrid never issues."""
        der = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def sign(self, raw_body: bytes, timestamp: str) -> dict[str, str]:
        """The headers SendGrid sends with `raw_body`: base64 DER ECDSA over timestamp + body."""
        signature = self._key.sign(timestamp.encode() + raw_body, ec.ECDSA(hashes.SHA256()))
        return {SIGNATURE_HEADER: base64.b64encode(signature).decode(), TIMESTAMP_HEADER: timestamp,
                "Content-Type": "application/json"}


def events_for(record: dict[str, Any], event: str = "processed") -> list[dict[str, Any]]:
    """The Event Webhook items SendGrid posts about the send in `record`: each carries the send's `custom_args`
    as top-level fields, as SendGrid documents."""
    custom = (record["body"] or {}).get("custom_args") or {}
    return [event_item(record["message_id"], event, **custom)]
