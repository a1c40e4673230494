"""One harness for the end-to-end tests, the fault tests and the ops scripts (benchmarks, load and fault campaigns).

- `processes`: child processes with their logs, waiting, /proc readings (CPU, memory, children);
- `services`: a private PostgreSQL cluster and a private Redis server on free loopback ports;
- `stack`: the app's processes (API under gunicorn, Celery workers, beat): `running_stack` on the test database,
  `Stack` on private services for the ops scripts;
- `sockets`: a socket agent (python-socketio client with an access token) recording every event;
- `agents`: an agent over the HTTP API who answers every ticket;
- `providers`: a flaky provider (the local Graph API with a switch: fail, hang, hold, slow down).

The ops scripts import it as a package: run them from the repository root as modules (`python -m ops.bench.intake`).
"""
