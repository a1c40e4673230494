"""Provider faults against the real stack (gunicorn + two Celery workers, PostgreSQL, Redis, a local Graph API).

Each scenario ends with a ledger: messages requested, delivered (accepted by the provider), failed, duplicated
(accepted more than once: must be zero) and still queued, and the provider's calls by outcome.
"""

from __future__ import annotations

import re
import signal
import time
from collections.abc import Callable

import pytest

from models.providers import breaker
from tests.faults.conftest import OPEN_SECONDS, Agent, Ledger, Stack, outbound, settled
from tests.harness.processes import wait_until
from tests.harness.providers import FlakyGraph

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(90)]


def transitions(logs: str, channel_id: int) -> list[str]:
    """The breaker's transitions logged by all workers, in the order they happened (each line carries its time)."""
    found = re.findall(rf"circuit whatsapp/{channel_id}: (\w+ -> \w+) at ([\d.]+)", logs)
    return [move for move, _at in sorted(found, key=lambda f: float(f[1]))]


def test_an_outage_opens_the_breaker_for_the_fleet_and_every_message_goes_out_once(
        start_stack: Callable[..., Stack], provider: FlakyGraph) -> None:
    stack = start_stack()
    agent = Agent(stack)
    started = time.monotonic()
    provider.mode = "error"
    bodies = [f"outage-{i}" for i in range(8)]
    for body in bodies:
        agent.reply(body)
    intake = [agent.customer_writes(f"still there? {i}") for i in range(3)]
    wait_until(lambda: stack.circuit() == "open", timeout=20, what="the breaker to open")
    time.sleep(0.3)  # a call already in flight when it opened still lands
    errors_when_open = provider.count("error")
    intake += [agent.customer_writes(f"hello during the outage {i}") for i in range(5)]
    time.sleep(1)
    assert provider.count("error") == errors_when_open  # open for every worker: nobody calls the provider

    provider.mode = "ok"  # the provider recovers
    wait_until(lambda: settled(stack.sessions, bodies), timeout=30, what="every message sent")
    assert stack.circuit() == "closed"
    intake += [agent.customer_writes("thanks")]

    ledger = Ledger.take("provider answers 500, then recovers", bodies, provider, stack.sessions)
    ledger.show()
    moves = transitions(stack.logs(), stack.channel_id)
    print(f"[breaker] transitions: {moves}; failed calls before it opened: {errors_when_open} "
          f"(threshold {breaker.FAILURE_THRESHOLD}, 2 workers); webhook answers: {intake}; "
          f"took {time.monotonic() - started:.1f}s")
    ledger.assert_exactly_once()
    # Shared state: the threshold counts the fleet's failures (one more call may have been in flight).
    assert breaker.FAILURE_THRESHOLD <= errors_when_open <= breaker.FAILURE_THRESHOLD + 1
    assert moves[:1] == ["closed -> open"] and moves[-2:] == ["open -> half_open", "half_open -> closed"]
    assert intake == [200] * len(intake)
    assert all(m.attempts >= 1 for m in outbound(stack.sessions).values())


def test_a_hung_provider_does_not_hold_the_workers(start_stack: Callable[..., Stack], provider: FlakyGraph) -> None:
    stack = start_stack()
    agent = Agent(stack)
    provider.mode = "hang"  # accepts connections, never answers
    hung_at = time.monotonic()
    bodies = [f"hang-{i}" for i in range(3)]
    for body in bodies:
        agent.reply(body)
    # 5 timed-out calls on 2 workers: only possible if each call gives up after its 1 s read timeout.
    wait_until(lambda: stack.circuit() == "open", timeout=15, what="the breaker to open on timeouts")
    open_after = time.monotonic() - hung_at

    provider.mode = "ok"  # back; the hung calls are still held open on the provider's side
    back_at = time.monotonic()
    later = "after-the-hang"
    agent.reply(later)
    wait_until(lambda: settled(stack.sessions, [*bodies, later]), timeout=30, what="every message sent")
    later_after = provider.accepted_at(later)
    assert later_after is not None

    ledger = Ledger.take("provider hangs past the read timeout, then recovers", [*bodies, later], provider,
                         stack.sessions)
    ledger.show()
    print(f"[timing] breaker opened {open_after:.1f}s into the hang; the later message went out "
          f"{later_after - back_at:.1f}s after the provider was back (open period {OPEN_SECONDS}s)")
    ledger.assert_exactly_once()
    assert open_after < 10
    assert later_after - back_at < OPEN_SECONDS + 8


def test_a_worker_killed_mid_send_is_covered_by_redelivery_once(start_stack: Callable[..., Stack],
                                                                provider: FlakyGraph) -> None:
    # Redis gives an unacknowledged task back after the visibility timeout: 3 s here instead of an hour.
    # An interrupted send waits for the provider's callback before re-sending: none comes here (the provider
    # took nothing), so it is re-sent after SEND_CALLBACK_WAIT.
    stack = start_stack(CELERY_VISIBILITY_TIMEOUT="3", SEND_CALLBACK_WAIT="5")
    agent = Agent(stack)
    provider.mode = "hold"
    body = "killed-mid-call"
    message_id = agent.reply(body)
    assert provider.held.wait(15), "the send never reached the provider"
    holders = [w for w in stack.workers if "Task outbound.send_message[" in w.log.read_text(errors="replace")]
    assert len(holders) == 1, [w.name for w in holders]
    victim = holders[0]
    survivor = next(w for w in stack.workers if w is not victim)
    killed_at = time.monotonic()
    victim.stop(signal.SIGKILL)  # the worker and its pool process, while the provider holds the call
    provider.caller_dead = True
    provider.release()  # the provider answers a dead caller: it accepted nothing

    after = ["after-the-kill-1", "after-the-kill-2"]
    for b in after:
        agent.reply(b)
    wait_until(lambda: settled(stack.sessions, [body, *after]), timeout=40, what="redelivery and sends")
    redelivered_in = provider.accepted_at(body)
    assert redelivered_in is not None

    ledger = Ledger.take("worker SIGKILLed during the provider call", [body, *after], provider, stack.sessions)
    ledger.show()
    message = outbound(stack.sessions)[body]
    print(f"[redelivery] killed {victim.name}; {survivor.name} sent it {redelivered_in - killed_at:.1f}s later; "
          f"attempts={message.attempts} delivery={message.payload.get('delivery')}")
    ledger.assert_exactly_once()
    assert provider.count("abandoned") == 1
    assert (message.id, message.attempts, message.payload["delivery"]) == (message_id, 2, {"interrupted": 1})
    assert "was interrupted" in survivor.log.read_text(errors="replace")
