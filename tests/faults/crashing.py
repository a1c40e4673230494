"""Local providers that take a send, report it back, and only then answer: the worker can be killed in between.

Each of the three fakes (Graph API, Twilio, SendGrid) is given a responder that accepts the send as the real
provider would, posts the status callback the real provider sends for it (echoing our reference: WhatsApp's
`biz_opaque_callback_data`, Twilio's StatusCallback URL, SendGrid's `custom_args`) to the API under test, and holds
the first call's answer until `release()`: the provider has the message, the worker that asked never hears so.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests

from tests.conftest import EVENT_SIGNER
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.graph import GraphServer, status_for
from tests.fakes.sendgrid import SendGridServer
from tests.fakes.twilio import TwilioServer
from tests.fakes.whatsapp import encode, sign

HOLD_LIMIT = 45.0
EVENTS_SECRET = "parse-secret-acme"  # acme's email channel: its Event Webhook URL secret
Answer = tuple[int, dict[str, Any] | None, dict[str, str]]


@dataclass
class CrashingProviders:
    graph: GraphServer = field(default_factory=GraphServer)
    twilio: TwilioServer = field(default_factory=TwilioServer)
    sendgrid: SendGridServer = field(default_factory=SendGridServer)
    base: str = ""  # the API under test, where callbacks go (set once the stack is up)
    held: threading.Event = field(default_factory=threading.Event)
    accepted: Counter[str] = field(default_factory=Counter)  # message text -> times the provider took it
    provider_ids: dict[str, list[str]] = field(default_factory=dict)
    callbacks: list[int] = field(default_factory=list)  # HTTP status of each callback we posted
    _holding: bool = True
    _release: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.graph.responder = self._graph
        self.twilio.responder = self._twilio
        self.sendgrid.responder = self._sendgrid

    @property
    def url(self) -> str:  # what the fault stack gives WHATSAPP_GRAPH_BASE_URL
        return self.graph.url

    def env(self) -> dict[str, str]:
        return {"TWILIO_API_BASE_URL": self.twilio.url, "SENDGRID_API_BASE_URL": self.sendgrid.url}

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self.release()
        for server in (self.graph, self.twilio, self.sendgrid):
            server.close()

    # -- the three providers ---------------------------------------------------------------------------------
    def _graph(self, record: dict[str, Any]) -> Answer:
        wamid = f"wamid.{uuid.uuid4().hex}"
        raw = encode(status_for(record, wamid, "sent"))
        self._took(str(record["body"].get("text", {}).get("body", "")), wamid, lambda: requests.post(
            f"{self.base}/webhooks/whatsapp", data=raw, timeout=10,
            headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}))
        return self._answer(200, {"messaging_product": "whatsapp", "contacts": [{"input": record["body"]["to"]}],
                                  "messages": [{"id": wamid}]}, {})

    def _twilio(self, record: dict[str, Any]) -> Answer:
        doc = self.twilio.message(record["form"])
        url, form = tw.status_callback_for(record, doc["sid"], "sent")
        parts = urlsplit(url)  # Twilio calls our public URL: here the API itself, signed as the public one
        self._took(record["form"].get("Body", ""), doc["sid"], lambda: requests.post(
            f"{self.base}{parts.path}?{parts.query}", data=form, timeout=10,
            headers={k: v for k, v in tw.signed_headers(url, form).items() if k != "Content-Type"}))
        return self._answer(201, doc, {})

    def _sendgrid(self, record: dict[str, Any]) -> Answer:
        record["message_id"] = sg.new_message_id()
        raw = json.dumps(sg.events_for(record, "processed")).encode()
        body = str(((record["body"] or {}).get("content") or [{}])[0].get("value", ""))
        self._took(body, record["message_id"], lambda: requests.post(
            f"{self.base}/webhooks/sendgrid/events/{EVENTS_SECRET}", data=raw, timeout=10,
            headers=EVENT_SIGNER.sign(raw, str(int(time.time())))))
        return self._answer(202, None, {"X-Message-Id": record["message_id"]})

    # -- common -----------------------------------------------------------------------------------------------
    def _took(self, body: str, provider_id: str, callback: Any) -> None:
        with self._lock:
            self.accepted[body] += 1
            self.provider_ids.setdefault(body, []).append(provider_id)

        def report() -> None:  # the provider's callback, a moment after it took the message
            time.sleep(0.2)
            self.callbacks.append(callback().status_code)

        threading.Thread(target=report, daemon=True).start()

    def _answer(self, status: int, doc: dict[str, Any] | None, headers: dict[str, str]) -> Answer:
        with self._lock:
            hold, self._holding = self._holding, False
        if hold:  # the first send: the provider has it, its caller is killed before hearing so
            self.held.set()
            self._release.wait(HOLD_LIMIT)
        return status, doc, headers
