# One image for every process of atendimento: the API (default CMD), the Celery worker, beat, Flower and the
# one-shot migration job; docker-compose.yml only swaps the command.

# The agent console and Swagger UI assets come from npm, built here so the image serves them (no CDN).
FROM node:20-slim AS console
WORKDIR /src/api/console
COPY api/console/package.json api/console/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY api/console/ ./
RUN npm run build

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN useradd --system --create-home --uid 10001 --user-group app
# Dependencies from the runtime lock first (pinned and hash-checked): this layer is rebuilt only when the lock
# changes. The project then adds no package of its own (--no-deps), and `pip check` proves the lock complete.
COPY requirements/main.txt requirements/main.txt
RUN pip install --no-cache-dir --require-hashes -r requirements/main.txt
COPY . .
COPY --from=console /src/api/static/ api/static/
RUN pip install --no-cache-dir --no-deps . && pip check
# The code stays owned by root: the app can read it, not change it.
USER app
EXPOSE 8000
# One gthread process per instance: Socket.IO sessions live in the process that accepted them, so instances
# scale out behind a sticky proxy (ops/nginx/nginx.conf), not up in processes. See ops/gunicorn.conf.py.
CMD ["gunicorn", "-c", "ops/gunicorn.conf.py", "api:create_app()"]
