"""Where the CPU went: cores used per process tree over a window, and py-spy profiles of one process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.harness.processes import CLK_TCK, cpu_seconds


class CpuSampler:
    """CPU seconds used per named process tree between start() and stop(): where the two cores went."""

    def __init__(self, groups: Callable[[], dict[str, list[int]]]) -> None:
        self.groups = groups
        self.start_at = 0.0
        self.before: dict[str, dict[int, float]] = {}

    def _read(self) -> dict[str, dict[int, float]]:
        groups = {**self.groups(), "this-script": [os.getpid()]}  # the load generator and its measuring
        return {name: {p: cpu_seconds(p) for p in pids} for name, pids in groups.items()}

    def start(self) -> None:
        self.start_at, self.before, self.busy_before = time.monotonic(), self._read(), machine_busy()

    def stop(self) -> dict[str, float]:
        """Cores used by each group, plus `other`: the rest of the machine (this script, other people's runs)."""
        after, elapsed = self._read(), time.monotonic() - self.start_at
        out = {}
        for name, pids in after.items():
            used = sum(v - self.before.get(name, {}).get(p, 0.0) for p, v in pids.items())
            out[name] = used / elapsed if elapsed else 0.0  # cores
        busy = (machine_busy() - self.busy_before) / elapsed if elapsed else 0.0
        out["other"] = max(0.0, busy - sum(out.values()))
        return out


def machine_busy() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / CLK_TCK


def format_cpu(shares: dict[str, float]) -> str:
    total = sum(shares.values())
    parts = [f"{k}={v:.2f}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1])]
    return f"cores used: total={total:.2f} of {os.cpu_count()} | " + " ".join(parts)


def py_spy_top(pid: int, seconds: float, logdir: Path, name: str, rate: int = 50) -> list[tuple[str, float]]:
    """Sample `pid` with py-spy (if installed next to this interpreter or on PATH) and return the functions that
    take most samples (self time), as (frame, share)."""
    exe = shutil.which("py-spy", path=f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}")
    if exe is None:
        return []
    out = logdir / f"pyspy-{name}.txt"
    subprocess.run([exe, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", str(rate),
                    "--format", "raw", "--output", str(out), "--nonblocking", "--gil"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=seconds + 60)
    return top_frames(out)


PROFILE_NEEDLES = (
    "do_execute (sqlalchemy", "do_commit (sqlalchemy", "do_ping (sqlalchemy", "sqlalchemy/orm", "opentelemetry",
    "prometheus", "flask_limiter", "kombu", "redis/", "models/services/sla", "models/rules/sla",
    "models/services/triage", "models/services/assignment", "models/outbox", "models/realtime", "marshmallow",
    "pubsub_manager", "redis_manager", "engineio/async_drivers", "simple_websocket",
    "werkzeug", "celery/app/trace", "json",
)


def profile(pid: int, seconds: float, logdir: Path, name: str) -> str:
    """py-spy `pid` (GIL-holding samples: where its CPU goes) and format the hot frames and big components."""
    top = py_spy_top(pid, seconds, logdir, name)
    if not top:
        return f"(no py-spy samples for {name})"
    lines = [f"{name}: hot frames (self share of GIL-holding samples)"]
    lines += [f"    {share * 100:5.1f}%  {frame}" for frame, share in top]
    inc = inclusive_modules(logdir / f"pyspy-{name}.txt", PROFILE_NEEDLES)
    lines.append("  inclusive: " + ", ".join(f"{k.split(' (')[0]} {v * 100:.0f}%"
                                             for k, v in sorted(inc.items(), key=lambda kv: -kv[1]) if v >= 0.02))
    return "\n".join(lines)


def top_frames(path: Path, limit: int = 12) -> list[tuple[str, float]]:
    """Self samples and inclusive samples by frame from py-spy's raw (collapsed) output."""
    selfs: dict[str, int] = {}
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        leaf = stack.split(";")[-1]
        selfs[leaf] = selfs.get(leaf, 0) + n
    return [(k, v / total) for k, v in sorted(selfs.items(), key=lambda kv: -kv[1])[:limit]] if total else []


def inclusive_modules(path: Path, needles: Sequence[str]) -> dict[str, float]:
    """Share of samples whose stack passes through a frame containing each needle (e.g. 'sqlalchemy')."""
    counts = dict.fromkeys(needles, 0)
    total = 0
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    for line in lines:
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        for needle in needles:
            if needle in stack:
                counts[needle] += n
    return {k: v / total for k, v in counts.items()} if total else {}
