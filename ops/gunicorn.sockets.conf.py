"""gunicorn settings for the Socket.IO tier: `gunicorn -c ops/gunicorn.sockets.conf.py 'api:create_app()'`.

The same application as the API instances, on gunicorn's gevent worker: one process holds every websocket of
its instance on greenlets (a thread per socket in the gthread API), and hears the Redis message queue as every
instance does, so any process can still emit to any client. The proxy sends `/socket.io/` here, sticky per
client address (ops/nginx/nginx.conf); webhooks and the REST API stay on the gthread instances
(ops/gunicorn.conf.py), whose threads then never wait on a websocket. What the socket handlers read from
PostgreSQL (the token and session checks at connect, `subscribe`) waits cooperatively: psycogreen hands
psycopg2's waits to gevent, so one slow query never stalls the other sockets. The embedded default (`make run`
with no PostgreSQL/Redis) keeps everything in one threading process.
"""

import os

bind = os.environ.get("BIND", "0.0.0.0:8001")
worker_class = "gevent"
workers = 1
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "10000"))
timeout = 60
graceful_timeout = 30
# SOCKETIO_ASYNC_MODE is read by the app's settings (models.infra.config): Flask-SocketIO's gevent mode in this
# process only. GEVENT_TRACK_GREENLET_TREE=0: every socket holds four greenlets (handler, websocket reader, writer,
# ping), and by default gevent gives each one the spawning greenlet, a dict of spawn-tree locals and up to ten
# frames of the spawning stack, which only gevent's debugging helpers read: about 6 KiB of RSS per socket.
raw_env = ["SOCKETIO_ASYNC_MODE=gevent", "GEVENT_TRACK_GREENLET_TREE=0"]


def post_fork(server, worker):  # gunicorn hook signature
    from psycogreen.gevent import patch_psycopg

    patch_psycopg()


def child_exit(server, worker):  # gunicorn hook signature
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_flask_exporter.multiprocess import GunicornInternalPrometheusMetrics

        GunicornInternalPrometheusMetrics.mark_process_dead_on_child_exit(worker.pid)
