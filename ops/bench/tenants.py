"""Tenants for the benchmarks and campaigns: many tenants with many agents, and signed WhatsApp deliveries."""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from tests.fakes import whatsapp as wa
from tests.fakes.graph import GraphServer


@dataclass
class Tenant:
    slug: str
    phone_number_id: str
    app_secret: str
    agents: list[tuple[str, str]]  # (email, password)
    supervisor: tuple[str, str]


def make_tenants(count: int, agents: int, max_tickets: int, run_id: str) -> tuple[list[Tenant], dict[str, Any]]:
    """`count` tenants, each with one WhatsApp channel, a Support queue, `agents` agents and a supervisor."""
    tenants, docs = [], []
    for i in range(count):
        slug = f"t{i:02d}"
        t = Tenant(slug=slug, phone_number_id=f"9{i:03d}{run_id[:6].encode().hex()[:8]}",
                   app_secret=f"secret-{slug}-{run_id}", agents=[], supervisor=(f"sup@{slug}.example", "pw-sup"))
        # The supervisor hears every ticket of the tenant (supervisors room) and is no queue member (so it neither
        # takes tickets nor hears the queue room twice).
        users = [{"email": t.supervisor[0], "name": "Supervisor", "role": "supervisor", "password": t.supervisor[1]}]
        for a in range(agents):
            email, pw = f"a{a:03d}@{slug}.example", f"pw-{slug}-{a}"
            t.agents.append((email, pw))
            users.append({"email": email, "name": f"Agent {a}", "password": pw, "max_tickets": max_tickets,
                          "queues": ["Support"]})
        docs.append({"slug": slug, "name": f"Tenant {i}", "queues": [{"name": "Support"}], "users": users,
                     "channels": [{"kind": "whatsapp", "external_id": t.phone_number_id, "default_queue": "Support",
                                   "credentials": {"app_secret": t.app_secret, "verify_token": f"v-{slug}",
                                                   "access_token": wa_token()}}]})
        tenants.append(t)
    return tenants, {"tenants": docs}


def wa_token() -> str:
    return GraphServer.token


def signed(tenant: Tenant, wamid: str, sender: str, body: str) -> tuple[bytes, str]:
    raw = wa.encode(wa.text_delivery(wamid, sender=sender, body=body, name=f"C {sender[-4:]}",
                                     phone_number_id=tenant.phone_number_id))
    return raw, wa.sign(raw, tenant.app_secret)


def sender_number(n: int) -> str:
    """A distinct Brazilian mobile number with the ninth digit (normalisation leaves it as is)."""
    return f"55119{n:08d}"


def jitter_senders(count: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    numbers = rng.sample(range(10**7, 10**8), count)
    return [sender_number(n) for n in numbers]
