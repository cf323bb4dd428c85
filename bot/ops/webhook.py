"""Webhook mode: a small HTTP server that takes Telegram's updates for the application.

Unlike python-telegram-bot's built-in server (which reads a whole request body, up to
tornado's 100 MB default, before looking at it), this one checks the secret header before
reading a byte of the body, refuses bodies over 1 MiB with 413 (Telegram's updates are a
few KiB), and answers 400 to anything that is not a JSON update.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
from collections.abc import Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

import tornado.web
from telegram import Update
from tornado.httpserver import HTTPServer

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1024 * 1024

AnyApplication = Any  # telegram.ext.Application with our context types


@tornado.web.stream_request_body
class UpdateHandler(tornado.web.RequestHandler):
    """POST one update: secret header, size and JSON checked before it is queued."""

    SUPPORTED_METHODS = ("POST",)

    def initialize(self, app: AnyApplication, secret: str) -> None:
        """Take the application and the secret (tornado calls this for every request)."""
        self.app = app
        self.secret = secret.encode()
        self.chunks: list[bytes] = []
        self.size = 0

    def log_exception(self, *args: Any) -> None:
        """Stay quiet about refused requests; they are logged below at DEBUG."""

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        log.debug("webhook request refused: %s", why)
        self.set_status(status)
        self.set_header("Content-Type", "text/plain; charset=utf-8")
        self.set_header("Connection", "close")
        self.finish(f"{status.value} {status.phrase}\n")

    def prepare(self) -> None:
        """Check the secret and the declared size before any of the body is read."""
        if self.request.method != "POST":
            return
        given = self.request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, self.secret):
            self._refuse(HTTPStatus.FORBIDDEN, "missing or wrong secret header")
            return
        declared = self.request.headers.get("Content-Length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")

    def data_received(self, chunk: bytes) -> None:
        """Keep the body, up to the cap (a chunked body has no Content-Length to check)."""
        if self._finished:
            return
        self.size += len(chunk)
        if self.size > MAX_BODY_BYTES:
            self.chunks.clear()
            self._refuse(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "body too large")
            return
        self.chunks.append(chunk)

    async def post(self) -> None:
        """Queue the update for the application."""
        if self._finished:
            return
        try:
            data = json.loads(b"".join(self.chunks))
        except (ValueError, UnicodeDecodeError):
            self._refuse(HTTPStatus.BAD_REQUEST, "body is not JSON")
            return
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            self._refuse(HTTPStatus.BAD_REQUEST, "body is not an update")
            return
        try:
            update = Update.de_json(data, self.app.bot)
        except Exception as err:
            self._refuse(HTTPStatus.BAD_REQUEST, f"update not understood ({type(err).__name__})")
            return
        await self.app.update_queue.put(update)
        self.set_header("Content-Type", "application/json")
        self.finish(b"{}")


def make_server(application: AnyApplication, *, path: str, secret: str) -> HTTPServer:
    """Return the webhook HTTP server (not yet listening) for `path`."""
    app = tornado.web.Application(
        [(f"/{path.strip('/')}/?", UpdateHandler, {"app": application, "secret": secret})],
        log_function=lambda handler: None,
    )
    # The handler enforces the cap itself; tornado's own limit is a backstop above it.
    return HTTPServer(
        app, max_body_size=2 * MAX_BODY_BYTES, body_timeout=30, idle_connection_timeout=60
    )


@dataclass(frozen=True, slots=True)
class WebhookOptions:
    """Where to listen, the public URL Telegram posts to, and its secret."""

    listen: str
    port: int
    webhook_url: str
    secret: str
    stop_signals: Sequence[signal.Signals]

    @property
    def path(self) -> str:
        """Return the URL's path, where updates are taken."""
        return urlsplit(self.webhook_url).path


def run_webhook(application: AnyApplication, options: WebhookOptions) -> None:
    """Serve updates until a stop signal (or `application.bot_data.stop()`)."""
    asyncio.run(_serve(application, options))


async def _serve(application: AnyApplication, options: WebhookOptions) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in options.stop_signals:
        loop.add_signal_handler(sig, stop.set)
    application.bot_data.stop = stop.set
    server = make_server(application, path=options.path, secret=options.secret)
    await application.initialize()
    started = False
    try:
        if application.post_init is not None:
            await application.post_init(application)
        server.listen(options.port, address=options.listen)
        await application.bot.set_webhook(
            url=options.webhook_url, secret_token=options.secret, allowed_updates=Update.ALL_TYPES
        )
        await application.start()
        started = True
        log.info("taking updates at the webhook on %s:%d", options.listen, options.port)
        await stop.wait()
    finally:
        server.stop()
        await server.close_all_connections()
        if started:
            await application.stop()
        if application.post_stop is not None:
            await application.post_stop(application)
        await application.shutdown()
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
