"""The operations port: `/healthz` for orchestrators and `/metrics` for Prometheus.

A small threaded HTTP server of the standard library, so a slow scrape or a hung database
check never blocks the bot's event loop.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import sqlalchemy as sa
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.engine import Engine

from bot.ops import metrics
from bot.services.stats import scrape_registry

log = logging.getLogger(__name__)

# A round may legitimately take as long as a fetch timeout; never call a bot stale sooner.
MIN_STALE_SECONDS = 30.0


@dataclass(slots=True)
class InstanceStatus:
    """Whether this process is the active instance, and since when (Unix time)."""

    active: bool = False
    active_since: float | None = None

    def activate(self) -> None:
        """Mark this process active from now on."""
        self.active, self.active_since = True, time.time()
        metrics.INSTANCE_ACTIVE.set(1)


@dataclass(frozen=True, slots=True)
class Health:
    status: int  # HTTP status
    detail: str


def assess(
    *,
    database_ok: bool,
    active: bool,
    last_round: float | None,
    active_since: float | None,
    poll_interval: float,
    now: float,
) -> Health:
    """Judge health: the database answers and the poll job ran within three intervals.

    A standby (waiting for the active instance) is healthy while the database answers:
    restarting it would not help.
    """
    if not database_ok:
        return Health(503, "database does not answer")
    if not active:
        return Health(200, "standby: waiting for the active instance")
    stale_after = max(3 * poll_interval, MIN_STALE_SECONDS)
    # Until the first round has finished, count from when this process became active.
    since = max((t for t in (last_round, active_since) if t is not None), default=now)
    age = now - since
    if age > stale_after:
        return Health(503, f"no poll round for {age:.0f} s (limit {stale_after:.0f} s)")
    return Health(200, "ok")


def database_answers(engine: Engine) -> bool:
    """Return True when the database answers a trivial query."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        return True
    except Exception as err:
        log.warning("health check: database does not answer: %s", type(err).__name__)
        return False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ops: OpsServer


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: scrapes and probes come every few seconds."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            body = generate_latest(self.server.ops.registry)
            self._answer(200, body, CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            health = self.server.ops.health()
            self._answer(health.status, f"{health.detail}\n".encode(), "text/plain; charset=utf-8")
        else:
            self._answer(404, b"not found: try /healthz or /metrics\n", "text/plain")

    def _answer(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            self.close_connection = True


class OpsServer:
    """Serve `/healthz` and `/metrics` on a background thread."""

    def __init__(
        self,
        *,
        listen: str,
        port: int,
        engine: Engine,
        status: InstanceStatus,
        poll_interval: float,
    ) -> None:
        self.listen = listen
        self.port = port
        self.engine = engine
        self.status = status
        self.poll_interval = poll_interval
        self.registry = scrape_registry(engine)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def health(self) -> Health:
        """Assess health now."""
        return assess(
            database_ok=database_answers(self.engine),
            active=self.status.active,
            last_round=metrics.last_poll_job(),
            active_since=self.status.active_since,
            poll_interval=self.poll_interval,
            now=time.time(),
        )

    def start(self) -> OpsServer:
        """Bind and serve; raise OSError when the address can't be used."""
        server_class = type(
            "_OpsServer",
            (_Server,),
            {"address_family": socket.AF_INET6 if ":" in self.listen else socket.AF_INET},
        )
        server = server_class((self.listen, self.port), _Handler)
        server.ops = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.2},
            name="ops-http",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def start_ops_server(
    *, listen: str, port: int, engine: Engine, status: InstanceStatus, poll_interval: float
) -> OpsServer | None:
    """Start the operations server; log and return None when its port can't be used."""
    if port == 0:
        return None
    try:
        server = OpsServer(
            listen=listen, port=port, engine=engine, status=status, poll_interval=poll_interval
        ).start()
    except OSError as err:
        log.error(
            "health and metrics are off: cannot listen on %s:%d (%s)",
            listen,
            port,
            err.strerror or err,
            extra={"listen": listen, "port": port},
        )
        return None
    log.info(
        "health and metrics on http://%s:%d/healthz and /metrics",
        listen,
        server.port,
        extra={"listen": listen, "port": server.port},
    )
    return server
