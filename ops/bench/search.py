"""Search latency on a million messages: p50/p99 of representative searches beside a plain indexed lookup
(the latest page of one ticket's messages), measured in the same run on the same connection, with ratios.

A private database is created, migrated, filled server-side (`INSERT ... SELECT generate_series`, in bounded
batches: no rows cross the wire), indexed, measured through the service functions the API calls, and dropped.

    .venv/bin/python -m ops.bench.search                      # 1 000 000 messages, ~5 minutes on 2 cores
    .venv/bin/python -m ops.bench.search --messages 100000 --runs 20

PostgreSQL is the machine's (PGUSER / PGHOST / PGPORT, defaults postgres@127.0.0.1:5432, as for the tests).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event, select, text

from models import Channel, User
from models.base import utcnow
from models.infra.bus import RecordingBus
from models.infra.config import Settings
from models.infra.db import make_engine, make_session_factory
from models.search import CONTACT_NAME_INDEX, MESSAGE_BODY_INDEX
from models.services import conversation
from models.services.accounts import provision
from models.services.search import Filters, search_contacts, search_messages
from tests.conftest import TENANTS, migrate
from tests.fakes.whatsapp import PHONE_NUMBER_ID

ROOT = Path(__file__).resolve().parents[2]

WORDS = ["olá", "bom", "dia", "boa", "tarde", "noite", "obrigado", "obrigada", "por", "favor", "preciso", "ajuda",
         "pedido", "pedidos", "entrega", "entregue", "atrasado", "atrasou", "chegou", "não", "chegou", "ainda",
         "hoje", "amanhã", "ontem", "semana", "produto", "produtos", "troca", "devolução", "cancelar",
         "cancelamento", "cancelado", "pagamento", "boleto", "cartão", "pix", "cobrança", "fatura", "nota", "fiscal",
         "endereço", "número", "rastreio", "código", "prazo", "frete", "loja", "site", "aplicativo", "senha",
         "acesso", "conta", "cadastro", "email", "telefone", "whatsapp", "atendente", "atendimento", "reclamação",
         "problema", "defeito", "quebrado", "errado", "tamanho", "cor", "modelo", "garantia", "assistência",
         "técnica", "suporte", "dúvida", "informação", "valor", "preço", "desconto", "cupom", "promoção", "compra",
         "comprei", "recebi", "receber", "enviar", "enviado", "transportadora", "correios", "retirada",
         "agendamento", "horário", "urgente", "aguardando", "resposta", "retorno", "protocolo", "solução",
         "resolvido", "consegui", "funciona", "funcionando", "parou", "sistema", "erro", "mensagem", "foto", "vídeo",
         "documento", "contrato", "plano", "mensalidade", "renovação", "assinatura"]
FIRST = ["Maria", "João", "Ana", "Pedro", "Márcia", "Lucas", "Juliana", "Carlos", "Fernanda", "José", "Beatriz",
         "Rafael", "Camila", "Bruno", "Letícia", "Marcos", "Patrícia", "Gabriel", "Aline", "Thiago"]
LAST = ["Silva", "Souza", "Oliveira", "Santos", "Lima", "Pereira", "Costa", "Rodrigues", "Almeida", "Nascimento",
        "Araújo", "Ribeiro", "Carvalho", "Gomes", "Martins", "Rocha", "Barbosa", "Mendes", "Freitas", "Cardoso"]


def sql_array(items: list[str]) -> str:
    return "ARRAY[" + ",".join("'" + w.replace("'", "''") + "'" for w in items) + "]"


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def fill(conn: Any, tenant: int, channel: int, queue: int, contacts: int, tickets: int, messages: int,
         batch: int) -> None:
    """Contacts with a phone identity, tickets over them (at most one open per contact), messages of 4-15 words
    drawn at random, spread over 180 days; every 5000th message also says "estorno" (a rare word)."""
    conn.execute(text(f"""
        INSERT INTO contacts (tenant_id, name, phone, attributes, created_at)
        SELECT :t, ({sql_array(FIRST)})[1 + (i * 7) % 20] || ' ' || ({sql_array(LAST)})[1 + (i * 13 / 20) % 20],
               '55119' || lpad(i::text, 8, '0'), '{{}}'::jsonb, now() - (i % 180) * interval '1 day'
        FROM generate_series(1, :n) i"""), {"t": tenant, "n": contacts})
    conn.execute(text("""
        INSERT INTO contact_identities (tenant_id, contact_id, kind, value, created_at)
        SELECT tenant_id, id, 'phone', phone, created_at FROM contacts WHERE tenant_id = :t AND phone IS NOT NULL
        ON CONFLICT DO NOTHING"""), {"t": tenant})
    first_contact = conn.execute(text("SELECT min(id) FROM contacts WHERE tenant_id = :t"), {"t": tenant}).scalar()
    conn.execute(text("""
        INSERT INTO tickets (tenant_id, contact_id, channel_id, queue_id, status, priority, required_skills,
                             triage_state, created_at, updated_at)
        SELECT :t, :c0 + (i % :nc), :ch, :q,
               CASE WHEN i >= :nc THEN 'resolved' WHEN i % 3 = 0 THEN 'queued' WHEN i % 3 = 1 THEN 'assigned'
                    ELSE 'pending' END,
               0, '[]'::jsonb, '{}'::jsonb, now() - (i % 180) * interval '1 day', now()
        FROM generate_series(0, :n - 1) i"""), {"t": tenant, "c0": first_contact, "nc": contacts, "ch": channel,
                                                 "q": queue, "n": tickets})
    first_ticket = conn.execute(text("SELECT min(id) FROM tickets WHERE tenant_id = :t"), {"t": tenant}).scalar()
    for start in range(0, messages, batch):
        t0 = time.monotonic()
        # The word subquery mentions i, so it is drawn again for every row.
        conn.execute(text(f"""
            INSERT INTO messages (tenant_id, ticket_id, channel_id, direction, kind, body, payload, status,
                                  attempts, created_at)
            SELECT :t, :t0 + (i % :nt), :ch, CASE WHEN i % 2 = 0 THEN 'in' ELSE 'out' END, 'text',
                   array_to_string(ARRAY(SELECT w.words[1 + floor(random() * array_length(w.words, 1))::int]
                                         FROM generate_series(1, 4 + (i % 12)) WHERE i IS NOT NULL), ' ')
                   || CASE WHEN i % 5000 = 0 THEN ' estorno' ELSE '' END,
                   '{{}}'::jsonb, CASE WHEN i % 2 = 0 THEN 'received' ELSE 'delivered' END, 0,
                   now() - (i % 180) * interval '1 day' - (i % 86400) * interval '1 second'
            FROM generate_series(:a, :b) i, (SELECT {sql_array(WORDS)} AS words) w"""),
            {"t": tenant, "t0": first_ticket, "nt": tickets, "ch": channel, "a": start,
             "b": min(start + batch, messages) - 1})
        conn.commit()
        print(f"  messages {min(start + batch, messages):>9,} ({time.monotonic() - t0:.1f} s)", flush=True)


def measure(fn: Callable[[], Any], runs: int) -> tuple[float, float, int]:
    """(p50 ms, p99 ms, hits of the last run) after two warm-up runs."""
    for _ in range(2):
        fn()
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p99 = times[min(len(times) - 1, round(0.99 * (len(times) - 1)))]
    return statistics.median(times), p99, len(result[0]) if result else 0


def explain(engine: Any, session: Any, fn: Callable[[], Any]) -> str:
    """EXPLAIN ANALYZE of the longest statement `fn` runs (the search itself, not the identity lookups)."""
    seen: list[str] = []

    def grab(_conn: Any, cursor: Any, statement: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append(cursor.mogrify(statement, params).decode())

    event.listen(engine, "before_cursor_execute", grab)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", grab)
    sql = max(seen, key=len)
    return "\n".join(row[0] for row in session.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + sql)))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--messages", type=int, default=1_000_000)
    ap.add_argument("--tickets", type=int, default=100_000)
    ap.add_argument("--contacts", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=200_000, help="messages per INSERT ... SELECT")
    ap.add_argument("--runs", type=int, default=30, help="timed runs of each search")
    ap.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of each search's main query")
    args = ap.parse_args()
    pg = f"{os.environ.get('PGUSER', 'postgres')}@{os.environ.get('PGHOST', '127.0.0.1')}:" \
         f"{os.environ.get('PGPORT', '5432')}"
    name = f"atd_bench_search_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"postgresql+psycopg2://{pg}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"postgresql+psycopg2://{pg}/{name}"
    engine = None
    try:
        print(f"start: {uptime()}")
        migrate(url)
        engine = make_engine(Settings.from_env({"DATABASE_URL": url, "SECRET_KEY": "x" * 32}))
        sessions = make_session_factory(engine, RecordingBus())
        with sessions() as s, s.begin():
            provision(s, TENANTS)
        with sessions() as s:
            channel = s.scalars(select(Channel).where(Channel.external_id == PHONE_NUMBER_ID)).one()
            user = s.scalars(select(User).where(User.email == "carla@acme.example")).one()
        t0 = time.monotonic()
        with engine.connect() as conn:
            # Bulk load without the GIN indexes, then build them once (the stored vectors are computed on insert).
            for index in (MESSAGE_BODY_INDEX, CONTACT_NAME_INDEX):
                index.drop(conn)
            conn.commit()
            fill(conn, channel.tenant_id, channel.id, channel.default_queue_id, args.contacts, args.tickets,
                 args.messages, args.batch)
            load = time.monotonic() - t0
            t1 = time.monotonic()
            conn.execute(text("SET maintenance_work_mem = '256MB'"))
            for index in (MESSAGE_BODY_INDEX, CONTACT_NAME_INDEX):
                index.create(conn)
            conn.commit()
            build = time.monotonic() - t1
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))  # statistics and the visibility map, as autovacuum would
        with engine.connect() as conn:
            size = conn.execute(text("SELECT pg_size_pretty(pg_relation_size('ix_messages_search_vector')), "
                                     "pg_size_pretty(pg_relation_size('messages'))")).one()
        print(f"loaded {args.messages:,} messages, {args.tickets:,} tickets, {args.contacts:,} contacts in "
              f"{load:.0f} s; full-text index built in {build:.0f} s ({size[0]}; table {size[1]})")
        rng = random.Random(7)
        with engine.connect() as conn:
            ticket_ids = list(conn.execute(text("SELECT id FROM tickets ORDER BY random() LIMIT 500")).scalars())
        queued = Filters(status="queued", channel_id=channel.id)
        last_week = Filters(since=utcnow() - timedelta(days=7))
        cases: list[tuple[str, Callable[[Any], Any]]] = [
            ("baseline: latest 20 messages of a ticket", lambda s: (conversation.list_messages(
                s, user, rng.choice(ticket_ids), None, 20)[0], None)),
            ("rare word 'estorno', ranked", lambda s: search_messages(s, user, "estorno", Filters())),
            ("common word 'pedido', ranked", lambda s: search_messages(s, user, "pedido", Filters())),
            ("common word 'pedido', newest first", lambda s: search_messages(s, user, "pedido", Filters(), "recent")),
            ("two words 'boleto atrasado', ranked", lambda s: search_messages(s, user, "boleto atrasado", Filters())),
            ("phrase '\"nota fiscal\"', ranked", lambda s: search_messages(s, user, '"nota fiscal"', Filters())),
            ("'pedido' + status/channel, ranked", lambda s: search_messages(s, user, "pedido", queued)),
            ("'pedido' last 7 days, ranked", lambda s: search_messages(s, user, "pedido", last_week)),
            ("contacts: name prefix 'mar silv'", lambda s: search_contacts(s, user, "mar silv", Filters())),
            ("contacts: phone digits '00012'", lambda s: search_contacts(s, user, "00012", Filters())),
        ]
        print(f"\n=== search on {args.messages:,} messages: {args.runs} runs each after 2 warm-ups, "
              f"ms per call through the service (SQL + ORM) ===")
        base = None
        with sessions() as s:
            for label, fn in cases:
                p50, p99, hits = measure(lambda fn=fn: fn(s), args.runs)
                base = base or p50
                print(f"{label:42s} p50 {p50:8.2f}  p99 {p99:8.2f}  = {p50 / base:7.1f} x baseline p50"
                      f"  ({hits} hits on the page)", flush=True)
                s.rollback()
            if args.explain:
                for label, fn in cases:
                    print(f"\n--- {label}\n" + explain(engine, s, lambda fn=fn: fn(s)))
                    s.rollback()
        print(f"\nend: {uptime()}")
    finally:
        if engine is not None:
            engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
