"""A worker SIGKILLed after the provider took a send, for each provider: the provider's callback, which echoes
our reference, settles the message; nothing is sent twice and nothing is lost.

Real processes (gunicorn API, two Celery workers, PostgreSQL, Redis); the providers are the local fakes, which
post their status callbacks to the API as the real ones do (tests/faults/crashing.py).
"""

from __future__ import annotations

import signal
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from models import Channel, Ticket
from models.org import ChannelKind
from models.tickets import DeliveryStatus
from tests.conftest import PUBLIC_BASE_URL
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.faults.conftest import Ledger, Stack, outbound, settled
from tests.faults.crashing import EVENTS_SECRET, CrashingProviders
from tests.harness.agents import login
from tests.harness.processes import wait_until

CALLBACK_WAIT = 15  # SEND_CALLBACK_WAIT for these runs: longer than the callback takes, bounded


@pytest.fixture
def provider() -> Iterator[CrashingProviders]:  # replaces the fault suite's Graph API for these tests
    providers = CrashingProviders()
    yield providers
    providers.close()


def customer_writes(base: str, kind: ChannelKind) -> int:
    """The customer's first message on the channel of `kind`, as its provider delivers it."""
    if kind == ChannelKind.WHATSAPP:
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", body="Oi"))
        return requests.post(f"{base}/webhooks/whatsapp", data=raw, timeout=5, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code
    if kind == ChannelKind.SMS:
        form = tw.inbound_form(body="Oi")
        headers = tw.signed_headers(f"{PUBLIC_BASE_URL}/webhooks/twilio/sms", form)
        return requests.post(f"{base}/webhooks/twilio/sms", data=form, timeout=5, headers={
            k: v for k, v in headers.items() if k != "Content-Type"}).status_code
    fields = sg.inbound_parse_fields(text="Oi")
    return requests.post(f"{base}/webhooks/sendgrid/inbound/{EVENTS_SECRET}", timeout=5,
                         files={k: (None, v) for k, v in fields.items()}).status_code


@pytest.mark.parametrize("kind", [ChannelKind.WHATSAPP, ChannelKind.SMS, ChannelKind.EMAIL], ids=lambda k: k.value)
def test_a_worker_killed_after_the_provider_took_the_send_sends_it_once(
        start_stack: Callable[..., Stack], provider: CrashingProviders, kind: ChannelKind,
        tenants: dict[str, Any]) -> None:
    stack = start_stack(CELERY_VISIBILITY_TIMEOUT="3", SEND_CALLBACK_WAIT=str(CALLBACK_WAIT),
                        PUBLIC_BASE_URL=PUBLIC_BASE_URL, **provider.env())
    provider.base = stack.base
    auth = {"Authorization": f"Bearer {login(stack.base, 'acme', 'ana@acme.example', 'pw-ana')}"}
    assert customer_writes(stack.base, kind) == 200

    def assigned() -> int | None:
        with stack.sessions() as s:
            return s.scalar(select(Ticket.id).join(Channel, Channel.id == Ticket.channel_id)
                            .where(Channel.kind == kind, Ticket.agent_id.is_not(None)))
    ticket_id = wait_until(assigned, timeout=20, what=f"the {kind.value} ticket assigned to ana")

    def reply(body: str) -> int:
        resp = requests.post(f"{stack.base}/api/tickets/{ticket_id}/messages", json={"body": body}, headers=auth,
                             timeout=5)
        assert resp.status_code == 202, resp.text
        return int(resp.json()["id"])

    body = f"taken-then-killed-{kind.value}"
    message_id = reply(body)
    assert provider.held.wait(15), "the send never reached the provider"
    holders = [w for w in stack.workers if "Task outbound.send_message[" in w.log.read_text(errors="replace")]
    assert len(holders) == 1, [w.name for w in holders]
    victim = holders[0]
    survivor = next(w for w in stack.workers if w is not victim)
    killed_at = time.monotonic()
    victim.stop(signal.SIGKILL)  # the provider has the message; the worker dies before recording it
    provider.release()

    after = [f"after-the-kill-{kind.value}-1", f"after-the-kill-{kind.value}-2"]
    for b in after:
        reply(b)
    wait_until(lambda: settled(stack.sessions, [body, *after]), timeout=60, what="the callback and the sends")
    settled_in = time.monotonic() - killed_at
    messages = outbound(stack.sessions)
    ledger = Ledger(f"{kind.value}: worker SIGKILLed after the provider took the send", 3,
                    delivered=sum(1 for b in [body, *after] if provider.accepted[b] >= 1),
                    failed=sum(1 for b in [body, *after] if messages[b].status == DeliveryStatus.FAILED),
                    duplicated=sum(1 for b in [body, *after] if provider.accepted[b] > 1),
                    still_queued=sum(1 for b in [body, *after] if messages[b].status == DeliveryStatus.QUEUED),
                    provider_calls={"accepted": sum(provider.accepted.values())})
    ledger.show()
    message = messages[body]
    print(f"[crash] {kind.value}: killed {victim.name}; settled {settled_in:.1f}s later by the callback; "
          f"attempts={message.attempts} delivery={message.payload.get('delivery')}")
    ledger.assert_exactly_once()
    assert message.id == message_id and message.provider_message_id == provider.provider_ids[body][0]
    assert message.payload["delivery"] == {"settled_by_callback": True}
    # The dead worker's task comes back (visibility timeout), finds the message settled, and sends nothing.
    wait_until(lambda: "succeeded" in survivor.log.read_text(errors="replace").split(
        "outbound.send_message[")[-1] and "'skipped'" in survivor.log.read_text(errors="replace"),
        timeout=CALLBACK_WAIT + 20, what="the redelivered send skipped")
    assert provider.accepted[body] == 1
