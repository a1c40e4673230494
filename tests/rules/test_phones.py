import pytest

from models.rules.phones import normalize_phone


@pytest.mark.parametrize(("raw", "expected"), [
    ("+55 (11) 98765-4321", "5511987654321"),
    ("551187654321", "5511987654321"),  # Brazilian mobile without the ninth digit
    ("551132654321", "551132654321"),  # Brazilian landline: no ninth digit to add
    ("+1 415 555 0100", "14155550100"),
])
def test_normalize_phone(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected
