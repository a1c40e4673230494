"""The CSAT report: answers received in a range, per tenant, agent or queue: count, average, distribution."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from models.csat import CsatSurvey
from models.org import Queue, User
from models.rules.csat import SCORES

GROUPS = ("tenant", "agent", "queue")


def csat_report(session: Session, tenant_id: int, start: datetime, end: datetime, group: str) -> list[dict[str, Any]]:
    """One row per group with answers in [start, end): `count`, `average` (2 decimals), `distribution` (1..5).

    An answer counts for the agent and queue of the resolution it rates; `key` None gathers answers without one.
    """
    column = {"tenant": CsatSurvey.tenant_id, "agent": CsatSurvey.agent_id, "queue": CsatSurvey.queue_id}[group]
    rows = session.execute(select(column, CsatSurvey.score, func.count())
                           .where(CsatSurvey.tenant_id == tenant_id, CsatSurvey.score.is_not(None),
                                  CsatSurvey.answered_at >= start, CsatSurvey.answered_at < end)
                           .group_by(column, CsatSurvey.score)).all()
    groups: dict[int | None, dict[int, int]] = {}
    for key, score, n in rows:
        groups.setdefault(key, dict.fromkeys(SCORES, 0))[score] = n
    names = _names(session, tenant_id, group, [k for k in groups if k is not None])
    out = []
    for key in sorted(groups, key=lambda k: (k is None, k or 0)):
        dist = groups[key]
        count = sum(dist.values())
        out.append({"key": key, "name": names.get(key) if key is not None else None, "count": count,
                    "average": round(sum(s * n for s, n in dist.items()) / count, 2),
                    "distribution": {str(s): dist[s] for s in SCORES}})
    return out


def _names(session: Session, tenant_id: int, group: str, keys: list[int]) -> dict[int, str]:
    if group == "agent":
        rows = session.execute(select(User.id, User.name).where(User.tenant_id == tenant_id, User.id.in_(keys)))
    elif group == "queue":
        rows = session.execute(select(Queue.id, Queue.name).where(Queue.tenant_id == tenant_id, Queue.id.in_(keys)))
    else:
        return {}
    return {row[0]: row[1] for row in rows}
