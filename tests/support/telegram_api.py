"""A stand-in Telegram Bot API server for end-to-end tests.

`FakeTelegram` serves `bot.emulator.BotApi` over HTTP on 127.0.0.1, closely enough that the
real python-telegram-bot stack (HTTPXRequest, long polling, JobQueue) runs against it
unchanged. The emulator validates what Telegram validates and records what the bot sent;
this module adds what only a network can do (outages: refused, cut and hanging connections)
and waits that block until the bot did something.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

from bot.emulator import (
    ApiError,
    BotApi,
    CallbackAnswer,
    EntityParseError,
    MessageEdit,
    ParsedText,
    RequestRecord,
    SentDocument,
    SentMessage,
    UploadedFile,
    parse_html,
    utf16_len,
)
from bot.emulator.params import decode_body
from bot.emulator.state import DEFAULT_BOT_USERNAME, DEFAULT_TOKEN

__all__ = [
    "CallbackAnswer",
    "ClockedTelegram",
    "EntityParseError",
    "FakeTelegram",
    "MessageEdit",
    "ParsedText",
    "RequestRecord",
    "SentDocument",
    "SentMessage",
    "UploadedFile",
    "parse_html",
    "utf16_len",
]

T = TypeVar("T")
JSON = dict[str, Any]
NOT_FOUND = b'{"ok":false,"error_code":404,"description":"Not Found"}'


class SocketConnection:
    """A client connection, as a long poll sees it."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def connected(self) -> bool:
        """Tell whether the client still holds its connection open."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False


# ---------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    owner: FakeTelegram


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK would add about 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the request log holds what tests need."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        owner = self.server.owner
        if owner._outage is not None:
            # Outage: the request is not acted on; the connection just ends without an answer
            # (at once for "drop", when the client gives up or the outage ends for "hang").
            owner._note_outage_hit(self.path)
            if owner._outage == "hang":
                owner._hang(self.connection)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        with owner._lock:
            owner._busy += 1
        try:
            self._answer()
        finally:
            with owner._lock:
                owner._busy -= 1

    def _answer(self) -> None:
        body = self._read_body()
        status, payload, content_type = self.server.owner._dispatch_http(
            path=self.path,
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            sock=self.connection,
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True


# ---------------------------------------------------------------------------------------------
# The server
# ---------------------------------------------------------------------------------------------


class FakeTelegram(BotApi):
    """A local Bot API server; use as a context manager or call start()/stop()."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(token=token, bot_username=bot_username)
        self.host = host
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()

    def _reset_state(self) -> None:
        super()._reset_state()
        self._outage: str | None = None
        self._outage_hits: dict[str, int] = {}
        self._busy = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self.reopen()
        self._listen()
        return self

    def _listen(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-telegram-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; pending long polls and delays end at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self.close()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @property
    def base_url(self) -> str:
        """Return the Bot API base URL for ApplicationBuilder().base_url()."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the file download base URL for ApplicationBuilder().base_file_url()."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def api_url(self) -> str:
        """Return base_url with the token, the prefix of every method URL."""
        return f"{self.base_url}{self.token}"

    def outage(self, mode: str | None) -> int:
        """Start an outage or end it (None); return the requests in flight at that moment
        (read, not yet answered). Requests during an outage are not acted on.

        "drop": the server stops listening (new connections are refused) and open connections
        are cut. "hang": requests get no answer until the client gives up or the outage ends.
        """
        if mode not in (None, "drop", "hang"):
            raise ValueError(f"unknown outage mode {mode!r}")
        previous = self._outage
        if mode == "drop" and previous != "drop":
            # Stop listening first, so that new connections are refused rather than cut.
            server, thread = self._server, self._thread
            if server is not None:
                server.shutdown()
                server.server_close()
            if thread is not None:
                thread.join(timeout=5)
        with self._cond:
            self._outage = mode
            in_flight = self._busy
            self._cond.notify_all()
            connections = list(self._connections) if mode == "drop" else []
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if previous == "drop" and mode != "drop":
            self._listen()
        return in_flight

    def outage_hits(self, method: str | None = None) -> int:
        """Return how many requests (of `method`, or all) arrived during outages."""
        with self._lock:
            if method is None:
                return sum(self._outage_hits.values())
            return self._outage_hits.get(method, 0)

    def _note_outage_hit(self, path: str) -> None:
        method = urlsplit(path).path.rpartition("/")[2]
        with self._lock:
            self._outage_hits[method] = self._outage_hits.get(method, 0) + 1

    def _hang(self, sock: socket.socket) -> None:
        poller = SocketConnection(sock)
        with self._cond:
            while self._outage == "hang" and not self._stop_event.is_set() and poller.connected():
                self._cond.wait(0.1)

    # -- waiting ----------------------------------------------------------------------------

    def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 10.0, *, what: str = "condition"
    ) -> T:
        """Block until predicate() is truthy and return it; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"Timed out after {timeout:g}s waiting for {what}.\n{self.dump()}"
                    )
                self._cond.wait(remaining)

    def wait_for_message(
        self,
        chat_id: int | None = None,
        contains: str | None = None,
        *,
        timeout: float = 10.0,
        since: int | None = None,
    ) -> SentMessage:
        """Block until the bot sent a matching message (text or visible text contains)."""

        def find() -> SentMessage | None:
            for message in self._messages:
                if since is not None and message.seq <= since:
                    continue
                if chat_id is not None and message.chat_id != chat_id:
                    continue
                if contains is None or contains in message.plain or contains in message.text:
                    return copy.deepcopy(message)
            return None

        what = f"a message to chat {chat_id}" if chat_id is not None else "a message"
        if contains is not None:
            what += f" containing {contains!r}"
        return self.wait_for(find, timeout, what=what)

    async def await_message(
        self,
        chat_id: int | None = None,
        contains: str | None = None,
        *,
        # The wait runs in a worker thread, which asyncio.timeout could not stop.
        timeout: float = 10.0,  # noqa: ASYNC109
        since: int | None = None,
    ) -> SentMessage:
        """Wait for a message without blocking the running event loop."""
        return await asyncio.to_thread(
            self.wait_for_message, chat_id, contains, timeout=timeout, since=since
        )

    async def await_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> T:
        """Wait for a predicate without blocking the running event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    # -- HTTP -------------------------------------------------------------------------------

    def _dispatch_http(
        self, *, path: str, body: bytes, content_type: str, sock: socket.socket | None
    ) -> tuple[int, bytes, str]:
        parts = urlsplit(path)
        if parts.path.startswith("/file/bot"):
            # PTB percent-encodes the whole path, so the token's ':' arrives as %3A.
            content = self.download(unquote(parts.path.removeprefix("/file/bot")))
            if content is None:
                return 404, NOT_FOUND, "application/json"
            return 200, content, "application/octet-stream"
        status, answer = self.call(
            parts.path,
            lambda: decode_body(parts.query, body, content_type),
            SocketConnection(sock) if sock is not None else None,
        )
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return status, payload, "application/json"


class ClockedTelegram(FakeTelegram):
    """The stand-in Bot API, also noting when each sendMessage was answered, to the microsecond
    (its own request log keeps whole seconds, like Telegram's message dates)."""

    def _reset_state(self) -> None:
        super()._reset_state()
        self.answers: list[tuple[float, int, int]] = []  # (monotonic time, chat, status)
        self.accepted = 0  # sendMessage calls answered 200, kept cheap to poll

    def _api_sendMessage(self, params: Any, sock: Any) -> JSON:
        chat = int(str(params.raw.get("chat_id")))
        try:
            result = super()._api_sendMessage(params, sock)
        except ApiError as err:
            self.answers.append((time.monotonic(), chat, err.status))
            raise
        self.answers.append((time.monotonic(), chat, 200))
        self.accepted += 1
        return result

    def stamps(self, chat: int | None = None, status: int = 200) -> list[float]:
        """Return when the answers of `status` (to `chat`, or any) went out."""
        return [t for t, c, s in self.answers if s == status and chat in (None, c)]
