"""Child processes for tests and ops scripts: start one in its own session with its output in a log file, wait for
something, stop it (or kill its whole group), and read its CPU, memory and children from /proc."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent  # gunicorn, celery, alembic of the interpreter running the tests
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def child_env(**values: str) -> dict[str, str]:
    """A clean environment for a child: PATH, HOME, LANG and the PostgreSQL client variables, plus `values`.

    PYTHONPATH is this tree: a console script (`atendimento run`, `flask`) would otherwise import whichever
    checkout the venv's editable install points at, not the code under test.
    """
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "PGUSER", "PGHOST", "PGPORT")}
    return {**keep, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(ROOT), **values}


def wait_until(predicate: Callable[[], Any], timeout: float = 20, what: str = "condition", interval: float = 0.1,
               ignore: tuple[type[BaseException], ...] = (OSError,)) -> Any:
    """Poll `predicate` until it returns something true and return that; AssertionError after `timeout` s.

    Exceptions in `ignore` count as "not yet" (a server still starting refuses connections: requests'
    ConnectionError is an OSError); any other propagates at once (a child that exited early).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = predicate()
        except ignore:
            value = None
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class Proc:
    """A child process in its own session (so its whole group can be signalled), output to a log file, started at
    once; `tail()` shows the end of its log when a test fails."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], logdir: Path, cwd: Path = ROOT,
                 user: str | None = None) -> None:
        self.name, self.argv, self.env, self.logdir, self.cwd, self.user = name, argv, env, logdir, cwd, user
        self.log = logdir / f"{name}.log"
        self.popen: subprocess.Popen[bytes] | None = None
        self.start()

    def start(self) -> None:
        fh = self.log.open("ab")
        argv = ["runuser", "-u", self.user, "--", *self.argv] if self.user else self.argv
        self.popen = subprocess.Popen(argv, env=self.env, cwd=self.cwd, stdout=fh, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        fh.close()

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.signal_group(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait()
        # children left in the group (a prefork pool whose parent died)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)

    def kill(self) -> None:
        """SIGKILL the whole group at once (a crash, not a shutdown)."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def proc_children(pid: int) -> list[int]:
    """Direct and indirect children of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in parents.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as fh:
            return int(fh.read().split()[1]) * PAGE
    except OSError:
        return 0


def thread_count(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK
    except OSError:
        return 0.0


def tree(pid: int) -> list[int]:
    return [pid, *proc_children(pid)]


def cpu_settled(pid: int, window: float = 0.5) -> bool:
    """The process tree spent under 20% of a core during `window` (it finished importing)."""
    pids = tree(pid)
    before = sum(cpu_seconds(p) for p in pids)
    time.sleep(window)
    return sum(cpu_seconds(p) for p in pids) - before < 0.2 * window
