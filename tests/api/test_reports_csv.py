"""The SLA and CSAT reports' CSV form (format=csv or Accept: text/csv): one column per figure, one row per group."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.reports import CSAT_COLUMNS, SLA_COLUMNS
from models import Ticket
from models.base import utcnow
from models.csat import CsatSurvey
from models.infra.bus import RecordingBus
from tests.api.conftest import login
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def window() -> dict[str, str]:
    now = utcnow()
    return {"from": (now - timedelta(hours=1)).isoformat(), "to": (now + timedelta(hours=1)).isoformat(),
            "start": (now - timedelta(hours=1)).isoformat(), "end": (now + timedelta(hours=1)).isoformat()}


def test_sla_and_csat_download_as_csv(client: FlaskClient, sessions: sessionmaker[Session], bus: RecordingBus,
                                      tenants: dict[str, Any]) -> None:
    store(sessions, text_delivery("wamid.c1", sender="5511911111111"))
    store(sessions, text_delivery("wamid.c2", sender="5511922222222"))
    drain(sessions, bus)
    with sessions() as s, s.begin():
        for score, ticket in zip((5, 3), s.scalars(select(Ticket).order_by(Ticket.id)), strict=True):
            s.add(CsatSurvey(tenant_id=ticket.tenant_id, ticket_id=ticket.id, channel_id=ticket.channel_id,
                             contact_id=ticket.contact_id, queue_id=ticket.queue_id, score=score,
                             expires_at=utcnow() + timedelta(days=1), answered_at=utcnow(), source="reply"))
    auth = login(client, "acme", "carla@acme.example", "pw-carla")

    sla = client.get("/api/reports/sla", query_string={**window(), "group_by": "queue", "format": "csv"}, headers=auth)
    assert sla.status_code == 200 and sla.mimetype == "text/csv"
    assert 'filename="sla.csv"' in sla.headers["Content-Disposition"]
    assert sla.text.splitlines()[0].split(",") == list(SLA_COLUMNS)
    (row,) = rows_of(sla.text)
    assert (row["name"], row["opened"], row["tickets_with_clock_first_response"]) == ("Support", "2", "0")

    csat = client.get("/api/reports/csat", query_string={**window(), "group": "queue"},
                      headers={**auth, "Accept": "text/csv"})
    assert csat.mimetype == "text/csv" and csat.text.splitlines()[0].split(",") == list(CSAT_COLUMNS)
    (row,) = rows_of(csat.text)
    assert (row["name"], row["count"], row["average"], row["distribution_5"], row["distribution_3"]) == (
        "Support", "2", "4.0", "1", "1")
    assert client.get("/api/reports/csat", query_string=window(), headers=auth).json["rows"][0]["count"] == 2
