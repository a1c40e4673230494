"""What a stored document must not hold: text PostgreSQL refuses (NUL), nesting past a bound. Pure, iterative."""

from __future__ import annotations

from typing import Any

MAX_DEPTH = 32  # provider deliveries nest ~8 deep, our own bodies ~5; Python's parser gives up near 1000


def refusal(doc: Any, max_depth: int = MAX_DEPTH) -> str | None:
    """Why `doc` cannot be stored as it is, or None. Iterative: a recursive walk is the bug it prevents."""
    stack: list[tuple[Any, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                return "a NUL character is not accepted in text"
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > max_depth:
            return f"nested deeper than {max_depth} levels"
        if isinstance(value, dict):
            for key, item in value.items():
                if isinstance(key, str) and "\x00" in key:
                    return "a NUL character is not accepted in text"
                stack.append((item, depth + 1))
        else:
            stack.extend((item, depth + 1) for item in value)
    return None
