"""Contact profile rules: phones, emails and attributes in canonical form, or a sentence saying what is wrong."""

from __future__ import annotations

import pytest

from models.rules import contacts as rules


@pytest.mark.parametrize(("raw", "canonical"), [
    ("+55 (11) 98765-4321", "5511987654321"), ("551187654321", "5511987654321"),  # ninth digit restored
    ("+1 415.555.0100", "14155550100"), ("44 20 7946 0958", "442079460958"),
])
def test_phones_become_e164_digits(raw: str, canonical: str) -> None:
    assert rules.canonical_phone(raw) == canonical


@pytest.mark.parametrize("raw", ["call me", "+55 11 9876x4321", "1234567", "1234567890123456", "++5511987654321",
                                 ""])
def test_malformed_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"phone number|digits"):
        rules.canonical_phone(raw)


def test_emails_are_lower_cased_and_shape_checked() -> None:
    assert rules.canonical_email(" Maria.Silva@Example.COM ") == "maria.silva@example.com"
    for bad in ("maria", "maria@", "@example.com", "maria@example", "ma ria@example.com", "a@b@example.com",
                "maria@example..com"):
        with pytest.raises(ValueError, match="not an email address"):
            rules.canonical_email(bad)


def test_lists_drop_duplicates_and_keep_the_primary_first() -> None:
    assert rules.canonical_list(["+55 11 98765-4321", "5511987654321", "14155550100"], rules.canonical_phone,
                                "phones") == ["5511987654321", "14155550100"]
    with pytest.raises(ValueError, match="at most"):
        rules.canonical_list([f"+1415555{i:04d}" for i in range(11)], rules.canonical_phone, "phones")


def test_attributes_are_a_merge_patch_of_scalars_under_identifier_keys() -> None:
    current = {"plan": "gold", "seats": 3}
    assert rules.patched_attributes(current, {"plan": None, "vip": True, "seats": 4}) == {"seats": 4, "vip": True}
    assert current == {"plan": "gold", "seats": 3}  # not changed in place
    for bad in ({"Plan": "x"}, {"1st": "x"}, {"a-b": "x"}, {"k" * 41: "x"}, {"plan": {"nested": 1}},
                {"plan": [1]}, {"plan": "x" * 1001}):
        with pytest.raises(ValueError, match="attribute"):
            rules.patched_attributes({}, bad)
    with pytest.raises(ValueError, match="at most 50"):
        rules.patched_attributes({f"k{i}": i for i in range(50)}, {"one_more": 1})


def test_a_merge_keeps_the_survivors_values_and_tags_the_merged_notes() -> None:
    assert rules.merged_attributes({"plan": "gold"}, {"plan": "free", "city": "Recife"}) == {
        "plan": "gold", "city": "Recife"}
    assert rules.merged_notes("VIP", "prefers email", 7) == "VIP\n\n[from contact 7] prefers email"
    assert rules.merged_notes(None, "prefers email", 7) == "[from contact 7] prefers email"
    assert rules.merged_notes("VIP", None, 7) == "VIP"
