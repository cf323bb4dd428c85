"""A lean HTTP/1.1 transport for python-telegram-bot, for the outbox's many small sends.

PTB's default HTTPXRequest cost about 2 ms of CPU per request in our measurements, against
about 0.5 ms with this transport: httpcore scans its whole connection pool on every request,
and without `sniffio` installed it retries a failed import each time (encode/httpcore#1103).
At hundreds of messages a second that alone saturates a core.
This transport keeps a pool of keep-alive connections on asyncio streams and speaks just the
HTTP/1.1 the Bot API needs: form-encoded POST, answers with Content-Length or chunked bodies.
Uploads (multipart) go through HTTPXRequest, and so does everything when a proxy is configured.

Errors keep PTB's contract and carry httpx exception types as their cause, so
`bot.delivery.policy.classify` tells "certainly not sent" (pool/connect) from "maybe sent".
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
import urllib.request
from collections import deque
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from telegram import Bot
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, HTTPXRequest, RequestData

from bot.delivery.ptb import ODVInput, timeout_or

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 16 * 1024 * 1024
# An idle connection older than this is closed rather than reused: servers drop idle
# keep-alive connections, and a request written into one that is closing can't be told apart
# from one that was received (httpx uses the same 5 s default).
KEEPALIVE_SECONDS = 5.0
POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. "
    "Request was *not* sent to Telegram."
)


@dataclass(slots=True, eq=False)
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    idle_since: float

    def reusable(self, now: float) -> bool:
        return (
            now - self.idle_since < KEEPALIVE_SECONDS
            and not self.reader.at_eof()
            and not self.writer.is_closing()
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()


class ResponseError(Exception):
    """The server's answer could not be read as HTTP/1.1."""


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with httpx
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


class LeanRequest(BaseRequest):
    """PTB request backend with a small keep-alive pool; one origin (the Bot API) only."""

    __slots__ = (
        "_conns",
        "_defaults",
        "_fallback",
        "_idle",
        "_slots",
        "_ssl",
        "pool_size",
    )

    def __init__(
        self,
        *,
        pool_size: int = 64,
        connect_timeout: float | None = 5.0,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
    ) -> None:
        self.pool_size = pool_size
        self._defaults = {
            "connect": connect_timeout,
            "read": read_timeout,
            "write": write_timeout,
            "pool": pool_timeout,
        }
        self._idle: dict[tuple[str, str, int], deque[_Conn]] = {}
        self._conns: set[_Conn] = set()
        self._slots = asyncio.Semaphore(pool_size)
        self._ssl: ssl.SSLContext | None = None
        self._fallback = HTTPXRequest(
            connection_pool_size=4,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            write_timeout=write_timeout,
            pool_timeout=pool_timeout,
        )

    @property
    def read_timeout(self) -> float | None:
        """Return the default read timeout."""
        return self._defaults["read"]

    async def initialize(self) -> None:
        """Prepare the fallback client; connections open on demand."""
        await self._fallback.initialize()

    async def shutdown(self) -> None:
        """Close every connection."""
        for conn in list(self._conns):
            conn.close()
        self._conns.clear()
        self._idle.clear()
        await self._fallback.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Send one request and return (status, body)."""
        if request_data is not None and request_data.multipart_data:
            return await self._fallback.do_request(
                url,
                method,
                request_data,
                read_timeout,
                write_timeout,
                connect_timeout,
                pool_timeout,
            )
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https") or not parts.hostname:
            raise NetworkError(f"unsupported URL scheme for {scheme!r}")
        port = parts.port or (443 if scheme == "https" else 80)
        origin = (scheme, parts.hostname, port)
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        body = request_data.url_encoded_parameters().encode() if request_data else b""
        host = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
        head = (
            f"{method} {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {self.USER_AGENT}\r\n"
            "Accept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")

        if self._slots.locked():
            try:
                async with asyncio.timeout(timeout_or(pool_timeout, self._defaults["pool"])):
                    await self._slots.acquire()
            except TimeoutError:
                raise TimedOut(POOL_TIMEOUT_MESSAGE) from httpx.PoolTimeout("pool timeout")
        else:
            await self._slots.acquire()
        try:
            conn = await self._checkout(
                origin, timeout_or(connect_timeout, self._defaults["connect"])
            )
            return await self._exchange(
                conn,
                origin,
                head + body,
                write=timeout_or(write_timeout, self._defaults["write"]),
                read=timeout_or(read_timeout, self._defaults["read"]),
            )
        finally:
            self._slots.release()

    async def _checkout(self, origin: tuple[str, str, int], connect: float | None) -> _Conn:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            conn = idle.pop()
            if conn.reusable(now):
                return conn
            self._drop(conn)
        scheme, host, port = origin
        if scheme == "https" and self._ssl is None:
            self._ssl = _ssl_context()
        try:
            async with asyncio.timeout(connect):
                reader, writer = await asyncio.open_connection(
                    host, port, ssl=self._ssl if scheme == "https" else None, limit=MAX_HEAD_BYTES
                )
        except TimeoutError:
            raise TimedOut("connect timeout") from httpx.ConnectTimeout("connect timeout")
        except (OSError, ssl.SSLError) as err:
            raise NetworkError(f"httpx.ConnectError: {err}") from httpx.ConnectError(str(err))
        conn = _Conn(reader=reader, writer=writer, idle_since=now)
        self._conns.add(conn)
        return conn

    def _drop(self, conn: _Conn) -> None:
        conn.close()
        self._conns.discard(conn)

    async def _exchange(
        self,
        conn: _Conn,
        origin: tuple[str, str, int],
        payload: bytes,
        *,
        write: float | None,
        read: float | None,
    ) -> tuple[int, bytes]:
        keep = False
        try:
            try:
                conn.writer.write(payload)
                async with asyncio.timeout(write):
                    await conn.writer.drain()
            except TimeoutError:
                raise TimedOut("write timeout") from httpx.WriteTimeout("write timeout")
            except OSError as err:
                # Part of the request may have reached the server.
                raise NetworkError(f"httpx.WriteError: {err}") from httpx.WriteError(str(err))
            try:
                async with asyncio.timeout(read):
                    status, body, keep = await _read_response(conn.reader)
            except TimeoutError:
                raise TimedOut("read timeout") from httpx.ReadTimeout("read timeout")
            except (OSError, asyncio.IncompleteReadError, ResponseError) as err:
                raise NetworkError(f"httpx.ReadError: {err}") from httpx.ReadError(str(err))
            return status, body
        finally:
            if keep:
                conn.idle_since = time.monotonic()
                self._idle.setdefault(origin, deque()).append(conn)
            else:
                self._drop(conn)


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """Read one HTTP/1.1 response; return status, body and whether the connection stays open."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError as err:
        raise ResponseError("response head too large") from err
    lines = head.decode("latin-1").split("\r\n")
    status_parts = lines[0].split(" ", 2)
    if len(status_parts) < 2 or not status_parts[0].startswith("HTTP/1."):
        raise ResponseError(f"malformed status line {lines[0][:80]!r}")
    try:
        status = int(status_parts[1])
    except ValueError:
        raise ResponseError(f"malformed status line {lines[0][:80]!r}") from None
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if line:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
    keep = headers.get("connection", "").lower() != "close" and status_parts[0] == "HTTP/1.1"
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return status, await _read_chunked(reader), keep
    if "content-length" in headers:
        try:
            length = int(headers["content-length"])
        except ValueError:
            raise ResponseError("malformed Content-Length") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise ResponseError("response body too large")
        return status, await reader.readexactly(length), keep
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    # No length given: the body runs to the end of the connection.
    body = await reader.read(MAX_BODY_BYTES + 1)
    if len(body) > MAX_BODY_BYTES:
        raise ResponseError("response body too large")
    return status, body, False


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        line = await reader.readuntil(b"\r\n")
        try:
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
        except ValueError:
            raise ResponseError("malformed chunk size") from None
        if size == 0:
            # Skip trailers up to the blank line that ends the message.
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass
            return b"".join(chunks)
        total += size
        if total > MAX_BODY_BYTES:
            raise ResponseError("response body too large")
        chunks.append(await reader.readexactly(size))
        await reader.readexactly(2)


def proxy_configured(url: str) -> bool:
    """Tell whether the environment routes requests to `url` through a proxy."""
    scheme = urlsplit(url).scheme.lower()
    proxies = urllib.request.getproxies()
    return bool(proxies.get(scheme) or proxies.get("all"))


def send_request(*, base_url: str, pool_size: int) -> BaseRequest:
    """Return the request backend for sending: lean, unless a proxy must be honoured."""
    if proxy_configured(base_url):
        return HTTPXRequest(connection_pool_size=pool_size)
    return LeanRequest(pool_size=pool_size)


def file_base_url(base_url: str) -> str:
    """Return the file download base URL that goes with a Bot API base URL."""
    return base_url[: -len("/bot")] + "/file/bot" if base_url.endswith("/bot") else base_url


def make_send_bot(*, token: str, base_url: str, pool_size: int) -> Bot:
    """Return a Bot used only for sending from the outbox."""
    return Bot(
        token,
        base_url=base_url,
        base_file_url=file_base_url(base_url),
        request=send_request(base_url=base_url, pool_size=pool_size),
        get_updates_request=HTTPXRequest(connection_pool_size=1),
    )
