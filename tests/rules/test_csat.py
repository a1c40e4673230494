"""Reading a CSAT answer, the questions per channel, and the signed link tokens."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models.rules import csat


@pytest.mark.parametrize(("body", "button", "expected"), [
    ("5", None, (5, "reply")), (" 3 ", None, (3, "reply")), ("4!", None, (4, "reply")), ("1.", None, (1, "reply")),
    ("", "csat:2", (2, "button")), ("anything", "csat:5", (5, "button")),
    ("6", None, None), ("0", None, None), ("45", None, None), ("5 stars, great", None, None),
    ("", "csat:9", None), ("", "opt-1", None), ("", None, None),
])
def test_score_of(body: str, button: str | None, expected: tuple[int, str] | None) -> None:
    assert csat.score_of(body, button) == expected


def test_questions_list_every_score() -> None:
    text = csat.numbered_question("How was it?")
    assert text.startswith("How was it?") and all(f"{n} - " in text for n in csat.SCORES)
    email = csat.email_question("How was it?", "https://x.example/csat/1.abc?score=")
    assert all(f"https://x.example/csat/1.abc?score={n}" in email for n in csat.SCORES)


def test_link_tokens_are_signed() -> None:
    token = csat.link_token("secret", 42)
    assert csat.survey_of(token, "secret") == 42
    assert csat.survey_of(token, "other") is None
    assert csat.survey_of(token.replace("42.", "43."), "secret") is None
    assert csat.survey_of("42", "secret") is None and csat.survey_of(token, "") is None


def test_whatsapp_window() -> None:
    now = datetime(2026, 12, 2, 12, tzinfo=UTC)
    assert csat.window_open(now - timedelta(hours=23, minutes=59), now)
    assert not csat.window_open(now - timedelta(hours=24, seconds=1), now)
    assert not csat.window_open(None, now)


def test_config_from_doc() -> None:
    assert csat.CsatConfig.from_doc(None).enabled is False
    config = csat.CsatConfig.from_doc({"enabled": True, "template": {"name": "t", "language": "pt_BR"}})
    assert config.enabled and config.answer_window_seconds == csat.DEFAULT_WINDOW and config.template == {
        "name": "t", "language": "pt_BR"}
    assert csat.CsatConfig.from_doc(config.to_doc()) == config
