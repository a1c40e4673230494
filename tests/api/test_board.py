"""GET /api/reports/board: the live board for supervisors and admins of the tenant; agents get 403."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.org import AgentStatus, Role
from models.services import agents
from tests.api.conftest import login
from tests.fakes.whatsapp import text_delivery
from tests.services.helpers import drain, store


def test_a_supervisor_sees_the_board_of_their_tenant_only(
        client: FlaskClient, sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    store(sessions, text_delivery("wamid.a1", sender="5511911111111"))
    store(sessions, text_delivery("wamid.a2", sender="5511922222222"))
    store(sessions, text_delivery("wamid.g1", sender="5511933333333", phone_number_id="999000111"))  # globex
    drain(sessions, bus)
    with sessions() as s, s.begin():
        for email, status in (("bruno@acme.example", AgentStatus.AWAY), ("gina@globex.example", AgentStatus.ONLINE)):
            agents.set_status(s, s.scalars(select(User).where(User.email == email)).one(), status, utcnow())
    auth = login(client, "acme", "carla@acme.example", "pw-carla")

    resp = client.get("/api/reports/board", headers=auth)
    assert resp.status_code == 200, resp.json
    assert resp.json["now"]
    queues = {q["name"]: q for q in resp.json["queues"]}
    assert set(queues) == {"Sales", "Support"}
    support = queues["Support"]
    assert (support["waiting"], support["assigned"], support["sla_breached"]) == (2, 0, 0)  # nobody online
    assert support["oldest_wait_seconds"] >= 0 and support["oldest_waiting_since"]
    assert [(a["name"], a["status"], a["open_tickets"]) for a in support["agents"]] == [("Bruno", "away", 0)]

    with sessions() as s, s.begin():
        s.scalars(select(User).where(User.email == "gina@globex.example")).one().role = Role.SUPERVISOR
    globex = client.get("/api/reports/board", headers=login(client, "globex", "gina@globex.example", "pw-gina"))
    assert [(q["name"], q["waiting"], [a["name"] for a in q["agents"]]) for q in globex.json["queues"]] == [
        ("Support", 1, ["Gina"])]
    acme_ids = {q["id"] for q in resp.json["queues"]}
    assert not acme_ids & {q["id"] for q in globex.json["queues"]}


def test_agents_and_strangers_are_refused_the_board(client: FlaskClient, tenants: dict[str, Any]) -> None:
    assert client.get("/api/reports/board").status_code == 401
    resp = client.get("/api/reports/board", headers=login(client, "acme", "ana@acme.example", "pw-ana"))
    assert resp.status_code == 403 and resp.json["error"]["code"] == "forbidden"


def test_the_board_is_in_the_api_docs(client: FlaskClient) -> None:
    spec = client.get("/openapi.json").json
    op = spec["paths"]["/api/reports/board"]["get"]
    assert op["summary"].startswith("The live board")
    schema = spec["components"]["schemas"]["BoardQueue"]["properties"]
    assert {"waiting", "oldest_wait_seconds", "sla_at_risk", "sla_breached", "agents"} <= set(schema)
