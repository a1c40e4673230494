"""Many Socket.IO agents in one asyncio process (python-socketio AsyncClient, websocket transport).

Started by ops/load/campaign.py (needs aiohttp: run with the tools interpreter from ops/bench/tools.sh). Reads a JSON
list of {"base", "token", "tenant", "agent"} from argv[1], connects them all (`--parallel` at a time), prints one
status line every 10 s, and on stdin EOF (or after `--max-seconds`) writes to argv[2] a JSON document:

    {"connected": N, "connect_errors": N, "disconnects": N, "connect_seconds": S,
     "first_message": {"<body>": [wall_time, tenant]},  # first message.created (direction in) seen by any agent
     "assigned": {"<ticket id>": wall_time},             # first ticket.assigned seen by any agent
     "events": N}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

import socketio


class Agents:
    def __init__(self) -> None:
        self.first_message: dict[str, tuple[float, str]] = {}
        self.assigned: dict[str, float] = {}
        self.events = 0
        self.connected = 0
        self.connect_errors = 0
        self.disconnects = 0
        self.clients: list[socketio.AsyncClient] = []

    def make(self, tenant: str) -> socketio.AsyncClient:
        client = socketio.AsyncClient(reconnection=True, reconnection_delay=1, reconnection_delay_max=5)

        async def message_created(envelope: dict[str, Any]) -> None:
            now = time.time()
            self.events += 1
            data = envelope.get("data") or {}
            if data.get("direction") == "in":
                body = str(data.get("body"))
                if body not in self.first_message:
                    self.first_message[body] = (now, tenant)

        async def ticket_assigned(envelope: dict[str, Any]) -> None:
            now = time.time()
            self.events += 1
            key = str((envelope.get("data") or {}).get("id"))
            self.assigned.setdefault(key, now)

        async def any_event(_name: str, _data: Any = None) -> None:
            self.events += 1

        async def disconnect(*_a: Any) -> None:
            self.disconnects += 1

        client.on("message.created", message_created)
        client.on("ticket.assigned", ticket_assigned)
        client.on("*", any_event)
        client.on("disconnect", disconnect)
        return client

    async def connect(self, spec: dict[str, Any], sem: asyncio.Semaphore) -> None:
        async with sem:
            client = self.make(spec["tenant"])
            for attempt in range(3):
                try:
                    await client.connect(spec["base"], auth={"token": spec["token"]}, transports=["websocket"],
                                         wait_timeout=30)
                    self.connected += 1
                    self.clients.append(client)
                    return
                except Exception as exc:  # counted; retried twice
                    self.connect_errors += 1
                    if attempt == 2:
                        print(f"connect failed: {exc!r}", file=sys.stderr, flush=True)
                    await asyncio.sleep(1 + attempt)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("specs")
    ap.add_argument("out")
    ap.add_argument("--parallel", type=int, default=50)
    ap.add_argument("--max-seconds", type=float, default=3600)
    args = ap.parse_args()
    with open(args.specs) as fh:
        specs = json.load(fh)
    agents = Agents()
    sem = asyncio.Semaphore(args.parallel)
    t0 = time.monotonic()
    await asyncio.gather(*(agents.connect(s, sem) for s in specs))
    connect_seconds = time.monotonic() - t0
    print(f"CONNECTED {agents.connected} errors {agents.connect_errors} in {connect_seconds:.1f} s", flush=True)

    loop = asyncio.get_running_loop()
    eof = loop.run_in_executor(None, sys.stdin.read)
    deadline = time.monotonic() + args.max_seconds
    while not eof.done() and time.monotonic() < deadline:
        await asyncio.sleep(1)
        if int(time.monotonic() - t0) % 10 == 0:
            live = sum(1 for c in agents.clients if c.connected)
            print(f"STATUS live {live} events {agents.events} disconnects {agents.disconnects}", flush=True)
    live = sum(1 for c in agents.clients if c.connected)
    with open(args.out, "w") as fh:
        json.dump({"connected": agents.connected, "live_at_end": live, "connect_errors": agents.connect_errors,
                   "disconnects": agents.disconnects, "connect_seconds": connect_seconds,
                   "first_message": agents.first_message, "assigned": agents.assigned, "events": agents.events}, fh)
    print("WRITTEN", flush=True)
    await asyncio.gather(*(c.disconnect() for c in agents.clients), return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
