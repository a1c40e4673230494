"""Phone numbers as one canonical string, so one person is one contact."""

from __future__ import annotations

import re

_DIGITS = re.compile(r"\D+")


def normalize_phone(raw: str) -> str:
    """E.164 without the plus sign, as WhatsApp's `wa_id` writes it.

    Brazilian mobiles may arrive without the ninth digit (55 + 2-digit area + 8 digits, starting 6-9):
    the digit is put back, or the same customer would become two contacts.
    """
    digits = _DIGITS.sub("", raw)
    if len(digits) == 12 and digits.startswith("55") and digits[4] in "6789":
        digits = digits[:4] + "9" + digits[4:]
    return digits
