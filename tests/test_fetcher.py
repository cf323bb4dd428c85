"""The fetcher and SSRF guard against a small HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import ipaddress
import logging
import socket
import ssl
import struct
import sys
import threading
import time
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.feeds.fetcher import (
    FEED_ACCEPT,
    HTML_ACCEPT,
    FetchError,
    FetchLimits,
    build_client,
    fetch,
)
from bot.feeds.netguard import GuardedTransport, IPAddress, blocked_reason
from bot.feeds.policy import (
    backoff_delay,
    cache_max_age,
    failure_delay,
    next_poll_delay,
    parse_retry_after,
)

FEED = (
    b"<?xml version='1.0'?><rss version='2.0'><channel><title>Pier Weekly</title>"
    b"<item><title>Tide gauge replaced after storm</title>"
    b"<link>https://pier.example/tide</link></item></channel></rss>"
)
LIMITS = FetchLimits(timeout_seconds=5.0, max_bytes=256 * 1024, max_redirects=3)
LOCAL_ONLY = ipaddress.IPv4Address("127.0.0.1")
# A self-signed certificate for feeds.example.test only (valid until 2126).
TLS_CERT = Path(__file__).parent / "fixtures" / "feeds" / "tls_feeds_example_test.pem"
TLS_KEY = TLS_CERT.with_suffix(".key")

Route = Callable[["Handler"], object]


class Handler(BaseHTTPRequestHandler):
    """Serve the test routes; record every request."""

    protocol_version = "HTTP/1.1"
    server: FeedServer

    def do_GET(self) -> None:
        self.server.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = self.server.routes.get(self.path.split("?", 1)[0])
        if route is None:
            self.reply(404, b"not found")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class FeedServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.release = threading.Event()  # lets hanging handlers finish

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Several tests hang up mid-response on purpose; anything else is reported.
        if not isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            super().handle_error(request, client_address)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    srv = FeedServer()
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(timeout=5)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(allow_private_networks=True, limits=LIMITS) as c:
        yield c


def gzip_of_zeros(mib: int) -> bytes:
    """Return a valid gzip stream of `mib` MiB of zeros, built without compressing it all."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    # A full flush makes the block self-contained, so it can be repeated.
    block = deflater.compress(bytes(1 << 20)) + deflater.flush(zlib.Z_FULL_FLUSH)
    end = zlib.compressobj(9, zlib.DEFLATED, -15).flush(zlib.Z_FINISH)
    crc = 0
    zeros = bytes(1 << 20)
    for _ in range(mib):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + block * mib + end + struct.pack("<II", crc, (mib << 20) & 0xFFFFFFFF)


@pytest.fixture(scope="module")
def one_gib_gzip() -> bytes:
    return gzip_of_zeros(1024)


def test_gzip_of_zeros_is_valid() -> None:
    assert gzip.decompress(gzip_of_zeros(3)) == bytes(3 << 20)


# --- successful fetches -------------------------------------------------------


async def test_fetch_200(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/feed"] = lambda h: h.reply(
        200,
        FEED,
        {
            "Content-Type": "application/rss+xml",
            "ETag": '"v1"',
            "Last-Modified": "Tue, 04 Mar 2025 09:00:00 GMT",
            "Cache-Control": "max-age=600",
        },
    )
    result = await fetch(client, server.base + "/feed", limits=LIMITS)
    assert result.status == 200 and not result.not_modified
    assert result.body == FEED
    assert result.url == server.base + "/feed"
    assert result.etag == '"v1"'
    assert result.last_modified == "Tue, 04 Mar 2025 09:00:00 GMT"
    assert result.headers["content-type"] == "application/rss+xml"
    assert result.headers["cache-control"] == "max-age=600"
    _, sent = server.requests[0]
    assert sent["user-agent"] == LIMITS.user_agent
    assert sent["accept"] == FEED_ACCEPT
    assert sent["accept-encoding"] == "gzip, deflate"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


async def test_html_accept_for_pages(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/page"] = lambda h: h.reply(200, b"<html></html>", {"Content-Type": "text/html"})
    await fetch(client, server.base + "/page", limits=LIMITS, accept=HTML_ACCEPT)
    assert server.requests[0][1]["accept"] == HTML_ACCEPT


async def test_conditional_get_304(server: FeedServer, client: httpx.AsyncClient) -> None:
    def feed(h: Handler) -> None:
        if h.headers.get("If-None-Match") == '"v1"':
            h.reply(304, b"", {"ETag": '"v1"'})
        else:
            h.reply(200, FEED, {"ETag": '"v1"'})

    server.routes["/feed"] = feed
    modified = "Tue, 04 Mar 2025 09:00:00 GMT"
    result = await fetch(
        client, server.base + "/feed", limits=LIMITS, etag='"v1"', last_modified=modified
    )
    assert result.status == 304 and result.not_modified
    assert result.body == b""
    assert result.etag == '"v1"'
    assert result.last_modified == modified  # kept: the 304 did not repeat it
    _, sent = server.requests[0]
    assert sent["if-none-match"] == '"v1"'
    assert sent["if-modified-since"] == modified


@pytest.mark.parametrize(
    ("encoding", "encode"),
    [
        ("gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", lambda data: zlib.compress(data)[2:-4]),  # raw deflate, as some servers send
        ("gzip, gzip", lambda data: gzip.compress(gzip.compress(data))),
        ("identity", lambda data: data),
    ],
)
async def test_compressed_bodies_are_decoded(
    server: FeedServer,
    client: httpx.AsyncClient,
    encoding: str,
    encode: Callable[[bytes], bytes],
) -> None:
    body = FEED * 500  # several 64 KiB decode steps
    server.routes["/feed"] = lambda h: h.reply(200, encode(body), {"Content-Encoding": encoding})
    result = await fetch(client, server.base + "/feed", limits=LIMITS)
    assert result.body == body


async def test_redirect_is_followed(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/old"] = lambda h: h.reply(301, b"", {"Location": "/feed?from=old"})
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    result = await fetch(client, server.base + "/old", limits=LIMITS)
    assert result.body == FEED
    assert result.url == server.base + "/feed?from=old"
    assert server.paths() == ["/old", "/feed?from=old"]


# --- failures -----------------------------------------------------------------


async def test_hanging_server_times_out(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/hang"] = lambda h: server.release.wait(10)
    limits = FetchLimits(timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/hang", limits=limits)
    elapsed = time.monotonic() - started
    assert caught.value.kind == "timeout"
    assert str(caught.value) == "timed out after 0.5 s fetching 127.0.0.1"
    assert 0.45 <= elapsed < 1.5


async def test_trickling_body_hits_total_time_limit(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    # Each byte arrives well inside any per-read timeout; only a total limit ends it.
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        while not server.release.wait(0.05):
            h.wfile.write(b"<")
            h.wfile.flush()

    server.routes["/trickle"] = trickle
    limits = FetchLimits(timeout_seconds=0.5)
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/trickle", limits=limits)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - started < 1.5


async def test_http_500(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/feed"] = lambda h: h.reply(500, b"oops", {"Retry-After": "30"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/feed?key=secret", limits=LIMITS)
    err = caught.value
    assert (err.kind, err.status, err.retry_after) == ("http_status", 500, None)
    assert str(err) == "HTTP 500 from 127.0.0.1"


async def test_http_429_with_retry_after_seconds(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    server.routes["/feed"] = lambda h: h.reply(429, b"slow down", {"Retry-After": "120"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/feed", limits=LIMITS)
    err = caught.value
    assert (err.kind, err.status, err.retry_after) == ("http_status", 429, 120.0)
    assert str(err) == "HTTP 429 from 127.0.0.1 (retry after 120 s)"


async def test_http_503_with_retry_after_date(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=90), usegmt=True)
    server.routes["/feed"] = lambda h: h.reply(503, b"", {"Retry-After": when})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/feed", limits=LIMITS)
    assert caught.value.status == 503
    assert caught.value.retry_after is not None and 80 <= caught.value.retry_after <= 91


async def test_declared_oversized_body(server: FeedServer, client: httpx.AsyncClient) -> None:
    big = b"x" * (LIMITS.max_bytes + 1)
    server.routes["/big"] = lambda h: h.reply(200, big)
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/big", limits=LIMITS)
    assert caught.value.kind == "too_large"
    assert str(caught.value) == "response larger than 256 KiB from 127.0.0.1"


async def test_endless_body_is_cut_off(server: FeedServer, client: httpx.AsyncClient) -> None:
    sent = []

    def endless(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        chunk = b"<item>" * 10_000
        for _ in range(2000):  # 120 MB unless the client hangs up
            h.wfile.write(chunk)
            sent.append(len(chunk))

    server.routes["/endless"] = endless
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/endless", limits=LIMITS)
    assert caught.value.kind == "too_large"
    assert time.monotonic() - started < 2.0


async def test_body_at_exact_limit_is_accepted(
    server: FeedServer, client: httpx.AsyncClient
) -> None:
    exact = b"y" * LIMITS.max_bytes
    server.routes["/exact"] = lambda h: h.reply(
        200, gzip.compress(exact), {"Content-Encoding": "gzip"}
    )
    result = await fetch(client, server.base + "/exact", limits=LIMITS)
    assert result.body == exact


@pytest.mark.parametrize("stacked", [False, True], ids=["gzip", "gzip-in-gzip"])
async def test_gzip_bomb_is_cut_off_quickly_in_small_memory(
    server: FeedServer, client: httpx.AsyncClient, one_gib_gzip: bytes, stacked: bool
) -> None:
    body = gzip.compress(one_gib_gzip, 9) if stacked else one_gib_gzip
    encoding = "gzip, gzip" if stacked else "gzip"
    if stacked:
        assert len(body) < 8 * 1024  # a few KB that inflate to 1 GiB
    server.routes["/bomb"] = lambda h: h.reply(200, body, {"Content-Encoding": encoding})
    limits = FetchLimits(timeout_seconds=10.0, max_bytes=4 * 1024 * 1024)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(FetchError) as caught:
            await fetch(client, server.base + "/bomb", limits=limits)
        elapsed = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.kind == "too_large"
    assert str(caught.value) == "response larger than 4 MiB from 127.0.0.1"
    assert elapsed < 3.0
    assert peak < 16 * 1024 * 1024


async def test_unsupported_encoding(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/br"] = lambda h: h.reply(200, b"\x1b\x00\x00", {"Content-Encoding": "br"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/br", limits=LIMITS)
    assert caught.value.kind == "connection"
    assert "unsupported content encoding 'br'" in str(caught.value)


async def test_corrupt_gzip(server: FeedServer, client: httpx.AsyncClient) -> None:
    broken = gzip.compress(FEED)[:12] + b"\xff" * 40
    server.routes["/bad"] = lambda h: h.reply(200, broken, {"Content-Encoding": "gzip"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/bad", limits=LIMITS)
    assert caught.value.kind == "connection"
    assert str(caught.value) == "corrupt gzip body from 127.0.0.1"


async def test_redirect_loop(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/a"] = lambda h: h.reply(302, b"", {"Location": "/b"})
    server.routes["/b"] = lambda h: h.reply(307, b"", {"Location": server.base + "/a"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/a", limits=LIMITS)
    assert caught.value.kind == "redirects"
    assert str(caught.value) == "redirect loop at 127.0.0.1"
    assert server.paths() == ["/a", "/b"]


async def test_too_many_redirects(server: FeedServer, client: httpx.AsyncClient) -> None:
    def next_hop(h: Handler) -> None:
        hop = int(h.path.rsplit("/", 1)[1])
        h.reply(308, b"", {"Location": f"/hop/{hop + 1}"})

    for hop in range(10):
        server.routes[f"/hop/{hop}"] = next_hop
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/hop/0", limits=LIMITS)
    assert caught.value.kind == "redirects"
    assert str(caught.value) == "more than 3 redirects from 127.0.0.1"
    assert len(server.requests) == LIMITS.max_redirects + 1


async def test_redirect_to_other_scheme(server: FeedServer, client: httpx.AsyncClient) -> None:
    server.routes["/ftp"] = lambda h: h.reply(302, b"", {"Location": "file:///etc/passwd"})
    with pytest.raises(FetchError) as caught:
        await fetch(client, server.base + "/ftp", limits=LIMITS)
    assert caught.value.kind == "invalid_url"


@pytest.mark.parametrize(
    "url", ["ftp://files.example/feed.xml", "file:///etc/passwd", "feeds/top.xml", "http://", ""]
)
async def test_invalid_urls(client: httpx.AsyncClient, url: str) -> None:
    with pytest.raises(FetchError) as caught:
        await fetch(client, url, limits=LIMITS)
    assert caught.value.kind == "invalid_url"


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as caught:
        await fetch(client, f"http://127.0.0.1:{port}/feed", limits=LIMITS)
    assert caught.value.kind == "connection"
    assert "127.0.0.1" in str(caught.value)


async def test_logs_name_the_host_not_the_query(
    server: FeedServer, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    caplog.set_level(logging.DEBUG, logger="bot.feeds")
    await fetch(client, server.base + "/feed?token=hunter2", limits=LIMITS)
    fetch_logs = [r.getMessage() for r in caplog.records if r.name.startswith("bot.feeds")]
    assert any("127.0.0.1" in line for line in fetch_logs)
    assert not any("hunter2" in line for line in fetch_logs)


# --- SSRF guard ---------------------------------------------------------------


async def test_guard_refuses_loopback(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    async with build_client(allow_private_networks=False, limits=LIMITS) as guarded:
        for url, message in [
            (server.base + "/feed", "refused: 127.0.0.1 is a loopback address"),
            (
                f"http://[::ffff:127.0.0.1]:{server.port}/feed",
                "refused: ::ffff:7f00:1 is a loopback address",
            ),
            (
                f"http://localhost:{server.port}/feed",
                "refused: localhost resolves to a loopback address",
            ),
        ]:
            with pytest.raises(FetchError) as caught:
                await fetch(guarded, url, limits=LIMITS)
            assert caught.value.kind == "blocked"
            assert str(caught.value).startswith(message)
    assert server.requests == []


async def test_guard_refuses_redirect_to_private_address(server: FeedServer) -> None:
    server.routes["/to-loopback"] = lambda h: h.reply(
        302, b"", {"Location": f"http://127.0.0.2:{server.port}/feed"}
    )
    server.routes["/to-metadata"] = lambda h: h.reply(
        302, b"", {"Location": "http://169.254.169.254/latest/meta-data/"}
    )
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    # Treat 127.0.0.1 as if it were a public host; every other address stays refused.
    async with build_client(
        allow_private_networks=False, limits=LIMITS, address_policy=lambda ip: ip == LOCAL_ONLY
    ) as guarded:
        assert (await fetch(guarded, server.base + "/feed", limits=LIMITS)).body == FEED
        with pytest.raises(FetchError) as caught:
            await fetch(guarded, server.base + "/to-loopback", limits=LIMITS)
        assert caught.value.kind == "blocked"
        assert str(caught.value) == "refused: 127.0.0.2 is a loopback address"
        with pytest.raises(FetchError) as caught:
            await fetch(guarded, server.base + "/to-metadata", limits=LIMITS)
        assert str(caught.value) == "refused: 169.254.169.254 is a link-local address"
    assert server.paths() == ["/feed", "/to-loopback", "/to-metadata"]


async def test_guard_connects_to_the_address_it_checked(server: FeedServer) -> None:
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [LOCAL_ONLY]

    async with build_client(
        allow_private_networks=False,
        limits=LIMITS,
        address_policy=lambda ip: ip == LOCAL_ONLY,
        resolver=resolver,
    ) as guarded:
        url = f"http://feeds.example.test:{server.port}/feed"
        result = await fetch(guarded, url, limits=LIMITS)
    assert result.body == FEED
    assert lookups == ["feeds.example.test"]  # one lookup, used for the connection
    assert server.requests[0][1]["host"] == f"feeds.example.test:{server.port}"


async def test_guard_keeps_the_host_name_for_tls(server: FeedServer) -> None:
    # The connection goes to the vetted IP, while SNI and the certificate check
    # still use the URL's host name: this certificate names only that host.
    names: list[str | None] = []
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(TLS_CERT, TLS_KEY)
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    server.routes["/feed"] = lambda h: h.reply(200, FEED)
    client_tls = ssl.create_default_context(cafile=str(TLS_CERT))
    client_tls.verify_flags &= ~ssl.VERIFY_X509_STRICT

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOCAL_ONLY]

    transport = GuardedTransport(
        is_allowed=lambda ip: ip == LOCAL_ONLY, resolver=resolver, ssl_context=client_tls
    )
    async with httpx.AsyncClient(transport=transport) as guarded:
        result = await fetch(
            guarded, f"https://feeds.example.test:{server.port}/feed", limits=LIMITS
        )
        assert result.body == FEED
        with pytest.raises(FetchError) as caught:
            await fetch(guarded, f"https://127.0.0.1:{server.port}/feed", limits=LIMITS)
        assert caught.value.kind == "connection"  # certificate does not name 127.0.0.1
    assert names[0] == "feeds.example.test"


async def test_guard_refuses_mixed_answers(server: FeedServer) -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [LOCAL_ONLY, ipaddress.IPv4Address("127.0.0.3")]

    async with build_client(
        allow_private_networks=False,
        limits=LIMITS,
        address_policy=lambda ip: ip == LOCAL_ONLY,
        resolver=resolver,
    ) as guarded:
        with pytest.raises(FetchError) as caught:
            await fetch(guarded, f"http://rebind.example.test:{server.port}/", limits=LIMITS)
    assert str(caught.value) == (
        "refused: rebind.example.test resolves to a loopback address 127.0.0.3"
    )
    assert server.requests == []


async def test_guard_reports_unresolvable_hosts() -> None:
    async def resolver(host: str, port: int) -> list[IPAddress]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async with build_client(
        allow_private_networks=False, limits=LIMITS, resolver=resolver
    ) as guarded:
        with pytest.raises(FetchError) as caught:
            await fetch(guarded, "https://no-such-host.example.test/feed", limits=LIMITS)
    assert caught.value.kind == "connection"
    assert str(caught.value) == "could not resolve no-such-host.example.test"


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("10.0.0.5", "private"),
        ("192.168.1.20", "private"),
        ("172.16.3.4", "private"),
        ("169.254.169.254", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("224.0.0.251", "multicast"),
        ("240.0.0.1", "reserved"),
        ("100.64.0.1", "non-public"),
        ("::1", "loopback"),
        ("::", "unspecified"),
        ("fe80::1", "link-local"),
        ("fc00::5", "private"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("2002:7f00:1::", "loopback"),  # 6to4 wrapping 127.0.0.1
        ("64:ff9b::a00:5", "private"),  # NAT64 wrapping 10.0.0.5
        ("93.184.215.14", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:93.184.215.14", None),
    ],
)
def test_blocked_reason(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason


# --- polling schedule ---------------------------------------------------------


def test_next_poll_delay_uses_default_when_feed_asks_nothing() -> None:
    assert next_poll_delay(default_seconds=900, ttl_seconds=None, headers=None) == 900
    assert next_poll_delay(default_seconds=900, ttl_seconds=60, headers={}) == 900


def test_next_poll_delay_respects_ttl_max_age_and_retry_after() -> None:
    assert next_poll_delay(default_seconds=900, ttl_seconds=3600, headers=None) == 3600
    headers = {"Cache-Control": "public, max-age=7200"}
    assert next_poll_delay(default_seconds=900, ttl_seconds=3600, headers=headers) == 7200
    assert (
        next_poll_delay(default_seconds=900, ttl_seconds=None, headers=None, retry_after=5000)
        == 5000
    )
    assert next_poll_delay(
        default_seconds=900, ttl_seconds=None, headers={"retry-after": "1800"}
    ) == pytest.approx(1800)


def test_next_poll_delay_is_capped() -> None:
    assert (
        next_poll_delay(default_seconds=900, ttl_seconds=10**9, headers=None, cap_seconds=21600)
        == 21600
    )
    assert next_poll_delay(
        default_seconds=900, ttl_seconds=None, headers={"cache-control": "max-age=999999"}
    ) == (6 * 3600)


def test_cache_max_age() -> None:
    assert cache_max_age({"Cache-Control": 'max-age="300", must-revalidate'}) == 300
    assert cache_max_age({"cache-control": "no-cache, max-age=300"}) is None
    assert cache_max_age({"cache-control": "max-age=soon"}) is None
    assert cache_max_age({"cache-control": "s-maxage=300"}) is None
    assert cache_max_age(None) is None


def test_parse_retry_after() -> None:
    now = datetime(2025, 3, 4, 9, 0, tzinfo=UTC)
    assert parse_retry_after("120", now=now) == 120
    assert parse_retry_after("Tue, 04 Mar 2025 09:05:00 GMT", now=now) == 300
    assert parse_retry_after("Tue, 04 Mar 2025 08:00:00 GMT", now=now) == 0
    assert parse_retry_after("later", now=now) is None
    assert parse_retry_after("-5", now=now) is None
    assert parse_retry_after(None) is None


def test_backoff_delay_doubles_with_jitter_and_cap() -> None:
    for count, expected in [(1, 60), (2, 120), (3, 240), (6, 1920)]:
        for _ in range(20):
            delay = backoff_delay(error_count=count, base_seconds=60)
            assert 0.9 * expected <= delay <= expected
    delays = {backoff_delay(error_count=3, base_seconds=60) for _ in range(20)}
    assert len(delays) > 1  # jittered
    assert backoff_delay(error_count=50, base_seconds=60) <= 6 * 3600
    assert backoff_delay(error_count=10_000, base_seconds=60, cap_seconds=3600) <= 3600
    assert backoff_delay(error_count=0, base_seconds=60) <= 60


def test_failure_delay_waits_at_least_as_long_as_the_server_asks() -> None:
    assert 54 <= failure_delay(error_count=1, base_seconds=60) <= 60
    assert failure_delay(error_count=1, base_seconds=60, retry_after=900) == 900
    assert 216 <= failure_delay(error_count=3, base_seconds=60, retry_after=30) <= 240
    assert failure_delay(error_count=1, base_seconds=60, retry_after=10**9) == 6 * 3600
