"""Response, resolution and volume reports from facts recorded as tickets live, with known clocks (time passed in).

The tenant works Monday to Friday 09:00-17:00 in New York (EST, UTC-5, until 2026-11-01 02:00 EDT -> 01:00 EST).
Its WhatsApp channel has a menu (bot time) and reopens a ticket the customer writes to within a day.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from models import Channel, Message, ResponseFact, Tenant, Ticket, User
from models.errors import Invalid
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.rules.report_stats import figures
from models.services import conversation, facts, reports, tickets, triage
from models.services.reports import Filters
from models.tickets import Direction, TicketStatus
from tests.conftest import migrate, provision_tenants
from tests.fakes.whatsapp import PHONE_NUMBER_ID, text_delivery
from tests.services.helpers import store

HOURS = {"tz": "America/New_York", "weekly": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
MENU = {"menu": {"prompt": "1 Support, 2 Sales", "options": {"1": "Support", "2": "Sales"}},
        "reopen_window_seconds": 86400}


def ny(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A New York wall time in March 2026 (EST, UTC-5) as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=UTC) + timedelta(hours=5)


class Desk:
    """Drives tickets through the real services at given instants."""

    def __init__(self, sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
        self.sessions, self.bus, self.users = sessions, bus, tenants["users"]
        self.n = 0
        with sessions() as s, s.begin():
            channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
            channel.settings = {**channel.settings, "triage": MENU}
            tenant = s.get_one(Tenant, channel.tenant_id)
            tenant.settings = {**tenant.settings, "business_hours": HOURS}
            self.tenant_id = tenant.id

    def writes(self, sender: str, now: datetime, body: str = "oi") -> int:
        self.n += 1
        store(self.sessions, text_delivery(f"wamid.r{self.n}", sender=sender, body=body))
        inbox_id = [args[0] for name, args in self.bus.tasks if name == "triage.process_event"][-1]
        with self.sessions() as s, s.begin():
            triage.process_event(s, inbox_id, now)
            ticket_id = s.scalars(select(Ticket.id).join(Ticket.contact).where(
                Ticket.contact.has(phone=sender)).order_by(Ticket.id.desc())).first()
        self.bus.tasks.clear()
        self.bus.events.clear()
        assert ticket_id is not None
        return ticket_id

    def act(self, fn: Any, who: str, *args: Any) -> Any:
        with self.sessions() as s, s.begin():
            return fn(s, s.get_one(User, self.users[who].id), *args)

    def assign(self, ticket_id: int, agent: str, now: datetime) -> None:
        self.act(tickets.assign_to, "carla", ticket_id, self.users[agent].id, now)

    def reply(self, ticket_id: int, agent: str, now: datetime) -> None:
        self.act(conversation.reply, agent, ticket_id, "resposta", now)

    def resolve(self, ticket_id: int, now: datetime) -> None:
        self.act(tickets.resolve, "carla", ticket_id, now)

    def report(self, start: datetime, end: datetime, **kw: str) -> list[dict[str, Any]]:
        with self.sessions() as s:
            return reports.responses(s, Filters(self.tenant_id, start, end, **kw))

    def drill(self, start: datetime, end: datetime, metric: str, group_value: Any = None,
              bucket_value: str | None = None, **kw: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        after = None
        with self.sessions() as s:
            while True:  # pages of two, so the keyset is walked too
                page, after = reports.response_tickets(s, Filters(self.tenant_id, start, end, **kw), metric,
                                                       None if group_value is None else str(group_value),
                                                       bucket_value, after, limit=2)
                out += page
                if after is None:
                    return out


ANA_SENDER, BRUNO_SENDER, NIGHT_SENDER = "5511900000001", "5511900000002", "5511900000003"


def a_week_of_ana(desk: Desk) -> int:
    """Monday 2 and Tuesday 3 March 2026, one customer, two cycles.

    Mon 09:00 writes, the bot's menu; 09:10 answers it (routed: bot time ends); 09:15 given to Ana; 09:30 Ana
    replies (first response 1200 s); 09:40 and 09:45 the customer writes; 10:00 Ana (next response 1200 s);
    16:50 the customer writes; Tue 09:20 Ana (next: wall 59400 s, business 10 + 20 min = 1800 s); 09:50 the
    customer writes; 10:00 resolved (that wait unanswered; resolution wall 25 h, business 8 + 1 h).
    Tue 11:00 the customer writes again: reopened, a second cycle; 11:05 Ana; 11:30 Ana replies (1800 s);
    12:00 resolved (3600 s).
    """
    t = desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 0))
    desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 10), body="1")
    desk.assign(t, "ana", ny(2026, 3, 2, 9, 15))
    desk.reply(t, "ana", ny(2026, 3, 2, 9, 30))
    desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 40))
    desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 45))
    desk.reply(t, "ana", ny(2026, 3, 2, 10, 0))
    desk.writes(ANA_SENDER, ny(2026, 3, 2, 16, 50))
    desk.reply(t, "ana", ny(2026, 3, 3, 9, 20))
    desk.writes(ANA_SENDER, ny(2026, 3, 3, 9, 50))
    desk.resolve(t, ny(2026, 3, 3, 10, 0))
    assert desk.writes(ANA_SENDER, ny(2026, 3, 3, 11, 0)) == t  # reopened, not a new ticket
    desk.assign(t, "ana", ny(2026, 3, 3, 11, 5))
    desk.reply(t, "ana", ny(2026, 3, 3, 11, 30))
    desk.resolve(t, ny(2026, 3, 3, 12, 0))
    return t


MON, WED = ny(2026, 3, 2, 0, 0), ny(2026, 3, 4, 0, 0)


def row(rows: list[dict[str, Any]], metric: str, bucket: str | None = None, group: Any = "any") -> dict[str, Any]:
    (found,) = [r for r in rows if r["metric"] == metric and r["bucket"] == bucket
                and (group == "any" or r["group_value"] == group)]
    return found


def times(r: dict[str, Any]) -> tuple[Any, ...]:
    return r["count"], r["unanswered"], r["p50"], r["p90"], r["p99"], r["mean"]


def test_each_figure_of_two_cycles_in_business_and_wall_time(sessions: sessionmaker[Session], bus: RecordingBus,
                                                             tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    ticket_id = a_week_of_ana(desk)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(ResponseFact)
                        .where(ResponseFact.ticket_id == ticket_id, ResponseFact.ended_at.is_(None))) == 0
        assert s.get_one(Ticket, ticket_id).status == TicketStatus.RESOLVED
    ana = desk.users["ana"].id

    business = desk.report(MON, WED, group="agent", bucket="day")
    assert {r["group_value"] for r in business} == {ana} and {r["group_name"] for r in business} == {"Ana"}
    assert times(row(business, "first_response", "2026-03-02")) == (1, 0, 1200, 1200, 1200, 1200)  # bot excluded
    assert times(row(business, "first_response", "2026-03-03")) == (1, 0, 1800, 1800, 1800, 1800)  # cycle 2
    assert times(row(business, "next_response", "2026-03-02")) == (1, 0, 1200, 1200, 1200, 1200)
    # Across the 17:00 close: 10 minutes on Monday, 20 on Tuesday; then one wait ended unanswered by resolve.
    assert times(row(business, "next_response", "2026-03-03")) == (1, 1, 1800, 1800, 1800, 1800)
    # From the opening (bot time included) to resolve: 9 business hours, then the second cycle's hour.
    resolution = row(business, "resolution", "2026-03-03")
    assert times(resolution)[:2] == (2, 0)
    assert (resolution["p50"], resolution["mean"]) == (18000, 18000)
    assert resolution["p90"] == pytest.approx(3600 + 0.9 * 28800) and resolution["p99"] == pytest.approx(
        3600 + 0.99 * 28800)

    wall = desk.report(MON, WED, bucket="none", clock="wall")
    assert times(row(wall, "first_response"))[:2] == (2, 0) and row(wall, "first_response")["mean"] == 1500
    assert sorted(r["seconds"] for r in desk.drill(MON, WED, "next_response", clock="wall", bucket="none")
                  if r["answered"]) == [1200, 59400]
    assert sorted(r["seconds"] for r in desk.drill(MON, WED, "resolution", clock="wall", bucket="none")) == [
        3600, 90000]
    assert row(wall, "resolution")["group_value"] is None and row(wall, "resolution")["group_name"] is None


def test_every_figure_drills_down_to_the_spans_it_summarises(sessions: sessionmaker[Session], bus: RecordingBus,
                                                             tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    ticket_id = a_week_of_ana(desk)
    for group in ("none", "agent", "queue", "channel", "label"):
        for bucket in ("none", "day", "hour"):
            for clock in ("business", "wall"):
                kw = {"group": group, "bucket": bucket, "clock": clock}
                for r in desk.report(MON, WED, **kw):
                    gv = reports.NONE if r["group_value"] is None else r["group_value"]
                    spans = desk.drill(MON, WED, r["metric"], gv if group != "none" else None, r["bucket"], **kw)
                    assert {s["ticket_id"] for s in spans} == {ticket_id}
                    measured = [s["seconds"] for s in spans if s["answered"]]
                    assert len(spans) - len(measured) == r["unanswered"], (kw, r)
                    expected = figures(measured)
                    assert r["count"] == expected["count"] and r["p50"] == expected["p50"], (kw, r)
                    for name in ("p90", "p99", "mean"):
                        assert r[name] == pytest.approx(expected[name]), (kw, r, name)


def test_the_weekend_of_the_dst_change(sessions: sessionmaker[Session], bus: RecordingBus,
                                       tenants: dict[str, Any]) -> None:
    """Friday 30 October 16:00 EDT to Monday 2 November 10:00 EST: 67 hours of wall time (the night of 1 November
    has 25 hours), 2 business hours. A Sunday conversation in the small hours lands in the two 01:00 hours."""
    desk = Desk(sessions, bus, tenants)
    friday = datetime(2026, 10, 30, 20, 0, tzinfo=UTC)  # 16:00 EDT
    t = desk.writes(BRUNO_SENDER, friday)
    desk.writes(BRUNO_SENDER, friday, body="2")  # routed to Sales at once: no bot time
    desk.assign(t, "bruno", friday + timedelta(minutes=1))
    desk.writes(BRUNO_SENDER, datetime(2026, 11, 2, 1, 0, tzinfo=UTC))  # Sunday 20:00 EST: still one wait
    desk.reply(t, "bruno", datetime(2026, 11, 2, 15, 0, tzinfo=UTC))  # Monday 10:00 EST

    night = desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 5, 0, tzinfo=UTC))  # 01:00 EDT
    desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 5, 10, tzinfo=UTC), body="1")
    desk.assign(night, "ana", datetime(2026, 11, 1, 5, 15, tzinfo=UTC))
    desk.reply(night, "ana", datetime(2026, 11, 1, 5, 30, tzinfo=UTC))  # 01:30 EDT: 1200 s
    desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 6, 0, tzinfo=UTC))  # 01:00 EST
    desk.reply(night, "ana", datetime(2026, 11, 1, 6, 30, tzinfo=UTC))  # 01:30 EST: 1800 s

    start, end = datetime(2026, 10, 30, tzinfo=UTC), datetime(2026, 11, 3, tzinfo=UTC)
    by_queue = desk.report(start, end, group="queue", bucket="day")
    sales = next(q.id for (tid, name), q in tenants["queues"].items() if name == "Sales" and tid == desk.tenant_id)
    assert times(row(by_queue, "first_response", "2026-11-02", sales)) == (1, 0, 7200, 7200, 7200, 7200)
    by_queue_wall = desk.report(start, end, group="queue", bucket="day", clock="wall")
    assert row(by_queue_wall, "first_response", "2026-11-02", sales)["p50"] == 67 * 3600

    hours = desk.report(start, end, group="agent", bucket="hour", clock="wall")
    ana = desk.users["ana"].id
    assert row(hours, "first_response", "2026-11-01T01:00:00-04:00", ana)["p50"] == 1200
    assert row(hours, "next_response", "2026-11-01T01:00:00-05:00", ana)["p50"] == 1800
    assert row(desk.report(start, end, group="agent", bucket="day"), "next_response", "2026-11-01", ana)[
        "p50"] == 0  # Sunday: closed, no business time
    (span,) = desk.drill(start, end, "next_response", ana, "2026-11-01T01:00:00-05:00", group="agent",
                         bucket="hour", clock="wall")
    assert (span["ticket_id"], span["seconds"]) == (night, 1800)


def test_volume_in_and_out_opened_and_resolved(sessions: sessionmaker[Session], bus: RecordingBus,
                                               tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    ticket_id = a_week_of_ana(desk)
    with sessions() as s:
        out = s.scalar(select(func.count()).select_from(Message).where(
            Message.ticket_id == ticket_id, Message.direction == Direction.OUTBOUND,
            Message.author_id.is_(None), Message.created_at < ny(2026, 3, 3, 0, 0)))
        rows = reports.volume(s, Filters(desk.tenant_id, MON, WED, bucket="day"))
        by_agent = reports.volume(s, Filters(desk.tenant_id, MON, WED, group="agent", bucket="none"))
    assert out == 1  # the bot's menu
    assert [(r["bucket"], r["messages_in"], r["messages_out"], r["tickets_opened"], r["tickets_resolved"])
            for r in rows] == [("2026-03-02", 5, 3, 1, 0), ("2026-03-03", 2, 2, 1, 2)]
    ana = desk.users["ana"].id
    assert {r["group_value"]: (r["messages_out"], r["tickets_resolved"]) for r in by_agent} == {
        ana: (4, 2), None: (1, 0)}


def test_bad_filters_are_refused(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    tenant_id = tenants["users"]["ana"].tenant_id
    with sessions() as s:
        for kw, field in (({"group": "colour"}, "group"), ({"bucket": "week"}, "bucket"),
                          ({"clock": "moon"}, "clock")):
            with pytest.raises(Invalid) as err:
                reports.responses(s, Filters(tenant_id, MON, WED, **kw))
            assert err.value.details["field"] == field
        with pytest.raises(Invalid):
            reports.responses(s, Filters(tenant_id, WED, MON))
        with pytest.raises(Invalid):
            reports.response_tickets(s, Filters(tenant_id, MON, WED), "happiness")
        with pytest.raises(Invalid):
            reports.response_tickets(s, Filters(tenant_id, MON, WED, group="agent"), "resolution", "ana")


def every_report(desk: Desk, start: datetime, end: datetime) -> list[Any]:
    """Each report under every grouping, bucket and clock, the group ids left out (the names stay)."""
    out: list[Any] = []
    with desk.sessions() as s:
        for group in reports.GROUPS:
            for bucket in ("none", "day", "hour"):
                for clock in reports.CLOCKS:
                    f = Filters(desk.tenant_id, start, end, group, bucket, clock)
                    for r in [*reports.responses(s, f), *reports.volume(s, f)]:
                        out.append({k: v for k, v in r.items() if k != "group_value"})
    return out


def test_the_embedded_sqlite_mode_gives_the_same_figures(sessions: sessionmaker[Session], bus: RecordingBus,
                                                         tenants: dict[str, Any], tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate(url)
    engine = make_engine(Settings.from_env({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}))
    try:
        lite_bus = RecordingBus()
        lite = make_session_factory(engine, lite_bus)
        with lite() as s, s.begin():
            provision_tenants(s)
        with lite() as s:
            lite_tenants = {"users": {u.email.split("@")[0]: u for u in s.scalars(select(User))}}
        results = []
        for factory, recorder, known in ((sessions, bus, tenants), (lite, lite_bus, lite_tenants)):
            desk = Desk(factory, recorder, known)
            a_week_of_ana(desk)
            night = desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 5, 0, tzinfo=UTC))
            desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 5, 10, tzinfo=UTC), body="1")
            desk.assign(night, "ana", datetime(2026, 11, 1, 5, 15, tzinfo=UTC))
            desk.reply(night, "ana", datetime(2026, 11, 1, 5, 30, tzinfo=UTC))
            desk.writes(NIGHT_SENDER, datetime(2026, 11, 1, 6, 0, tzinfo=UTC))
            desk.reply(night, "ana", datetime(2026, 11, 1, 6, 30, tzinfo=UTC))
            results.append(every_report(desk, MON, datetime(2026, 11, 2, tzinfo=UTC)))
        assert results[0] and results[0] == results[1]
    finally:
        engine.dispose()


def test_a_continuing_customer_message_costs_one_statement(sessions: sessionmaker[Session], bus: RecordingBus,
                                                           tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    t = desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 0), body="1")
    statements: list[str] = []
    with sessions() as s, s.begin():
        ticket = s.get_one(Ticket, t)
        s.flush()
        listen = s.connection().engine

        def record(_c: Any, _cur: Any, stmt: str, *_args: Any) -> None:
            statements.append(stmt)

        event.listen(listen, "before_cursor_execute", record)
        try:
            facts.customer_wrote(s, ticket, ny(2026, 3, 2, 9, 5))
        finally:
            event.remove(listen, "before_cursor_execute", record)
    assert len(statements) == 1 and statements[0].lstrip().startswith("INSERT INTO response_facts")


def test_an_agent_reopening_starts_a_cycle_and_a_resolve_at_the_bot_records_nothing(
        sessions: sessionmaker[Session], bus: RecordingBus, tenants: dict[str, Any]) -> None:
    desk = Desk(sessions, bus, tenants)
    t = desk.writes(ANA_SENDER, ny(2026, 3, 2, 9, 0), body="1")  # routed at once
    desk.assign(t, "ana", ny(2026, 3, 2, 9, 1))
    desk.reply(t, "ana", ny(2026, 3, 2, 9, 10))
    desk.resolve(t, ny(2026, 3, 2, 9, 30))
    desk.act(tickets.reopen, "carla", t, ny(2026, 3, 2, 13, 0))
    desk.assign(t, "ana", ny(2026, 3, 2, 13, 1))
    desk.reply(t, "ana", ny(2026, 3, 2, 13, 15))
    desk.resolve(t, ny(2026, 3, 2, 14, 0))
    bot_only = desk.writes(BRUNO_SENDER, ny(2026, 3, 2, 10, 0))  # still at the menu
    desk.resolve(bot_only, ny(2026, 3, 2, 10, 5))
    spans = {(s["ticket_id"], s["cycle"], m, s["seconds"]) for m in reports.METRICS
             for s in desk.drill(MON, WED, m, bucket="none")}
    assert spans == {(t, 1, "first_response", 600), (t, 1, "resolution", 1800),
                     (t, 2, "first_response", 900), (t, 2, "resolution", 3600)}
