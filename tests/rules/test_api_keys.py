"""Which scope each request needs, and which endpoints a key never reaches."""

from __future__ import annotations

import pytest

from models.rules.api_keys import allows, person_only, required_scope, split_token


def test_token_shape() -> None:
    secret = "s" * 43
    assert split_token(f"atd_0123456789ab_{secret}") == ("0123456789ab", secret)
    for bad in ("atd_0123456789ab", f"atd_0123456789AB_{secret}", f"atd_short_{secret}", "eyJhbGciOi.x.y", ""):
        assert split_token(bad) is None


@pytest.mark.parametrize(("method", "rule", "staff", "needed"), [
    ("GET", "/api/tickets", False, "tickets:read"),
    ("GET", "/api/tickets/<int:ticket_id>/messages", False, "tickets:read"),
    ("POST", "/api/tickets/<int:ticket_id>/messages", False, "messages:write"),
    ("POST", "/api/tickets/<int:ticket_id>/notes", False, "messages:write"),
    ("POST", "/api/tickets/<int:ticket_id>/resolve", False, "admin"),
    ("POST", "/api/tickets/<int:ticket_id>/transfer", False, "admin"),
    ("GET", "/api/admin/users", True, "admin"),
])
def test_required_scope(method: str, rule: str, staff: bool, needed: str) -> None:
    assert required_scope(method, rule, staff) == needed


def test_admin_includes_every_scope_and_others_only_themselves() -> None:
    assert allows(["admin"], "messages:write") and allows(["admin"], "tickets:read")
    assert allows(["tickets:read"], "tickets:read") and not allows(["tickets:read"], "messages:write")
    assert not allows(["messages:write"], "tickets:read")


def test_endpoints_for_a_person() -> None:
    for rule in ("/api/me", "/api/me/status", "/api/me/password", "/api/auth/logout", "/api/admin/api-keys",
                 "/api/admin/api-keys/<int:key_id>", "/api/tickets/<int:ticket_id>/accept",
                 "/api/tickets/<int:ticket_id>/read"):
        assert person_only(rule), rule
    for rule in ("/api/tickets", "/api/tickets/<int:ticket_id>/messages", "/api/admin/users", "/api/events"):
        assert not person_only(rule), rule
