"""Moved to the `tests.harness` package (processes, stack, sockets); these names stay importable from here."""

from tests.harness.processes import BIN, ROOT, Proc, child_env, free_port, wait_until
from tests.harness.sockets import Listener
from tests.harness.stack import running_stack, wait_ready

__all__ = ["BIN", "ROOT", "Listener", "Proc", "child_env", "free_port", "running_stack", "wait_ready", "wait_until"]
