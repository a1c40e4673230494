"""The leased webhook budget against the real Redis: fleet-wide counts, leases, the sliding window, an outage."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import redis

from models.infra.budget import LeasedBudget


class Clock:
    def __init__(self, now: float = 1_000_040.0) -> None:  # 20 s into a minute window
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.close()


def counters(client: redis.Redis) -> dict[str, int]:
    return {k.decode(): int(client.get(k) or 0) for k in client.scan_iter("atendimento:budget:*")}


def test_a_process_leases_a_block_and_spends_it_without_asking_redis_again(client: redis.Redis) -> None:
    budget = LeasedBudget(client, "6000/minute", "webhooks", clock=Clock())
    assert budget.take("198.51.100.7") == 0
    assert list(counters(client).values()) == [60]  # one lease: 1 % of the limit
    assert all(budget.take("198.51.100.7") == 0 for _ in range(59))
    assert list(counters(client).values()) == [60]  # 60 requests, one round trip
    assert budget.take("198.51.100.7") == 0
    assert list(counters(client).values()) == [120]


def test_processes_share_the_budget_and_never_exceed_it(client: redis.Redis) -> None:
    clock = Clock()
    fleet = [LeasedBudget(client, "300/minute", "webhooks", clock=clock) for _ in range(3)]  # leases of 3
    allowed = sum(fleet[i % 3].take("203.0.113.9") == 0 for i in range(450))
    assert 300 - 3 * 3 <= allowed <= 300  # unspent leases count as spent: at most a lease per process early


def test_small_limits_are_exact_and_say_when_to_come_back(client: redis.Redis) -> None:
    clock = Clock()
    a, b = (LeasedBudget(client, "2/minute", "webhooks", clock=clock) for _ in range(2))
    assert [a.take("ip"), b.take("ip")] == [0, 0]
    assert a.take("ip") == 40 and b.take("ip") == 40  # the window ends 40 s from now
    assert a.take("other ip") == 0  # each key its own budget


def test_the_previous_window_still_counts_for_the_part_that_overlaps(client: redis.Redis) -> None:
    clock = Clock(1_000_020.0)  # a window starts
    budget = LeasedBudget(client, "10/minute", "webhooks", clock=clock)
    assert sum(budget.take("ip") == 0 for _ in range(12)) == 10
    clock.now = 1_000_080.0 + 15  # 15 s into the next window: 75 % of the previous 10 still count
    assert sum(budget.take("ip") == 0 for _ in range(10)) == 2
    clock.now = 1_000_140.0 + 30  # a window later: the previous had 2, half of it counts
    assert sum(budget.take("ip") == 0 for _ in range(12)) == 9


def test_every_limit_of_a_spec_holds(client: redis.Redis) -> None:
    budget = LeasedBudget(client, "3/second;5/minute", "webhooks", clock=Clock(1_000_020.0))
    assert [budget.take("ip") for _ in range(4)][3] > 0  # the per-second limit


def test_threads_of_one_process_spend_exactly_what_they_were_granted(client: redis.Redis) -> None:
    budget = LeasedBudget(client, "1000/minute", "webhooks", clock=Clock())
    results: list[int] = []
    lock = threading.Lock()

    def hammer() -> None:
        mine = [budget.take("ip") for _ in range(300)]
        with lock:
            results.extend(mine)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1000 - 10 <= results.count(0) <= 1000


def test_with_redis_down_each_process_counts_in_memory(caplog: pytest.LogCaptureFixture) -> None:
    down = redis.Redis.from_url("redis://127.0.0.1:1/0", socket_connect_timeout=0.2)
    budget = LeasedBudget(down, "2/minute", "webhooks", clock=Clock())
    assert [budget.take("ip") == 0 for _ in range(3)] == [True, True, False]
    assert sum("counting in memory" in r.getMessage() for r in caplog.records) == 1  # once per outage
