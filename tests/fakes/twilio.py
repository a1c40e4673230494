"""A local server playing Twilio's Messages API, and webhook forms shaped and signed as Twilio sends them.

The signing here is written independently of models.providers.twilio so the tests check the adapter against the
documented algorithm, not against itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any, ClassVar
from urllib.parse import parse_qsl

from tests.fakes.http import Answer, FakeProvider

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "example-twilio-auth-token"
OUR_NUMBER = "+15005550006"
CUSTOMER = "+5511987654321"
MESSAGING_SERVICE_SID = "MG" + "fedcba9876543210" * 2



def new_sid(prefix: str = "SM") -> str:
    """A Twilio-shaped sid: two-letter prefix + 32 hex digits (34 characters)."""
    return prefix + uuid.uuid4().hex


def twilio_error(status: int, code: int, message: str) -> dict[str, Any]:
    return {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status}


@dataclass
class TwilioServer(FakeProvider):
    """Answers `POST /2010-04-01/Accounts/{sid}/Messages.json` like Twilio: 201 with the message, or an error."""

    account_sid: str = ACCOUNT_SID
    auth_token: str = AUTH_TOKEN
    accepted: ClassVar[int] = 201

    def parse(self, path: str, headers: Any, raw: bytes) -> dict[str, Any]:
        parts = path.strip("/").split("/")
        return {"path": path, "account_sid": parts[2] if len(parts) == 4 else None,
                "auth": _basic(headers.get("Authorization")), "content_type": headers.get("Content-Type"),
                "form": dict(parse_qsl(raw.decode(), keep_blank_values=True)),
                "pairs": parse_qsl(raw.decode(), keep_blank_values=True)}  # MediaUrl repeats

    # media path -> (bytes, MIME type): what customers sent by MMS (`add_media`)
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)

    def add_media(self, data: bytes, mime_type: str, message_sid: str | None = None) -> str:
        """An MMS media item: its MediaUrl, under the account's Messages resource as Twilio names it."""
        path = (f"/2010-04-01/Accounts/{self.account_sid}/Messages/{message_sid or new_sid('MM')}/Media/"
                f"{new_sid('ME')}")
        self.media[path] = (data, mime_type)
        return f"{self.url}{path}"

    def answer_get(self, path: str, headers: Any) -> Answer:
        """`GET /2010-04-01/Accounts/{sid}.json`: the account, for its own basic auth.
        `GET .../Messages/{sid}/Media/{sid}`: the media's bytes (media authentication on: basic auth needed)."""
        if _basic(headers.get("Authorization")) != (self.account_sid, self.auth_token):
            return 401, twilio_error(401, 20003, "Authenticate"), {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        if "/Media/" in path:
            item = self.media.get(path)
            if item is None:
                return 404, twilio_error(404, 20404, f"The requested resource {path} was not found"), {}
            return 200, item[0], {"Content-Type": item[1]}
        if path != f"/2010-04-01/Accounts/{self.account_sid}.json":
            return 404, twilio_error(404, 20404, f"The requested resource {path} was not found"), {}
        return 200, {"sid": self.account_sid, "friendly_name": "Acme", "status": "active", "type": "Full",
                     "auth_token": self.auth_token, "date_created": formatdate(usegmt=True),
                     "uri": f"/2010-04-01/Accounts/{self.account_sid}.json"}, {}

    def answer(self, record: dict[str, Any]) -> Answer:
        if record["auth"] != (self.account_sid, self.auth_token):
            return 401, twilio_error(401, 20003, "Authenticate"), {"WWW-Authenticate": 'Basic realm="Twilio API"'}
        if record["account_sid"] != self.account_sid or not record["path"].endswith("/Messages.json"):
            return 404, twilio_error(404, 20404, f"The requested resource {record['path']} was not found"), {}
        if self.responder is not None:
            return self.responder(record)
        form = record["form"]
        if not form.get("To"):
            return 400, twilio_error(400, 21604, "A 'To' phone number is required."), {}
        if not form["To"].startswith("+") or not form["To"][1:].isdigit():
            return 400, twilio_error(400, 21211, f"Invalid 'To' Phone Number: {form['To']}"), {}
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 400, twilio_error(400, 21603, "A 'From' phone number is required."), {}
        if not form.get("Body") and not form.get("MediaUrl"):
            return 400, twilio_error(400, 21602, "Message body is required."), {}
        return 201, self.message(form), {}

    def message(self, form: Mapping[str, str]) -> dict[str, Any]:
        sid = new_sid()
        now = formatdate(usegmt=True)
        return {
            "account_sid": self.account_sid, "api_version": "2010-04-01", "body": form.get("Body", ""),
            "date_created": now, "date_sent": None, "date_updated": now, "direction": "outbound-api",
            "error_code": None, "error_message": None, "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"), "num_media": "0", "num_segments": "1",
            "price": None, "price_unit": "USD", "sid": sid, "status": "queued", "to": form["To"],
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
        }


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    return user, password


def inbound_form(message_sid: str | None = None, *, from_: str = CUSTOMER, to: str = OUR_NUMBER,
                 body: str = "Olá, preciso de ajuda", media: Sequence[tuple[str, str]] = (),
                 messaging_service_sid: str | None = None, num_segments: int = 1) -> dict[str, str]:
    """An inbound SMS/MMS webhook form as Twilio posts it; `media` is (url, content type) pairs."""
    sid = message_sid or new_sid("MM" if media else "SM")
    form = {
        "ToCountry": "US", "ToState": "CA", "SmsMessageSid": sid, "NumMedia": str(len(media)), "ToCity": "",
        "FromZip": "", "SmsSid": sid, "FromState": "SP", "SmsStatus": "received", "FromCity": "SAO PAULO",
        "Body": body, "FromCountry": "BR", "To": to, "ToZip": "", "NumSegments": str(num_segments),
        "MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": from_, "ApiVersion": "2010-04-01",
    }
    if messaging_service_sid:
        form["MessagingServiceSid"] = messaging_service_sid
    for i, (url, content_type) in enumerate(media):
        form[f"MediaUrl{i}"] = url
        form[f"MediaContentType{i}"] = content_type
    return form


def status_form(message_sid: str, status: str, *, to: str = CUSTOMER, from_: str = OUR_NUMBER,
                error_code: str | None = None, messaging_service_sid: str | None = None) -> dict[str, str]:
    """A status callback form for one of our outbound messages."""
    form = {"SmsSid": message_sid, "SmsStatus": status, "MessageStatus": status, "To": to, "From": from_,
            "MessageSid": message_sid, "AccountSid": ACCOUNT_SID, "ApiVersion": "2010-04-01"}
    if error_code:
        form["ErrorCode"] = error_code
    if messaging_service_sid:
        form["MessagingServiceSid"] = messaging_service_sid
    return form


def signature(url: str, form: Mapping[str, str] | Sequence[tuple[str, str]], token: str = AUTH_TOKEN,
              digest: Any = hashlib.sha1) -> str:
    pairs = sorted(form.items() if isinstance(form, Mapping) else form)
    data = (url + "".join(k + v for k, v in pairs)).encode()
    return base64.b64encode(hmac.new(token.encode(), data, digest).digest()).decode()


def signed_headers(url: str, form: Mapping[str, str] | Sequence[tuple[str, str]],
                   token: str = AUTH_TOKEN, shared_key: tuple[str, str] | None = None) -> dict[str, str]:
    """The headers Twilio sends with a webhook POST of `form` to `url` (the full public URL, query included).

    `shared_key` = (key sid, secret): signed as a Webhooks rule does, HMAC-SHA256 with that key, announced in
    `X-Twilio-Webhooks-Signature-Settings`.
    """
    headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1"}
    if shared_key is None:
        return {"X-Twilio-Signature": signature(url, form, token), **headers}
    key_sid, secret = shared_key
    return {"X-Twilio-Signature": signature(url, form, secret, hashlib.sha256),
            "X-Twilio-Webhooks-Signature-Settings": f"key={key_sid},algorithm=HMAC_SHA256", **headers}


def status_callback_for(record: dict[str, Any], sid: str, status: str = "sent") -> tuple[str, dict[str, str]]:
    """The status callback Twilio posts about the send in `record` (accepted as `sid`): to the `StatusCallback`
    URL the send named (query included, so our reference comes back), form fields as Twilio sends them."""
    form = record["form"]
    return form["StatusCallback"], status_form(sid, status, to=form["To"], from_=form.get("From", OUR_NUMBER),
                                               messaging_service_sid=form.get("MessagingServiceSid"))
