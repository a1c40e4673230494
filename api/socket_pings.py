"""Engine.IO pings on an event-loop timer in the gevent Socket.IO tier, instead of a sleeping greenlet per socket.

python-engineio (4.15) schedules a socket's next ping by starting a background task that sleeps through the ping
interval (`Socket.schedule_ping` -> `_send_ping`). Under gevent that is one greenlet per connected agent parked in
`sleep` for 25 s of every 25, and a parked greenlet costs ~6 KiB of RSS whatever it does (its saved C stack, its
objects and Python 3.11's 4 KiB frame-stack page): about a tenth of what the tier holds per socket (ops/RESULTS.md,
tenth campaign). `gevent.spawn_later` waits on a timer in the event loop instead: until the ping is due its
greenlet is an unstarted object, with no stack. The packet, the `last_ping` bookkeeping that the timeout checks
read, and when a ping is scheduled (at connect and on each pong) stay engine.io's: only the wait changes.

engine.io has no hook for this, so `install()` replaces that one method on its socket class, in gevent mode only,
and refuses (leaving engine.io as it is, with a warning) if that method or the ping it starts is not the one it
was written against. The lock pins python-engineio; tests/e2e/test_socket_tier.py proves pings keep a live socket
open and a silent one is dropped.
"""

from __future__ import annotations

import inspect
import logging
import time

import gevent
from engineio import packet
from engineio.socket import Socket

log = logging.getLogger(__name__)

# engine.io's own bodies of the method replaced and of the ping it started, whitespace-normalised: a release that
# changes either is left as it is.
_EXPECTED = {
    "schedule_ping": "if self.last_ping: self.last_ping = None self.server.start_background_task(self._send_ping)",
    "_send_ping": "self.server.sleep(self.server.ping_interval) if not self.closing and not self.closed: "
                  "self.last_ping = time.time() self.send(packet.Packet(packet.PING))",
}


def _body(method: object) -> str:
    try:
        lines = inspect.getsource(method).splitlines()[1:]  # type: ignore[arg-type]
    except (OSError, TypeError):  # gone, or no source to read
        return ""
    return " ".join(line.strip() for line in lines if line.strip() and not line.strip().startswith("#"))


def _ping_when_due(sock: Socket) -> None:
    if not sock.closing and not sock.closed:
        sock.last_ping = time.time()
        sock.send(packet.Packet(packet.PING))


def _schedule_ping(self: Socket) -> None:
    # As engine.io's: only when the previous ping's cycle completed (at connect, then on each pong).
    if self.last_ping:
        self.last_ping = None
        gevent.spawn_later(self.server.ping_interval, _ping_when_due, self)


def install() -> bool:
    """Make every engine.io socket in this (gevent) process schedule its pings on a timer; True when installed."""
    if Socket.schedule_ping is _schedule_ping:
        return True
    if any(_body(getattr(Socket, name, None)) != body for name, body in _EXPECTED.items()):
        log.warning("engine.io's Socket pings are not the ones expected: they keep a greenlet per socket")
        return False
    Socket.schedule_ping = _schedule_ping
    log.info("engine.io pings wait on event-loop timers (no greenlet per socket between pings)")
    return True
