"""Search on the real PostgreSQL (ranked full-text, accents, stems, filters, keyset pages, tenant scope), and the
embedded default's LIKE fallback on SQLite."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker

from models import Contact, ContactIdentity, Message, Ticket, User
from models import search as documents
from models.base import utcnow
from models.errors import Invalid
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.services.accounts import provision
from models.services.search import Filters, search_contacts, search_messages, snippet
from tests.conftest import TENANTS, migrate
from tests.services.contacts_helpers import EMAIL, WHATSAPP, received

GLOBEX_WHATSAPP = "999000111"


def corpus(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Messages of a few customers; names to message ids."""
    ids = {}
    for key, channel, sender, body, name in (
        ("late", WHATSAPP, "5511987654321", "Meu pedido não chegou, já faz uma semana", "Maria Silva"),
        ("refund", WHATSAPP, "5511987650000", "Quero o reembolso dos pedidos cancelados", "João Souza"),
        ("invoice", EMAIL, "carlos@example.com", "Preciso da nota fiscal do pedido 4471", "Carlos"),
        ("hello", WHATSAPP, "5521912345678", "Bom dia, tudo bem?", "Márcia Lima"),
        ("other", GLOBEX_WHATSAPP, "5511987654321", "pedido da globex", "Maria Silva"),
    ):
        ids[key], _ticket = received(sessions, channel, sender, body, name)
    return ids


def acme(sessions: sessionmaker[Session], email: str = "ana@acme.example") -> User:
    with sessions() as s:
        return s.scalars(select(User).where(User.email == email)).one()


def found(hits: list[dict[str, Any]]) -> list[int]:
    return [h["message_id"] for h in hits]


def test_messages_full_text_ranked_with_stems_and_accents(sessions: sessionmaker[Session],
                                                         tenants: dict[str, Any]) -> None:
    ids = corpus(sessions)
    ana = acme(sessions)
    with sessions() as s:
        def hits(q: str, **kw: Any) -> list[int]:
            return found(search_messages(s, ana, q, Filters(**kw))[0])

        # "pedido" finds "pedidos" (Portuguese stem), never globex's message.
        assert set(hits("pedido")) == {ids["late"], ids["refund"], ids["invoice"]}
        assert hits("nao chegou") == [ids["late"]] == hits("não chegou")  # accents folded both ways
        assert hits("reembolso") == [ids["refund"]] and hits("marte") == []
        assert hits('"nota fiscal"') == [ids["invoice"]] and hits("pedido -fiscal -reembolso") == [ids["late"]]
        channel_id = tenants["channels"][EMAIL].id
        assert hits("pedido", channel_id=channel_id) == [ids["invoice"]]
        assert hits("pedido", status="resolved") == []
        assert set(hits("pedido", status="queued")) == {ids["late"], ids["refund"], ids["invoice"]}
        assert hits("pedido", since=utcnow() + timedelta(minutes=1)) == []
        assert hits("pedido", until=utcnow() - timedelta(days=1)) == []
        queue_id = s.get_one(Ticket, s.get_one(Message, ids["late"]).ticket_id).queue_id  # acme's, not globex's
        assert len(hits("pedido", queue_id=queue_id)) == 3 and hits("pedido", agent_id=ana.id) == []
        page, _c = search_messages(s, ana, "pedido", Filters())
        ranks = [h["rank"] for h in page]
        assert ranks == sorted(ranks, reverse=True) and all(r > 0 for r in ranks)
        assert "pedido" in page[0]["snippet"].lower()
        with pytest.raises(Invalid):
            search_messages(s, ana, "?!", Filters())
    # The stored vector is derived: a body rewritten (an erasure, say) is found by its new words only.
    with sessions() as s, s.begin():
        s.get_one(Message, ids["refund"]).body = "texto removido"
    with sessions() as s:
        assert found(search_messages(s, ana, "reembolso", Filters())[0]) == []
        assert found(search_messages(s, ana, "removido", Filters())[0]) == [ids["refund"]]


def test_pages_of_ranked_and_recent_results_repeat_and_skip_nothing(sessions: sessionmaker[Session],
                                                                    tenants: dict[str, Any]) -> None:
    bodies = [("pedido " * (1 + i % 3)) + f"número {i}" for i in range(11)]
    expected = {received(sessions, WHATSAPP, f"55119{i:08d}", body)[0] for i, body in enumerate(bodies)}
    ana = acme(sessions)
    with sessions() as s:
        for sort in ("rank", "recent"):
            seen, cursor = [], None
            while True:
                page, cursor = search_messages(s, ana, "pedido", Filters(), sort, cursor, limit=4)
                seen += page
                if cursor is None:
                    break
            assert sorted(found(seen)) == sorted(expected) and len(seen) == len(expected), sort
            keys = [(h["rank"], h["message_id"]) for h in seen]  # rank 0 throughout when newest first
            assert keys == sorted(keys, reverse=True), sort
        with pytest.raises(Invalid):
            search_messages(s, ana, "pedido", Filters(), "rank", "not-a-cursor")


def test_ranking_covers_the_newest_matches_and_its_window_holds_still_across_pages(
        sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    older = [received(sessions, WHATSAPP, "5511900000001", "pedido " * 5)[0] for _ in range(3)]
    newer = [received(sessions, WHATSAPP, "5511900000002", "pedido")[0] for _ in range(3)]
    ana = acme(sessions)
    with sessions() as s:
        page, cursor = search_messages(s, ana, "pedido", Filters(), limit=2, rank_window=3)
    assert set(found(page)) < set(newer) and cursor  # the older, better matches are outside the window
    received(sessions, WHATSAPP, "5511900000003", "pedido pedido pedido")  # arrives between two pages
    with sessions() as s:
        rest, end = search_messages(s, ana, "pedido", Filters(), cursor=cursor, limit=2, rank_window=3)
        assert sorted(found(page + rest)) == sorted(newer) and end is None
        assert set(found(search_messages(s, ana, "pedido", Filters(), limit=10)[0])) >= set(older)


def test_contacts_by_name_prefix_phone_digits_and_email(sessions: sessionmaker[Session],
                                                       tenants: dict[str, Any]) -> None:
    corpus(sessions)
    ana = acme(sessions)
    with sessions() as s:
        def names(q: str, **kw: Any) -> list[str | None]:
            return [h["contact_name"] for h in search_contacts(s, ana, q, Filters(**kw))[0]]

        assert set(names("mar")) == {"Maria Silva", "Márcia Lima"}  # word prefixes, accents folded
        assert names("marcia") == ["Márcia Lima"] and names("silva mar") == ["Maria Silva"]
        assert set(names("98765")) == {"Maria Silva", "João Souza"}  # digits inside the number (trigram)
        assert names("carlos@exa") == ["Carlos"] and names("zzz") == []
        assert names("mar", channel_id=tenants["channels"][EMAIL].id) == []
        hit = search_contacts(s, ana, "carlos", Filters())[0][0]
        assert hit["contact"]["emails"] == ["carlos@example.com"]


def test_the_indexes_serve_the_searches(sessions: sessionmaker[Session], tenants: dict[str, Any]) -> None:
    """The expressions the searches build are the indexed ones: one that drifted would never use its index."""
    checks = (
        (select(Message.id).where(documents.SEARCH_VECTOR.op("@@")(documents.query("pedido"))),
         "ix_messages_search_vector"),
        (select(Contact.id).where(documents.contact_document(Contact.name).op("@@")(
            documents.prefix_query(["mar"]))), "ix_contacts_name_search"),
        (select(ContactIdentity.id).where(ContactIdentity.value.like("%98765%")), "ix_contact_identities_value_trgm"),
    )
    with sessions() as s:
        s.execute(text("SET LOCAL enable_seqscan = off"))
        for query, index in checks:
            sql = str(query.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))
            plan = "\n".join(row[0] for row in s.execute(text("EXPLAIN " + sql)))
            assert index in plan, plan


def test_sqlite_embedded_default_falls_back_to_like(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    migrate(url)
    engine = make_engine(Settings.from_env({"DATABASE_URL": url, "DATA_DIR": str(tmp_path)}))
    try:
        sessions = make_session_factory(engine, RecordingBus())
        with sessions() as s, s.begin():
            provision(s, TENANTS)
        ids = corpus(sessions)
        ana = acme(sessions)
        with sessions() as s:
            page, cursor = search_messages(s, ana, "pedido", Filters(), limit=2)
            rest, end = search_messages(s, ana, "pedido", Filters(), cursor=cursor, limit=2)
            assert set(found(page + rest)) == {ids["late"], ids["refund"], ids["invoice"]} and end is None
            assert found(search_messages(s, ana, "nota fiscal", Filters())[0]) == [ids["invoice"]]
            assert [h["contact_name"] for h in search_contacts(s, ana, "silva", Filters())[0]] == ["Maria Silva"]
            assert [h["contact_name"] for h in search_contacts(s, ana, "98765432", Filters())[0]] == [
                "Maria Silva"]
    finally:
        engine.dispose()


def test_snippet_is_the_body_around_the_first_match() -> None:
    body = "x" * 300 + " o pedido chegou " + "y" * 300
    cut = snippet(body, ["pedido"])
    assert cut.startswith("…") and cut.endswith("…") and "pedido" in cut and len(cut) <= 162
    assert snippet("curto", ["nada"]) == "curto"
