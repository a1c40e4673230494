# One image for every process of atendimento: the API (default CMD), the
# Celery worker, beat, flower and the one-shot migration job; docker-compose.yml
# only swaps the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Created before the code is copied so that ownership stays with root: the
# runtime user can read the application but not rewrite it.
RUN useradd --system --create-home --uid 10001 --user-group app

COPY . .

RUN pip install --no-cache-dir .

USER app

EXPOSE 8000

# No HEALTHCHECK here: worker, beat and flower reuse this image and have no
# HTTP endpoint on :8000. The API's check lives in docker-compose.yml.
#
# gthread with a single worker process: Flask-SocketIO keeps per-connection
# state in the process that accepted it, so several processes behind one port
# would need sticky sessions. One process per container, concurrency from
# threads; scale out with more containers behind a sticky load balancer.
CMD ["gunicorn", "--worker-class", "gthread", "--workers", "1", "--threads", "100", \
     "--bind", "0.0.0.0:8000", "api:create_app()"]
