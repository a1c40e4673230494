"""Canned-response bodies: variables found, unknown ones named, filled with empty for missing values."""

from __future__ import annotations

import pytest

from models.rules.canned import CODE, render, unknown_variables, variables_in


def test_variables_are_found_in_order_once() -> None:
    body = "Olá {{contact.name}}, sou {{ agent.name }}. Ticket #{{ticket.id}}, {{contact.name}}."
    assert variables_in(body) == ["contact.name", "agent.name", "ticket.id"]
    assert unknown_variables(body) == []


@pytest.mark.parametrize(("body", "unknown"), [
    ("Oi {{contact.nome}}", ["contact.nome"]),
    ("Oi {{}}", [""]),
    ("Oi {{contact.name}} {{customer}}", ["customer"]),
    ("Oi {{contact.name", ["{{contact.name"]),
])
def test_unknown_and_unclosed_variables_are_named(body: str, unknown: list[str]) -> None:
    assert unknown_variables(body) == unknown


def test_render_fills_and_blanks_missing_values() -> None:
    body = "Olá {{contact.first_name}}! {{agent.name}} aqui, ticket {{ ticket.id }}. {{queue.name}}"
    assert render(body, {"contact.first_name": "Maria", "agent.name": "Ana", "ticket.id": "42",
                         "queue.name": None}) == "Olá Maria! Ana aqui, ticket 42. "


@pytest.mark.parametrize(("code", "ok"), [("ola", True), ("pix-2", True), ("a.b_c", True), ("-x", False),
                                          ("Ola", False), ("", False), ("x" * 33, False), ("com espaço", False)])
def test_codes(code: str, ok: bool) -> None:
    assert bool(CODE.match(code)) is ok
