"""gunicorn settings for the API: `gunicorn -c ops/gunicorn.conf.py 'api:create_app()'`.

One process per instance (Socket.IO sessions live in the process that accepted them; scale with more
instances behind a sticky proxy), threads for concurrency. With PROMETHEUS_MULTIPROC_DIR set, a worker
that exits is marked dead so its live gauges stop counting.
"""

import os

bind = os.environ.get("BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = 1
threads = int(os.environ.get("GUNICORN_THREADS", "100"))
timeout = 60
graceful_timeout = 30


def child_exit(server, worker):  # gunicorn hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
