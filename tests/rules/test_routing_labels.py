"""Triage keyword rules that name labels: which labels a message earns (pure)."""

from __future__ import annotations

import pytest

from models.rules.routing import DEFAULT, TriageConfig, keyword_labels, route_new

CONFIG = TriageConfig.from_doc({"keywords": [
    {"words": ["boleto", "fatura"], "queue": "Financeiro", "labels": ["billing"]},
    {"words": ["urgente", "não funciona"], "labels": ["urgent", "billing"]},
]})


@pytest.mark.parametrize(("text", "labels"), [
    ("Minha FATURA", ("billing",)),
    ("É urgente!", ("urgent", "billing")),
    ("a fatura nao funciona", ("billing", "urgent")),
    ("bom dia", ()),
])
def test_labels_of_every_matching_rule_once(text: str, labels: tuple[str, ...]) -> None:
    assert keyword_labels(CONFIG, text) == labels


def test_a_rule_without_a_queue_only_labels() -> None:
    assert route_new(CONFIG, "é urgente", open_now=True).queue == DEFAULT
    assert route_new(CONFIG, "urgente: boleto", open_now=True).queue == "Financeiro"
    assert keyword_labels(TriageConfig.from_doc({"keywords": [{"words": ["x"], "queue": "Q"}]}), "x") == ()


@pytest.mark.parametrize("rule", [{"words": ["x"]}, {"words": ["x"], "labels": "vip"},
                                  {"words": ["x"], "labels": [""]}, {"words": [], "labels": ["vip"]}])
def test_bad_rules_are_refused(rule: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"triage\.keywords\[0\]"):
        TriageConfig.from_doc({"keywords": [rule]})
