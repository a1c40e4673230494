"""Outgoing webhooks against a receiver that fails for a while, and one killed in the middle of a request, on the
real stack (gunicorn API, two Celery workers and beat, PostgreSQL, Redis). The ledger: every event answered by
the receiver, a duplicate only ever with the same event id, and each ticket's events in the order they happened.
"""

from __future__ import annotations

import json
import sys
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import select

from models import WebhookDelivery
from models.webhooks import DeliveryState
from tests.fakes.whatsapp import encode, sign, text_delivery
from tests.faults.conftest import Stack
from tests.harness.agents import login
from tests.harness.processes import Proc, child_env, free_port, wait_until
from tests.harness.stack import beat_argv

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(150)]
CUSTOMERS = ("5511900001111", "5511900002222")


class Receiver:
    """The receiver process; `restart` brings it back on the same port with the same ledger file."""

    def __init__(self, logdir: Path, *flags: str) -> None:
        self.port, self.logdir, self.ledger = free_port(), logdir, logdir / "receiver.jsonl"
        self.proc = self._start(flags)

    def _start(self, flags: tuple[str, ...]) -> Proc:
        proc = Proc(f"receiver-{uuid.uuid4().hex[:4]}", [sys.executable, "-m", "tests.fakes.receiver_proc",
                                                         str(self.port), str(self.ledger), *flags],
                    child_env(), self.logdir)
        wait_until(lambda: "receiver ready" in proc.log.read_text(errors="replace"), timeout=10,
                   what="the receiver")
        return proc

    def restart(self) -> None:
        self.proc = self._start(())

    def stop(self) -> None:
        self.proc.stop()

    def records(self, what: str | None = None) -> list[dict[str, Any]]:
        if not self.ledger.exists():
            return []
        lines = [json.loads(line) for line in self.ledger.read_text().splitlines() if line.strip()]
        return [r for r in lines if what is None or r["what"] == what]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/atendimento"


@pytest.fixture
def receivers(tmp_path: Path) -> Iterator[Callable[..., Receiver]]:
    made: list[Receiver] = []

    def make(*flags: str) -> Receiver:
        made.append(Receiver(tmp_path, *flags))
        return made[-1]

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture
def webhook_stack(start_stack: Callable[..., Stack], tmp_path: Path) -> Iterator[Stack]:
    stack = start_stack(WEBHOOKS_ALLOW_PRIVATE="1", WEBHOOK_CACHE_SECONDS="0", WEBHOOK_TIMEOUT="3")
    env = dict(stack.api.env)
    beat = Proc("beat", beat_argv(tmp_path / "celerybeat-schedule"), env, tmp_path)  # the retry sweep
    try:
        yield stack
    finally:
        beat.stop()


def _subscribe(stack: Stack, url: str) -> None:
    token = login(stack.base, "acme", "carla@acme.example", "pw-carla", online=False)
    resp = requests.post(f"{stack.base}/api/admin/webhooks", json={"url": url, "events": ["message.created"]},
                         headers={"Authorization": f"Bearer {token}"}, timeout=5)
    assert resp.status_code == 201, resp.text


def _customers_write(stack: Stack, count: int) -> None:
    for i in range(count):
        raw = encode(text_delivery(f"wamid.{uuid.uuid4().hex}", sender=CUSTOMERS[i % 2], body=f"mensagem {i}"))
        assert requests.post(f"{stack.base}/webhooks/whatsapp", data=raw, timeout=5, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw)}).status_code == 200


def _deliveries(stack: Stack) -> list[WebhookDelivery]:
    with stack.sessions() as s:
        return list(s.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))


def _ledger(stack: Stack, receiver: Receiver, title: str) -> None:
    rows = _deliveries(stack)
    answered = receiver.records("answered")
    received = Counter(r["id"] for r in receiver.records("received"))
    first_answer: dict[str, float] = {}
    for r in answered:
        first_answer.setdefault(r["id"], r["at"])
    expected = [r.event_id for r in rows]
    print(f"[ledger] {title}: events {len(expected)}, answered {len(set(first_answer))}, "
          f"calls {sum(received.values())}, repeated ids {sum(n - 1 for n in received.values())}, "
          f"dead {sum(r.state == DeliveryState.DEAD for r in rows)}")
    assert set(first_answer) == set(expected)  # every event reached the receiver: nothing lost
    assert set(received) == set(expected)  # a repeat is always an event we know, with its own id
    by_ticket: dict[str, list[WebhookDelivery]] = defaultdict(list)
    for row in rows:
        by_ticket[row.order_key].append(row)
    for key, line in by_ticket.items():  # each ticket's events answered in the order they happened
        assert sorted(line, key=lambda r: first_answer[r.event_id]) == line, key


def _all_delivered(stack: Stack, count: int) -> bool:
    rows = _deliveries(stack)
    return len(rows) >= count and all(r.state == DeliveryState.DELIVERED for r in rows)


def test_a_receiver_killed_mid_request_loses_nothing(webhook_stack: Stack,
                                                      receivers: Callable[..., Receiver]) -> None:
    receiver = receivers("--hold-first", "1")
    _subscribe(webhook_stack, receiver.url)
    _customers_write(webhook_stack, 6)
    wait_until(lambda: receiver.records("received"), timeout=30, what="the first delivery to reach the receiver")
    receiver.proc.kill()  # dies holding the request
    _customers_write(webhook_stack, 2)  # events keep coming while it is down
    receiver.restart()
    wait_until(lambda: _all_delivered(webhook_stack, 8), timeout=100, interval=0.5, what="every event delivered")
    _ledger(webhook_stack, receiver, "receiver killed mid-request")


def test_a_receiver_failing_for_a_while_gets_everything_in_order(webhook_stack: Stack,
                                                                receivers: Callable[..., Receiver]) -> None:
    receiver = receivers("--fail-for", "12")
    _subscribe(webhook_stack, receiver.url)
    _customers_write(webhook_stack, 6)
    wait_until(lambda: _all_delivered(webhook_stack, 6), timeout=110, interval=0.5, what="every event delivered")
    assert receiver.records("failed")  # it really failed first
    _ledger(webhook_stack, receiver, "receiver answering 500 for 12 s")
