"""Fetch feeds and pages over HTTP with hard limits on time, size and redirects."""

from __future__ import annotations

import logging
import math
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import anyio
import httpx

from bot.feeds.netguard import (
    DEFAULT_POOL_LIMITS,
    AddressPolicy,
    BlockedAddressError,
    GuardedTransport,
    Resolver,
    is_public_address,
    resolve_host,
)
from bot.feeds.policy import parse_retry_after

logger = logging.getLogger(__name__)


FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
HTML_ACCEPT = "text/html, application/xhtml+xml;q=0.9, */*;q=0.8"
# Only codings we can decode with a bound on output per step (see _Decoder).
ACCEPT_ENCODING = "gzip, deflate"

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_RETRY_AFTER_STATUSES = frozenset({429, 503})
_PIECE_BYTES = 64 * 1024
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class FetchLimits:
    """Limits applied to every fetch."""

    timeout_seconds: float = 20.0  # total wall time, including redirects and body
    max_bytes: int = 10 * _MIB  # counted after decompression
    max_redirects: int = 5
    user_agent: str = "newsbot/0.1 (+https://github.com/newsbot-project/newsbot)"


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A successful (2xx) or not-modified (304) response."""

    url: str
    status: int
    body: bytes
    headers: Mapping[str, str]
    etag: str | None
    last_modified: str | None

    @property
    def not_modified(self) -> bool:
        """Return whether the server answered 304 to a conditional GET."""
        return self.status == 304


class FetchError(Exception):
    """A fetch that produced no usable response; str() is one line for people.

    `kind` is one of "timeout", "too_large", "http_status", "blocked",
    "redirects", "connection" (network, TLS or protocol failure) or "invalid_url".
    """

    def __init__(
        self,
        kind: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after


def build_client(
    *,
    allow_private_networks: bool,
    limits: FetchLimits,
    address_policy: AddressPolicy | None = None,
    resolver: Resolver | None = None,
    connections: int | None = None,
) -> httpx.AsyncClient:
    """Build the shared HTTP client; guard against private networks unless allowed.

    `address_policy` and `resolver` replace the strict public-address policy and
    the system resolver (tests use them); they have no effect when private
    networks are allowed. `connections` bounds the connection pool (default 32).
    """
    pool = DEFAULT_POOL_LIMITS
    if connections is not None:
        pool = httpx.Limits(
            max_connections=connections, max_keepalive_connections=max(1, connections // 2)
        )
    transport: httpx.AsyncBaseTransport
    if allow_private_networks:
        transport = httpx.AsyncHTTPTransport(limits=pool)
    else:
        transport = GuardedTransport(
            limits=pool,
            is_allowed=address_policy or is_public_address,
            resolver=resolver or resolve_host,
        )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(limits.timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        trust_env=False,
    )


async def fetch(
    client: httpx.AsyncClient,
    url: str,
    *,
    limits: FetchLimits,
    etag: str | None = None,
    last_modified: str | None = None,
    accept: str = FEED_ACCEPT,
) -> FetchResult:
    """GET `url` within `limits`, following redirects by hand.

    Send If-None-Match / If-Modified-Since when given; a 304 comes back with an
    empty body. Raise `FetchError` for everything that is not 2xx or 304.
    """
    target = _checked_url(url)
    headers = {
        "User-Agent": limits.user_agent,
        "Accept": accept,
        "Accept-Encoding": ACCEPT_ENCODING,
    }
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        with anyio.fail_after(limits.timeout_seconds):
            return await _follow(
                client,
                target,
                headers=headers,
                limits=limits,
                etag=etag,
                last_modified=last_modified,
            )
    except TimeoutError as exc:
        raise FetchError(
            "timeout", f"timed out after {limits.timeout_seconds:g} s fetching {target.host}"
        ) from exc


async def _follow(
    client: httpx.AsyncClient,
    target: httpx.URL,
    *,
    headers: Mapping[str, str],
    limits: FetchLimits,
    etag: str | None,
    last_modified: str | None,
) -> FetchResult:
    """Request `target`, following at most `limits.max_redirects` redirects."""
    seen = {str(target)}
    timeout = httpx.Timeout(limits.timeout_seconds)
    for _ in range(limits.max_redirects + 1):
        logger.debug("GET %s", target.host)
        request = client.build_request("GET", target, headers=headers, timeout=timeout)
        response = await _send(client, request)
        try:
            status = response.status_code
            if status in _REDIRECT_STATUSES and "location" in response.headers:
                target = _redirect_target(response)
                if str(target) in seen:
                    raise FetchError("redirects", f"redirect loop at {target.host}")
                seen.add(str(target))
                continue
            if status == 304:
                # A 304 has no body (RFC 9110 §15.4.5); reading its end lets the connection
                # go back to the pool instead of being closed.
                await response.aread()
                return _result(response, b"", etag=etag, last_modified=last_modified)
            if not 200 <= status < 300:
                raise _status_error(response)
            body = await _read_body(response, limits=limits)
            logger.debug("fetched %s: HTTP %d, %d bytes", target.host, status, len(body))
            return _result(response, body, etag=None, last_modified=None)
        finally:
            await response.aclose()
    raise FetchError("redirects", f"more than {limits.max_redirects} redirects from {target.host}")


async def _send(client: httpx.AsyncClient, request: httpx.Request) -> httpx.Response:
    """Send a request and map transport failures to `FetchError`."""
    host = request.url.host
    try:
        return await client.send(request, stream=True, follow_redirects=False)
    except BlockedAddressError as exc:
        raise FetchError("blocked", str(exc)) from exc
    except httpx.TimeoutException as exc:
        raise FetchError("timeout", f"timed out fetching {host}") from exc
    except httpx.InvalidURL as exc:
        raise FetchError("invalid_url", f"invalid URL for {host}: {exc}") from exc
    except httpx.TransportError as exc:
        reason = str(exc) or type(exc).__name__
        if reason.startswith("could not resolve"):
            raise FetchError("connection", reason) from exc
        raise FetchError("connection", f"could not fetch from {host}: {reason}") from exc


def _checked_url(url: str) -> httpx.URL:
    """Parse a URL the fetcher may request: absolute http or https with a host."""
    try:
        parsed = httpx.URL(url.strip())
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("invalid_url", f"not a valid URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        scheme = parsed.scheme or "none"
        raise FetchError("invalid_url", f"unsupported URL scheme '{scheme}' (use http or https)")
    if not parsed.host:
        raise FetchError("invalid_url", "URL has no host")
    return parsed


def _redirect_target(response: httpx.Response) -> httpx.URL:
    """Return the absolute URL a redirect points to."""
    location = response.headers["location"]
    try:
        target = response.url.join(location)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(
            "invalid_url", f"redirect from {response.url.host} to an invalid URL"
        ) from exc
    if target.scheme not in ("http", "https") or not target.host:
        raise FetchError("invalid_url", f"redirect from {response.url.host} to a non-HTTP URL")
    return target


def _status_error(response: httpx.Response) -> FetchError:
    """Describe a non-2xx response."""
    status = response.status_code
    retry_after = None
    if status in _RETRY_AFTER_STATUSES:
        retry_after = parse_retry_after(response.headers.get("retry-after"))
    message = f"HTTP {status} from {response.url.host}"
    if retry_after is not None:
        message += f" (retry after {math.ceil(retry_after)} s)"
    return FetchError("http_status", message, status=status, retry_after=retry_after)


def _result(
    response: httpx.Response, body: bytes, *, etag: str | None, last_modified: str | None
) -> FetchResult:
    """Build the result; validators the response lacks fall back to the ones sent."""
    headers = {name.lower(): value for name, value in response.headers.items()}
    return FetchResult(
        url=str(response.url),
        status=response.status_code,
        body=body,
        headers=headers,
        etag=headers.get("etag") or etag,
        last_modified=headers.get("last-modified") or last_modified,
    )


async def _read_body(response: httpx.Response, *, limits: FetchLimits) -> bytes:
    """Read and decode the body, stopping as soon as it exceeds `limits.max_bytes`."""
    too_large = FetchError(
        "too_large", f"response larger than {_size(limits.max_bytes)} from {response.url.host}"
    )
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise too_large
    decoder = _Decoder(response.headers.get("content-encoding", ""), host=response.url.host)
    pieces: list[bytes] = []
    total = 0
    async for raw in response.aiter_raw():
        for piece in decoder.feed(raw):
            total += len(piece)
            if total > limits.max_bytes:
                raise too_large
            pieces.append(piece)
    for piece in decoder.finish():
        total += len(piece)
        if total > limits.max_bytes:
            raise too_large
        pieces.append(piece)
    return b"".join(pieces)


class _Decoder:
    """Undo Content-Encoding in steps of at most `_PIECE_BYTES` output.

    httpx's own decoders inflate each network chunk in one call, so 64 KiB of
    stacked gzip ("Content-Encoding: gzip, gzip") can expand to gigabytes before
    any size check runs. Here every zlib call is given a max_length.
    """

    def __init__(self, header: str, *, host: str) -> None:
        codings = [c.strip().lower() for c in header.split(",") if c.strip()]
        # RFC 9110 §8.4: codings are listed in the order they were applied.
        self._layers: list[_ZlibLayer] = []
        for coding in reversed(codings):
            if coding == "identity":
                continue
            if coding not in ("gzip", "x-gzip", "deflate"):
                raise FetchError(
                    "connection", f"unsupported content encoding '{coding}' from {host}"
                )
            self._layers.append(_ZlibLayer(coding, host=host))

    def feed(self, data: bytes) -> Iterator[bytes]:
        """Yield decoded pieces of `data`."""
        yield from self._through(0, data)

    def finish(self) -> Iterator[bytes]:
        """Yield whatever the layers still hold at the end of the body."""
        for index, layer in enumerate(self._layers):
            for piece in layer.finish():
                yield from self._through(index + 1, piece)

    def _through(self, index: int, data: bytes) -> Iterator[bytes]:
        if index == len(self._layers):
            if data:
                yield data
            return
        for piece in self._layers[index].feed(data):
            yield from self._through(index + 1, piece)


class _ZlibLayer:
    """One gzip or deflate layer with bounded output per call."""

    def __init__(self, coding: str, *, host: str) -> None:
        self._coding = coding
        self._host = host
        gzip = coding in ("gzip", "x-gzip")
        self._inflater = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)
        # "deflate" is meant to be zlib-wrapped (RFC 9110 §8.4.1.2); some servers
        # send raw deflate instead, detectable only on the first bytes.
        self._may_be_raw = not gzip

    def feed(self, data: bytes) -> Iterator[bytes]:
        pending = data
        while pending and not self._inflater.eof:
            out = self._inflate(pending)
            pending = self._inflater.unconsumed_tail
            if out:
                yield out
            # A full piece may leave output buffered inside zlib.
            while len(out) == _PIECE_BYTES and not pending and not self._inflater.eof:
                out = self._inflate(b"")
                if out:
                    yield out

    def finish(self) -> Iterator[bytes]:
        if self._inflater.eof:
            return
        while True:
            out = self._inflate(b"")
            if not out:
                break
            yield out

    def _inflate(self, data: bytes) -> bytes:
        try:
            out = self._inflater.decompress(data, _PIECE_BYTES)
        except zlib.error as exc:
            if self._may_be_raw:
                self._may_be_raw = False
                self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                return self._inflate(data)
            raise FetchError(
                "connection", f"corrupt {self._coding} body from {self._host}"
            ) from exc
        self._may_be_raw = False
        return out


def _size(count: int) -> str:
    """Format a byte count the way limits are stated."""
    if count >= _MIB and count % _MIB == 0:
        return f"{count // _MIB} MiB"
    if count >= 1024 and count % 1024 == 0:
        return f"{count // 1024} KiB"
    return f"{count} bytes"
