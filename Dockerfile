# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, from pyproject.toml alone, so source changes don't rebuild this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); print('\n'.join(p['project']['dependencies']))" > /tmp/requirements.txt \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install -r /tmp/requirements.txt
# Then the project itself (the migrations ship inside the package).
COPY README.md ./
COPY bot ./bot
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 newsbot \
    && mkdir /data \
    && chown newsbot /data
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    DATABASE_URL=sqlite:////data/newsbot.db
USER newsbot
WORKDIR /data
VOLUME ["/data"]
# 8443: webhook (WEBHOOK_URL set); 9090: /healthz and /metrics (METRICS_PORT).
EXPOSE 8443 9090
# Slim images have no curl; any error or a 503 makes urlopen raise, and the check fail.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('METRICS_PORT', '9090'), timeout=4)"]
# `newsbot run` applies pending migrations before it starts.
CMD ["newsbot", "run"]
