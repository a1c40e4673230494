"""@mentions in notes: only colleagues of the tenant, stored with the note, told to each mentioned user alone, and
replayed to them after a reconnect."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, Message, Ticket
from models.events import RealtimeEvent
from models.infra import realtime
from tests.api.conftest import login


def _ticket_of(sessions: sessionmaker[Session], tenants: dict[str, Any], agent: str) -> int:
    channel = tenants["channels"]["106540352242922"]
    with sessions() as s, s.begin():
        contact = Contact(tenant_id=channel.tenant_id, phone="5511900000042", name="Maria")
        s.add(contact)
        s.flush()
        ticket = Ticket(tenant_id=channel.tenant_id, contact_id=contact.id, channel_id=channel.id,
                        queue_id=channel.default_queue_id, agent_id=tenants["users"][agent].id, status="assigned")
        s.add(ticket)
        s.flush()
        return ticket.id


def _events(client: FlaskClient, headers: dict[str, str], after: int = 0) -> list[dict[str, Any]]:
    resp = client.get(f"/api/events?after={after}", headers=headers)
    assert resp.status_code == 200, resp.json
    return [e for e in resp.json if e["name"] == "mention.created"]


def test_a_note_tells_each_mentioned_colleague_in_their_own_room_only(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    users = tenants["users"]
    ana, bruno, carla = users["ana"], users["bruno"], users["carla"]
    ticket_id = _ticket_of(sessions, tenants, "ana")
    as_ana = login(client, "acme", "ana@acme.example", "pw-ana")
    as_bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    as_carla = login(client, "acme", "carla@acme.example", "pw-carla")
    with sessions() as s:
        before = s.scalar(select(func.max(RealtimeEvent.id))) or 0

    body = "@Bruno @Carla   pode ver\nesse cliente? " + "x" * 200
    resp = client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana,
                       json={"body": body, "mentions": [bruno.id, bruno.id, ana.id, carla.id]})
    assert resp.status_code == 201, resp.json
    note = resp.json
    assert note["mentions"] == [bruno.id, ana.id, carla.id]  # deduplicated, in the order given
    listed = client.get(f"/api/tickets/{ticket_id}/messages", headers=as_bruno).json["items"]
    assert [m["mentions"] for m in listed if m["id"] == note["id"]] == [[bruno.id, ana.id, carla.id]]

    with sessions() as s:
        sent = list(s.scalars(select(RealtimeEvent).where(RealtimeEvent.name == "mention.created")
                              .order_by(RealtimeEvent.id)))
    # Each to the mentioned user's own room, not the ticket's followers; the author mentioning herself: nothing.
    assert [e.rooms for e in sent] == [[realtime.agent_room(ana.tenant_id, bruno.id)],
                                       [realtime.agent_room(ana.tenant_id, carla.id)]]

    # What a reconnecting console fetches: Bruno's own mention, Carla (a supervisor) hers only, Ana none.
    (for_bruno,) = _events(client, as_bruno, before)
    assert for_bruno["data"]["user_id"] == bruno.id
    assert {k: for_bruno["data"][k] for k in ("ticket_id", "message_id", "author_id", "author_name")} == {
        "ticket_id": ticket_id, "message_id": note["id"], "author_id": ana.id, "author_name": "Ana"}
    excerpt = for_bruno["data"]["excerpt"]
    assert excerpt.startswith("@Bruno @Carla pode ver esse cliente? xxx") and excerpt.endswith("…")
    assert len(excerpt) <= 140
    assert [e["data"]["user_id"] for e in _events(client, as_carla, before)] == [carla.id]
    assert _events(client, as_ana, before) == []
    assert _events(client, login(client, "globex", "gina@globex.example", "pw-gina")) == []

    # Bruno may open the ticket he was pointed at, though it is Ana's.
    assert client.get(f"/api/tickets/{ticket_id}", headers=as_bruno).json["agent_id"] == ana.id


def test_mentions_name_active_colleagues_of_the_tenant_or_nothing_is_written(
        client: FlaskClient, sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    users = tenants["users"]
    ticket_id = _ticket_of(sessions, tenants, "ana")
    as_ana = login(client, "acme", "ana@acme.example", "pw-ana")
    as_carla = login(client, "acme", "carla@acme.example", "pw-carla")
    assert client.patch(f"/api/admin/users/{users['bruno'].id}", json={"active": False},
                        headers=as_carla).status_code == 200
    with sessions() as s:
        events_before = s.scalar(select(func.count()).select_from(RealtimeEvent))

    for mentions in ([users["gina"].id], [users["carla"].id, 987654], [users["bruno"].id]):
        resp = client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana,
                           json={"body": "veja", "mentions": mentions})
        assert resp.status_code == 422, (mentions, resp.json)
        assert resp.json["error"]["details"]["field"] == "mentions"
    for bad in (["3"], [None], "3", list(range(1, 60))):
        resp = client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana, json={"body": "veja", "mentions": bad})
        assert resp.status_code == 422 and "mentions" in resp.json["error"]["details"]["json"], (bad, resp.json)

    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(Message).where(Message.ticket_id == ticket_id)) == 0
        assert s.scalar(select(func.count()).select_from(RealtimeEvent)) == events_before

    # Another tenant's ticket stays a 404, mentions or not; a plain note still mentions nobody.
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.post(f"/api/tickets/{ticket_id}/notes", headers=gina,
                       json={"body": "oi", "mentions": [users["gina"].id]}).status_code == 404
    plain = client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana, json={"body": "sem menção"})
    assert plain.status_code == 201 and plain.json["mentions"] == []


def test_my_mentions_newest_first_in_pages(client: FlaskClient, sessions: sessionmaker[Session],
                                           tenants: dict[str, Any]) -> None:
    users = tenants["users"]
    ticket_id = _ticket_of(sessions, tenants, "ana")
    as_ana = login(client, "acme", "ana@acme.example", "pw-ana")
    as_bruno = login(client, "acme", "bruno@acme.example", "pw-bruno")
    notes = [client.post(f"/api/tickets/{ticket_id}/notes", headers=as_ana,
                         json={"body": f"@Bruno nota {i}", "mentions": [users["bruno"].id, users["ana"].id]}).json
             for i in range(3)]
    first = client.get("/api/mentions?limit=2", headers=as_bruno).json
    assert [m["message_id"] for m in first["items"]] == [notes[2]["id"], notes[1]["id"]]
    assert first["items"][0]["author_name"] == "Ana" and first["items"][0]["excerpt"] == "@Bruno nota 2"
    assert first["items"][0]["ticket_id"] == ticket_id
    rest = client.get(f"/api/mentions?limit=2&cursor={first['next_cursor']}", headers=as_bruno).json
    assert [m["message_id"] for m in rest["items"]] == [notes[0]["id"]] and rest["next_cursor"] is None
    assert client.get("/api/mentions", headers=as_ana).json["items"] == []  # her own mentions of herself
    gina = login(client, "globex", "gina@globex.example", "pw-gina")
    assert client.get("/api/mentions", headers=gina).json["items"] == []
    bad = client.get("/api/mentions?cursor=nope", headers=as_bruno)
    assert bad.status_code == 422 and bad.json["error"]["details"]["field"] == "cursor"
    assert client.get("/api/mentions").status_code == 401
