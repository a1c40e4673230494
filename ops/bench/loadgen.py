"""The load generator side of the benchmarks and campaigns: an open-loop sender that measures latency from the
scheduled send time, closed-loop throughput with `wrk`, percentiles and a hard deadline for the script."""

from __future__ import annotations

import http.client
import itertools
import json
import math
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.harness.stack import log

# The load starts at full rate after a minute of logins: the first seconds' queue (the chain's and the project's
# alike, ninth campaign) can set a 60-s run's p99 alone, so the scripts also print p99 without them.
STEADY_AFTER = 3.0


def pct(values: Sequence[float], p: float) -> float:
    """Percentile by nearest rank (p in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


def ms(seconds: float) -> str:
    return "n/a" if seconds != seconds else f"{seconds * 1000:.1f} ms"


def ratio(a: float, b: float) -> str:
    return "n/a" if not b or a != a or b != b else f"{a / b:.2f}"


def install_deadline(seconds: float) -> None:
    """Whatever happens, interrupt this script after `seconds` so its finally blocks stop every child."""
    def fire() -> None:
        log(f"hard deadline of {seconds:.0f} s reached: interrupting")
        os.kill(os.getpid(), signal.SIGINT)

    timer = threading.Timer(seconds, fire)
    timer.daemon = True
    timer.start()

    def on_term(*_: Any) -> None:  # SIGTERM behaves like Ctrl-C, so `finally` blocks run
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)


def post_raw(conn: http.client.HTTPConnection, path: str, raw: bytes, signature: str) -> int:
    conn.request("POST", path, raw, {"Content-Type": "application/json", "X-Hub-Signature-256": signature})
    resp = conn.getresponse()
    resp.read()
    return resp.status


@dataclass
class Shot:
    index: int
    scheduled: float  # monotonic
    started: float
    ended: float
    status: int  # -1: connection error or timeout
    wall: float  # time.time() at start, to match events seen by other processes


def open_loop(targets: Sequence[str], rate: float, duration: float, payload: Callable[[int], tuple[bytes, str]],
              path: str = "/webhooks/whatsapp", threads: int = 64, timeout: float = 10,
              stop: threading.Event | None = None, on_shot: Callable[[Shot], None] | None = None) -> list[Shot]:
    """Send `rate` requests a second for `duration` s on a fixed schedule (request i at t0 + i/rate), from a pool of
    keep-alive connections spread over `targets` (base URLs). Latency counts from the scheduled time, so a slow
    server cannot hide its queueing by slowing the generator down (no coordinated omission). Sending stops at
    `duration` + 10 % (+2 s) even when the server fell behind: what was never sent is left out (and the achieved
    rate shows it)."""
    from urllib.parse import urlsplit

    total = int(rate * duration)
    shots: list[Shot | None] = [None] * total
    counter = itertools.count()
    t0 = time.monotonic() + 0.2
    cutoff = t0 + duration * 1.1 + 2
    hosts = [urlsplit(t) for t in targets]

    def work(k: int) -> None:
        u = hosts[k % len(hosts)]
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
        last = time.monotonic()
        while True:
            i = next(counter)
            if i >= total or (stop is not None and stop.is_set()) or time.monotonic() > cutoff:
                break
            scheduled = t0 + i / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if time.monotonic() - last > 1.5:  # gunicorn drops keep-alive connections idle for 2 s
                conn.close()
            last = time.monotonic()
            raw, sig = payload(i)
            wall = time.time()
            started = time.monotonic()
            try:
                status = post_raw(conn, path, raw, sig)
            except (OSError, http.client.HTTPException):
                status = -1
                conn.close()
                conn = http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)
            shot = Shot(i, scheduled, started, time.monotonic(), status, wall)
            shots[i] = shot
            if on_shot is not None:
                on_shot(shot)
        conn.close()

    pool = [threading.Thread(target=work, args=(k,), daemon=True) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return [s for s in shots if s is not None]


def summarize_shots(shots: Sequence[Shot]) -> dict[str, float]:
    ok = [s for s in shots if s.status == 200]
    if not shots:
        return {"sent": 0}
    span = max(s.ended for s in shots) - min(s.scheduled for s in shots)
    lat = [s.ended - s.scheduled for s in ok]
    svc = [s.ended - s.started for s in ok]
    return {"sent": len(shots), "ok": len(ok), "errors": len(shots) - len(ok), "rps": len(ok) / span if span else 0,
            "p50": pct(lat, 50), "p99": pct(lat, 99), "max": max(lat) if lat else float("nan"),
            "svc_p50": pct(svc, 50), "svc_p99": pct(svc, 99),
            "late_p99": pct([s.started - s.scheduled for s in shots], 99)}


# --------------------------------------------------------------------------------------------- wrk

WRK_LUA = r"""
-- Sends pre-signed WhatsApp deliveries, each once: thread k of n takes lines k, k+n, k+2n ... of the file.
local items = {}
local n = 0
local wrapped = 0
function setup(thread)
  thread:set("tid", _G.next_tid or 0)
  _G.next_tid = (_G.next_tid or 0) + 1
end
function init(args)
  local file, nthreads = args[1], tonumber(args[2])
  local i = 0
  for line in io.lines(file) do
    if i % nthreads == tid then
      local tab = string.find(line, "\t", 1, true)
      items[#items + 1] = {string.sub(line, 1, tab - 1), string.sub(line, tab + 1)}
    end
    i = i + 1
  end
end
function request()
  n = n + 1
  if n > #items then n = 1; wrapped = wrapped + 1 end
  local it = items[n]
  return wrk.format("POST", nil, {["Content-Type"] = "application/json", ["X-Hub-Signature-256"] = it[1]}, it[2])
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""


def write_bodies(path: Path, items: Iterable[tuple[bytes, str]]) -> int:
    n = 0
    with path.open("wb") as fh:
        for raw, sig in items:
            assert b"\n" not in raw and b"\t" not in raw
            fh.write(sig.encode() + b"\t" + raw + b"\n")
            n += 1
    return n


def wrk(url: str, bodies: Path, duration: float, connections: int = 50, threads: int = 2,
        logdir: Path | None = None) -> dict[str, float]:
    """Closed-loop maximum throughput with `wrk` (Debian's package), every request a distinct signed body."""
    script = (logdir or bodies.parent) / "bodies.lua"
    script.write_text(WRK_LUA)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{int(duration)}s", "--timeout", "10s",
            "-s", str(script), url, "--", str(bodies), str(threads)]
    out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=duration + 60)
    text = out.stdout.decode(errors="replace")
    line = next((ln for ln in text.splitlines() if ln.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk failed:\n{text}")
    doc = json.loads(line.removeprefix("WRKJSON "))
    non2xx = 0
    for ln in text.splitlines():
        if "Non-2xx or 3xx responses:" in ln:
            non2xx = int(ln.rsplit(":", 1)[1])
    secs = doc["duration_us"] / 1e6
    return {"requests": doc["requests"], "rps": (doc["requests"] - non2xx) / secs, "non2xx": non2xx,
            "socket_errors": doc["connect"] + doc["read"] + doc["write"] + doc["timeout"],
            "p50": doc["p50_us"] / 1e6, "p90": doc["p90_us"] / 1e6, "p99": doc["p99_us"] / 1e6,
            "max": doc["max_us"] / 1e6, "seconds": secs}
