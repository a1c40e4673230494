"""CSAT through the API: queue settings, the SMS and email questions, signed rating links, webhooks, the report."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, CsatSurvey, Message, Queue, Ticket, User, WebhookDelivery
from models.base import utcnow
from models.infra.config import Settings
from models.services import outbound
from models.tickets import TicketStatus
from tests.api.conftest import login
from tests.api.test_webhooks_sms_email import SMS_URL, parse, post_twilio, work
from tests.conftest import PUBLIC_BASE_URL
from tests.fakes import sendgrid as sg
from tests.fakes import twilio as tw


def support_queue(sessions: sessionmaker[Session], tenant_id: int) -> int:
    with sessions() as s:
        return s.scalars(select(Queue.id).where(Queue.tenant_id == tenant_id, Queue.name == "Support")).one()


def opt_in(client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> dict[str, str]:
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    queue_id = support_queue(sessions, tenants["users"]["carla"].tenant_id)
    assert client.get(f"/api/admin/queues/{queue_id}/csat", headers=carla).json["enabled"] is False
    resp = client.put(f"/api/admin/queues/{queue_id}/csat", json={"enabled": True, "answer_window_seconds": 3600},
                      headers=carla)
    assert resp.status_code == 200 and resp.json["enabled"] and resp.json["answer_window_seconds"] == 3600
    bad = client.put(f"/api/admin/queues/{queue_id}/csat", json={"answer_window_seconds": 5}, headers=carla)
    assert bad.status_code == 422 and "answer_window_seconds" in bad.json["error"]["details"]["json"]
    ana = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.put(f"/api/admin/queues/{queue_id}/csat", json={"enabled": False}, headers=ana).status_code == 403
    return carla


def resolve_only_ticket(client: FlaskClient, sessions: sessionmaker[Session], headers: dict[str, str]) -> int:
    with sessions() as s:
        ticket_id = s.scalars(select(Ticket.id)).one()
    assert client.post(f"/api/tickets/{ticket_id}/resolve", headers=headers).json["status"] == "resolved"
    return ticket_id


def test_sms_asks_for_a_number_and_the_reply_is_the_rating(client: FlaskClient, app: Flask,
                                                           sessions: sessionmaker[Session],
                                                           tenants: dict[str, Any]) -> None:
    carla = opt_in(client, sessions, tenants)
    post_twilio(client, SMS_URL, tw.inbound_form(body="Meu pedido não chegou"))
    work(app, sessions)
    ticket_id = resolve_only_ticket(client, sessions, carla)
    question = client.get(f"/api/tickets/{ticket_id}/messages", headers=carla).json["items"][-1]
    assert question["direction"] == "out" and "Reply with a number" in question["body"]
    post_twilio(client, SMS_URL, tw.inbound_form(body="4"))
    work(app, sessions)
    with sessions() as s:
        survey = s.scalars(select(CsatSurvey)).one()
        assert (survey.ticket_id, survey.score, survey.source) == (ticket_id, 4, "reply")
        assert s.get_one(Ticket, ticket_id).status == TicketStatus.RESOLVED


def test_email_links_are_signed_record_once_and_reach_webhooks(client: FlaskClient, app: Flask, settings: Settings,
                                                               sessions: sessionmaker[Session],
                                                               tenants: dict[str, Any]) -> None:
    carla = opt_in(client, sessions, tenants)
    hook = client.post("/api/admin/webhooks", json={"url": "https://93.184.215.14/hooks/csat",
                                                    "events": ["csat.received"]}, headers=carla)
    assert hook.status_code == 201, hook.json
    parse(client, "parse-secret-acme", sg.inbound_parse_fields())
    work(app, sessions)
    ticket_id = resolve_only_ticket(client, sessions, carla)
    with sessions() as s:
        question = s.get_one(Message, s.scalars(select(CsatSurvey.question_message_id)).one())
    links = re.findall(rf"{re.escape(PUBLIC_BASE_URL)}(/csat/\S+score=)(\d)", question.body)
    assert [score for _path, score in links] == ["5", "4", "3", "2", "1"]
    with sessions() as s, s.begin():  # it goes out through SendGrid like any reply
        assert outbound.send_message(s, question.id, utcnow(), settings) == "sent"
    path = links[0][0]
    page = client.get(f"{path}4")
    assert page.status_code == 200 and page.mimetype == "text/html" and "recorded" in page.get_data(as_text=True)
    again = client.get(f"{path}1")
    assert again.status_code == 200 and "already" in again.get_data(as_text=True)
    assert client.get(f"{path}9").status_code == 400
    token = urlsplit(path).path.rsplit("/", 1)[-1]
    survey_id, mac = token.split(".")
    assert client.get(f"/csat/{survey_id}.{'0' * len(mac)}?score=5").status_code == 404
    with sessions() as s:
        survey = s.scalars(select(CsatSurvey)).one()
        assert (survey.ticket_id, survey.score, survey.source) == (ticket_id, 4, "link")
        delivery = s.scalars(select(WebhookDelivery)).one()
        assert delivery.event == "csat.received" and delivery.body["data"]["score"] == 4
        assert delivery.order_key == f"ticket:{ticket_id}"


def test_the_report_counts_averages_and_distributes(client: FlaskClient, sessions: sessionmaker[Session],
                                                    tenants: dict[str, Any]) -> None:
    acme = tenants["users"]["carla"].tenant_id
    support = support_queue(sessions, acme)
    day = datetime(2026, 11, 10, 12, tzinfo=UTC)
    ana, bruno = tenants["users"]["ana"].id, tenants["users"]["bruno"].id
    with sessions() as s, s.begin():
        sales = s.scalars(select(Queue.id).where(Queue.tenant_id == acme, Queue.name == "Sales")).one()
        channel_id = tenants["channels"]["106540352242922"].id
        rows = [(ana, support, 5, day), (ana, support, 4, day), (ana, sales, 1, day + timedelta(days=1)),
                (bruno, support, 3, day), (bruno, support, None, day),  # unanswered: not counted
                (bruno, support, 2, day + timedelta(days=40))]  # outside the range
        for i, (agent, queue, score, at) in enumerate(rows):
            contact = Contact(tenant_id=acme, phone=f"55119000000{i}", created_at=at)
            s.add(contact)
            s.flush()
            ticket = Ticket(tenant_id=acme, contact_id=contact.id, channel_id=channel_id, queue_id=queue,
                            agent_id=agent, status=TicketStatus.RESOLVED, created_at=at, updated_at=at,
                            triage_state={})
            s.add(ticket)
            s.flush()
            s.add(CsatSurvey(tenant_id=acme, ticket_id=ticket.id, channel_id=channel_id, contact_id=contact.id,
                             queue_id=queue, agent_id=agent, asked_at=at, expires_at=at + timedelta(days=1),
                             score=score, answered_at=at if score else None, source="reply" if score else None))
    carla = login(client, "acme", "carla@acme.example", "pw-carla")
    query = "start=2026-11-01&end=2026-12-01"
    by_agent = client.get(f"/api/reports/csat?{query}&group=agent", headers=carla).json
    assert [(r["key"], r["name"], r["count"], r["average"], r["distribution"]) for r in by_agent["rows"]] == [
        (ana, "Ana", 3, 3.33, {"1": 1, "2": 0, "3": 0, "4": 1, "5": 1}),
        (bruno, "Bruno", 1, 3.0, {"1": 0, "2": 0, "3": 1, "4": 0, "5": 0})]
    by_queue = client.get(f"/api/reports/csat?{query}&group=queue", headers=carla).json["rows"]
    assert [(r["key"], r["count"], r["average"]) for r in by_queue] == [(support, 3, 4.0), (sales, 1, 1.0)] \
        if support < sales else [(sales, 1, 1.0), (support, 3, 4.0)]
    tenant = client.get(f"/api/reports/csat?{query}", headers=carla).json["rows"]
    assert [(r["count"], r["average"]) for r in tenant] == [(4, 3.25)]
    for bad_query, field in (("start=2026-12-01&end=2026-11-01", "end"), (f"{query}&group=label", "group")):
        bad = client.get(f"/api/reports/csat?{bad_query}", headers=carla)
        assert bad.status_code == 422 and field in bad.json["error"]["details"]["query"]
    ana_token = login(client, "acme", "ana@acme.example", "pw-ana")
    assert client.get(f"/api/reports/csat?{query}", headers=ana_token).status_code == 403
    # Another tenant's supervisor sees none of it.
    with sessions() as s, s.begin():
        s.scalars(select(User).where(User.email == "gina@globex.example")).one().role = "supervisor"
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get(f"/api/reports/csat?{query}&group=agent", headers=gina).json["rows"] == []
