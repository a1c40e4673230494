"""Limits key on the client's address behind trusted proxies, and failed logins are limited per account."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import redis
from flask import Flask

from api import create_app
from models.infra.config import Settings
from tests.fakes.whatsapp import encode, sign, text_delivery

WRONG = {"tenant": "acme", "email": "ana@acme.example", "password": "wrong"}


def _app(settings: Settings, **changes: Any) -> Iterator[Flask]:
    app = create_app(settings.with_(**changes))
    yield app
    app.extensions["atendimento.engine"].dispose()
    if settings.redis_url:  # counters left here would lock the next test's accounts and addresses
        redis.Redis.from_url(settings.redis_url).flushdb()


@pytest.fixture
def behind_nginx(settings: Settings, tenants: dict[str, Any]) -> Iterator[Flask]:
    yield from _app(settings, trusted_proxy_hops=1, ratelimit_default="3/minute", ratelimit_webhooks="2/minute")


@pytest.fixture
def direct(settings: Settings, tenants: dict[str, Any]) -> Iterator[Flask]:
    yield from _app(settings, ratelimit_default="3/minute")


@pytest.fixture
def lockable(settings: Settings, tenants: dict[str, Any]) -> Iterator[Flask]:
    yield from _app(settings, login_failure_limit=3, login_failure_window=600, trusted_proxy_hops=1)


def _from(ip: str) -> dict[str, str]:
    # What nginx sends: the client's address appended to X-Forwarded-For; the socket peer is nginx itself.
    return {"X-Forwarded-For": ip}


def test_behind_the_proxy_each_client_has_its_own_budget(behind_nginx: Flask) -> None:
    client = behind_nginx.test_client()
    one = [client.get("/api/queues", headers=_from("203.0.113.7")).status_code for _ in range(4)]
    assert one == [401, 401, 401, 429]
    assert client.get("/api/queues", headers=_from("198.51.100.9")).status_code == 401  # another client: not locked
    # A client cannot escape by prepending addresses of its own: only the hop nginx added counts.
    assert client.get("/api/queues", headers=_from("10.9.9.9, 203.0.113.7")).status_code == 429


def test_behind_the_proxy_each_provider_has_its_own_webhook_budget(behind_nginx: Flask) -> None:
    client = behind_nginx.test_client()

    def post(ip: str, n: int) -> int:
        raw = encode(text_delivery(f"wamid.px{ip}{n}"))
        return client.post("/webhooks/whatsapp", data=raw, headers={
            "Content-Type": "application/json", "X-Hub-Signature-256": sign(raw), **_from(ip)}).status_code

    assert [post("192.0.2.1", n) for n in range(3)] == [200, 200, 429]
    assert post("192.0.2.2", 0) == 200


def test_without_trusted_proxies_a_forwarded_header_is_ignored(direct: Flask) -> None:
    client = direct.test_client()
    codes = [client.get("/api/queues", headers=_from(f"203.0.113.{i}")).status_code for i in range(4)]
    assert codes == [401, 401, 401, 429]  # forged addresses buy no new budget


def test_failed_logins_lock_the_account_alike_whether_it_exists_or_not(lockable: Flask) -> None:
    client = lockable.test_client()
    for body in (WRONG, {**WRONG, "email": "nobody@acme.example"}):
        codes = [client.post("/api/auth/login", json=body, headers=_from(f"203.0.113.{i}")).status_code
                 for i in range(4)]  # from changing addresses: the account is what counts
        assert codes == [401, 401, 401, 429]
        refused = client.post("/api/auth/login", json={**body, "password": "pw-ana"})
        assert refused.status_code == 429  # even the right password, or the answer would confirm it
        assert refused.json["error"]["code"] == "too_many_login_failures"
        assert 0 < int(refused.headers["Retry-After"]) <= 600
        assert refused.json["error"]["details"]["retry_after"] == int(refused.headers["Retry-After"])
    # The same email in other case is the same account; another account is not locked.
    assert client.post("/api/auth/login", json={**WRONG, "email": "ANA@acme.example"}).status_code == 429
    ok = client.post("/api/auth/login", json={"tenant": "acme", "email": "bruno@acme.example", "password": "pw-bruno"})
    assert ok.status_code == 200


def test_a_successful_login_forgets_the_failures(lockable: Flask) -> None:
    client = lockable.test_client()
    for _ in range(2):
        assert client.post("/api/auth/login", json=WRONG).status_code == 401
    assert client.post("/api/auth/login", json={**WRONG, "password": "pw-ana"}).status_code == 200
    assert [client.post("/api/auth/login", json=WRONG).status_code for _ in range(3)] == [401, 401, 401]


def test_with_redis_down_failed_logins_are_still_limited(settings: Settings, tenants: dict[str, Any]) -> None:
    for app in _app(settings, redis_url="redis://127.0.0.1:1/0", login_failure_limit=2):
        client = app.test_client()
        assert [client.post("/api/auth/login", json=WRONG).status_code for _ in range(3)] == [401, 401, 429]
