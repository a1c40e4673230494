"""Keyset pagination: an opaque cursor holding the (created_at, id) of the last row seen.

Offsets skip or repeat rows while new tickets arrive; a keyset cursor does not, and stays an index scan.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_

from models.errors import Invalid


def encode(created_at: datetime, row_id: int) -> str:
    raw = json.dumps([created_at.isoformat(), row_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(cursor: str) -> tuple[datetime, int]:
    try:
        created, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return datetime.fromisoformat(created), int(row_id)
    except (ValueError, TypeError) as exc:
        raise Invalid("cursor is not one this API gave out", field="cursor") from exc


def page(query: Select[Any], model: Any, cursor: str | None, limit: int, newest_first: bool = True
         ) -> Select[Any]:
    """Order by (created_at, id) and start after `cursor`; fetch one extra row to know if there is more."""
    if cursor:
        created, row_id = decode(cursor)
        if newest_first:
            query = query.where(or_(model.created_at < created, and_(model.created_at == created, model.id < row_id)))
        else:
            query = query.where(or_(model.created_at > created, and_(model.created_at == created, model.id > row_id)))
    order = (model.created_at.desc(), model.id.desc()) if newest_first else (model.created_at, model.id)
    return query.order_by(*order).limit(limit + 1)


def split(rows: list[Any], limit: int) -> tuple[list[Any], str | None]:
    """The page and the cursor for the next one (None at the end)."""
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    return rows, encode(rows[-1].created_at, rows[-1].id)
