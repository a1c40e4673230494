"""Memory per connected socket on the Socket.IO tier, against a bare python-socketio gevent server in the same run.

Starts a private PostgreSQL and Redis, provisions one tenant with `--agents` agents, starts the tier as the campaign
does (ops/gunicorn.sockets.conf.py, gevent worker), logs the agents in through it (a warm-up too), then connects
`--sockets` websocket clients (ops/load/sockets.py, the campaign's client; the tokens are shared round-robin) and reads
the RSS of the tier's worker process (/proc/PID/statm) before and after. The same for the baseline
(ops/bench/socket_baseline.py) unless --no-baseline. Loopback only, bounded by a hard deadline, stops its children.

    $(bash ops/bench/tools.sh) -m ops.bench.socket_memory --sockets 1000
    $(bash ops/bench/tools.sh) -m ops.bench.socket_memory --sockets 1000 --hold 600   # and the drift over 10 min
    $(bash ops/bench/tools.sh) -m ops.bench.socket_memory --tier-args='--worker-class X' --no-baseline
    $(bash ops/bench/tools.sh) -m ops.bench.socket_memory --sockets 300 --tracemalloc --no-baseline  # what holds it

--tracemalloc starts tracemalloc in the worker (post_worker_init, through a wrapper of the tier's config) and prints
the snapshot difference (after - before the sockets) grouped by traceback; its RSS figures include tracemalloc's own
overhead, so read the per-socket RSS from a run without it.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path
from typing import Any

from ops.bench import loadgen
from ops.bench import tenants as tn
from tests.harness import agents as harness_agents
from tests.harness import processes as procs
from tests.harness import stack
from tests.harness.stack import log

TRACE_CONF = """\
import os as _os
exec(compile(open({conf!r}).read(), {conf!r}, "exec"))


def post_worker_init(worker):  # gunicorn hook signature
    import gc
    import tracemalloc

    import gevent

    tracemalloc.start({frames})

    def watch():
        n = 0
        while True:
            gevent.sleep(0.3)
            req = {dir!r} + f"/snap{{n}}.req"
            if _os.path.exists(req):
                gc.collect()
                tracemalloc.take_snapshot().dump({dir!r} + f"/snap{{n}}.tmp")
                _os.rename({dir!r} + f"/snap{{n}}.tmp", {dir!r} + f"/snap{{n}}.bin")
                _os.unlink(req)
                n += 1

    gevent.spawn(watch)
"""


def worker_pid(master: int, timeout: float = 30) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kids = procs.proc_children(master)
        if kids:
            return kids[0]
        time.sleep(0.2)
    raise RuntimeError("no gunicorn worker")


def snapshot(logdir: Path, n: int, timeout: float = 120) -> tracemalloc.Snapshot:
    (logdir / f"snap{n}.req").write_text("")
    path = logdir / f"snap{n}.bin"
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError("no tracemalloc snapshot")
        time.sleep(0.3)
    return tracemalloc.Snapshot.load(str(path))


def connect_and_measure(name: str, base: str, pid: int, tokens: list[str], n: int, parallel: int, settle: float,
                        logdir: Path, trace: bool, hold: float = 0, every: float = 60) -> dict[str, Any]:
    specs = [{"base": base, "token": tokens[i % len(tokens)], "tenant": "t00", "agent": i} for i in range(n)]
    spec_file, out_file = logdir / f"{name}-specs.json", logdir / f"{name}-out.json"
    spec_file.write_text(json.dumps(specs))
    time.sleep(settle)
    before_snap = snapshot(logdir, 0) if trace else None
    rss0 = procs.rss_bytes(pid)
    client = subprocess.Popen([sys.executable, "-m", "ops.load.sockets", str(spec_file), str(out_file),
                               "--parallel", str(parallel), "--max-seconds", str(120 + hold)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              cwd=procs.ROOT, start_new_session=True)
    try:
        lines: list[str] = []
        connected = ""
        for line in client.stdout:  # type: ignore[union-attr]
            lines.append(line.rstrip())
            if line.startswith("CONNECTED"):
                connected = line.strip()
                break
        if not connected:
            raise RuntimeError(f"{name}: socket clients died:\n" + "\n".join(lines[-20:]))
        threading.Thread(target=lambda: [lines.append(ln.rstrip()) for ln in client.stdout],  # type: ignore[union-attr]
                         daemon=True).start()
        time.sleep(settle)
        rss1 = procs.rss_bytes(pid)
        after_snap = snapshot(logdir, 1) if trace else None
        held = [(0.0, rss1)]  # (seconds since the first reading, RSS): the drift while the sockets stay connected
        t0 = time.monotonic()
        while time.monotonic() - t0 < hold:
            time.sleep(min(every, hold - (time.monotonic() - t0)))
            held.append((time.monotonic() - t0, procs.rss_bytes(pid)))
        client.stdin.close()  # type: ignore[union-attr]
        client.wait(timeout=60)
        seen = json.loads(out_file.read_text())
    finally:
        if client.poll() is None:
            client.kill()
    got = int(connected.split()[1])
    res = {"name": name, "connected": got, "live_at_end": seen["live_at_end"], "rss0": rss0, "rss1": rss1,
           "per_socket": (rss1 - rss0) / max(1, got), "line": connected}
    log(f"{name}: {connected}; RSS {rss0 / 1e6:.1f} -> {rss1 / 1e6:.1f} MB, {res['per_socket'] / 1024:.1f} KiB/socket")
    if len(held) > 1:
        (t_end, rss_end) = held[-1]
        res["drift"] = (f"held {t_end:.0f} s: RSS " + " ".join(f"{r / 1e6:.1f}" for _t, r in held)
                        + f" MB, {(rss_end - rss1) / 1e6 / (t_end / 60):+.2f} MB/min")
        log(f"{name}: {res['drift']}")
    if before_snap is not None and after_snap is not None:
        res["trace"] = trace_report(before_snap, after_snap, got)
    return res


def trace_report(before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, n: int, top: int = 25) -> str:
    filters = [tracemalloc.Filter(False, tracemalloc.__file__)]
    before, after = before.filter_traces(filters), after.filter_traces(filters)
    total = sum(s.size_diff for s in after.compare_to(before, "filename"))
    out = [f"tracemalloc: +{total / 1024 / max(1, n):.1f} KiB/socket of Python objects ({n} sockets); "
           f"by line (KiB/socket):"]
    for s in after.compare_to(before, "lineno")[:top]:
        fr = s.traceback[0]
        out.append(f"  {s.size_diff / 1024 / max(1, n):6.2f}  {s.count_diff / max(1, n):6.1f} blocks  "
                   f"{fr.filename.split('site-packages/')[-1]}:{fr.lineno}")
    out.append("by traceback (top 12, innermost last):")
    for s in after.compare_to(before, "traceback")[:12]:
        out.append(f"  {s.size_diff / 1024 / max(1, n):6.2f} KiB/socket, {s.count_diff / max(1, n):.1f} blocks")
        for fr in list(s.traceback)[-8:]:
            out.append(f"      {fr.filename.split('site-packages/')[-1]}:{fr.lineno}")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sockets", type=int, default=1000)
    ap.add_argument("--agents", type=int, default=10, help="agents logged in; the sockets share their tokens")
    ap.add_argument("--parallel", type=int, default=50, help="connects in flight")
    ap.add_argument("--settle", type=float, default=5, help="seconds before each RSS reading")
    ap.add_argument("--tier-args", default="", help="extra gunicorn arguments for the tier, e.g. --worker-class X")
    ap.add_argument("--tier-env", action="append", default=[], help="KEY=VALUE for the tier and baseline (repeatable)")
    ap.add_argument("--pythonpath", default="", help="appended to both servers' PYTHONPATH (a package to try)")
    ap.add_argument("--hold", type=float, default=0, help="seconds to keep the sockets connected after the reading, "
                    "reading the RSS every --every s (the drift)")
    ap.add_argument("--every", type=float, default=60)
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--no-tier", action="store_true", help="only the baseline")
    ap.add_argument("--tracemalloc", type=int, nargs="?", const=12, default=0, metavar="FRAMES")
    args = ap.parse_args()
    loadgen.install_deadline(280 + 2 * args.hold)

    st = stack.Stack("sockmem")
    results = []
    try:
        st.start_services()
        tokens: list[str] = []
        extra = shlex.split(args.tier_args)
        env = dict(st.env, **dict(kv.split("=", 1) for kv in args.tier_env))
        if args.pythonpath:
            env["PYTHONPATH"] += ":" + args.pythonpath
        if not args.no_tier:
            st.migrate()
            tenants, doc = tn.make_tenants(1, args.agents, 100, st.run_id)
            st.provision(doc, parallel=1)
            conf = str(st.src / "ops" / "gunicorn.sockets.conf.py")
            if args.tracemalloc:
                wrapper = st.logdir / "gunicorn.trace.conf.py"
                wrapper.write_text(TRACE_CONF.format(conf=conf, frames=args.tracemalloc, dir=str(st.logdir)))
                conf = str(wrapper)
            port = procs.free_port()
            tier = st.spawn("sockets", [str(stack.VENV_BIN / "gunicorn"), "-c", conf, "--bind", f"127.0.0.1:{port}",
                                        *extra, "api:create_app()"], env)
            base = f"http://127.0.0.1:{port}"
            st.wait_http(base)
            tokens = [harness_agents.login(base, t.slug, email, pw) for t in tenants for email, pw in t.agents]
            results.append(connect_and_measure("tier", base, worker_pid(tier.pid), tokens, args.sockets,
                                               args.parallel, args.settle, st.logdir, bool(args.tracemalloc),
                                               args.hold, args.every))
            tier.stop()
        if not args.no_baseline:
            port = procs.free_port()
            bl = st.spawn("baseline", [str(stack.VENV_BIN / "gunicorn"), "--worker-class", "gevent", "--workers", "1",
                                       "--worker-connections", "10000", "--bind", f"127.0.0.1:{port}", *extra,
                                       "ops.bench.socket_baseline:create_app()"], env)
            base = f"http://127.0.0.1:{port}"
            st.wait_http(base)
            results.append(connect_and_measure("baseline", base, worker_pid(bl.pid), tokens or ["x"], args.sockets,
                                               args.parallel, args.settle, st.logdir, False, args.hold, args.every))
        print(f"\n=== socket memory: {args.sockets} websocket clients, app {st.commit}, tier args "
              f"{args.tier_args or '-'} {' '.join(args.tier_env)} ===")
        for r in results:
            print(f"{r['name']:>9}: {r['per_socket'] / 1024:5.1f} KiB/socket  (worker RSS {r['rss0'] / 1e6:.1f} -> "
                  f"{r['rss1'] / 1e6:.1f} MB; {r['line']}; live at end {r['live_at_end']})")
        for r in results:
            if "drift" in r:
                print(f"{r['name']:>9}: {r['drift']}")
        for r in results:
            if "trace" in r:
                print(r["trace"])
        return 0
    finally:
        st.close()


if __name__ == "__main__":
    sys.exit(main())
