"""Template variables: counted from Meta's components, checked and filled before a send."""

from __future__ import annotations

import pytest

from models.rules import templates as rules

ORDER = [
    {"type": "HEADER", "format": "TEXT", "text": "Pedido {{1}}"},
    {"type": "BODY", "text": "Olá {{1}}, seu pedido {{2}} saiu para entrega."},
    {"type": "FOOTER", "text": "Acme"},
]
INVOICE = [{"type": "HEADER", "format": "DOCUMENT"}, {"type": "BODY", "text": "Segue a nota fiscal."}]


def test_needs_counts_body_and_header_variables() -> None:
    assert rules.needs(ORDER).as_dict() == {"body": 2, "header_text": 1, "header_media": None}
    assert rules.needs(INVOICE).as_dict() == {"body": 0, "header_text": 0, "header_media": "document"}


def test_components_fill_in_order() -> None:
    assert rules.send_components(ORDER, ["Maria", "#123"], ["#123"]) == [
        {"type": "header", "parameters": [{"type": "text", "text": "#123"}]},
        {"type": "body", "parameters": [{"type": "text", "text": "Maria"}, {"type": "text", "text": "#123"}]},
    ]
    assert rules.send_components(INVOICE, [], header_media_link="https://x.example/nf.pdf") == [
        {"type": "header", "parameters": [{"type": "document", "document": {"link": "https://x.example/nf.pdf"}}]}]
    assert rules.preview(ORDER, ["Maria", "#123"]) == "Olá Maria, seu pedido #123 saiu para entrega."


@pytest.mark.parametrize(("variables", "header", "media", "field"), [
    (["Maria"], ["#1"], None, "variables"),
    (["Maria", "#1", "x"], ["#1"], None, "variables"),
    (["Maria", "#1"], [], None, "header_variables"),
    (["Maria", "linha\nnova"], ["#1"], None, "variables"),
    (["Maria", " "], ["#1"], None, "variables"),
])
def test_a_mismatch_names_the_field(variables: list[str], header: list[str], media: str | None, field: str) -> None:
    with pytest.raises(rules.TemplateMismatch) as err:
        rules.send_components(ORDER, variables, header, media)
    assert err.value.field == field


def test_a_media_header_needs_its_file() -> None:
    with pytest.raises(rules.TemplateMismatch, match="document"):
        rules.send_components(INVOICE, [])
