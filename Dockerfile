# syntax=docker/dockerfile:1
FROM python:3.12-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
# Dependencies first, so source changes don't rebuild this layer.
COPY pyproject.toml README.md ./
RUN mkdir -p bot migrations/versions && touch bot/__init__.py migrations/__init__.py migrations/versions/__init__.py \
    && python -m venv /opt/venv \
    && /opt/venv/bin/pip install . \
    && /opt/venv/bin/pip uninstall -y newsbot
COPY bot ./bot
COPY migrations ./migrations
RUN /opt/venv/bin/pip install --no-deps .

FROM python:3.12-slim
RUN useradd --create-home --uid 10001 newsbot
COPY --from=build /opt/venv /opt/venv
ENV PATH="/opt/venv/bin:$PATH" PYTHONUNBUFFERED=1 DATABASE_URL=sqlite:////data/newsbot.db
RUN mkdir /data && chown newsbot /data
USER newsbot
WORKDIR /data
VOLUME ["/data"]
CMD ["newsbot", "run"]
