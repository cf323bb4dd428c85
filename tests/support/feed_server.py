"""A local HTTP server for feeds and article pages, plus builders for RSS and Atom documents.

`FeedServer` serves canned bodies per path and can behave like the servers a feed reader
meets: conditional GET (RFC 9110 §13), redirects, slow or hanging answers, pre-compressed
bodies. It counts hits and keeps the request headers of each one.
"""

from __future__ import annotations

import contextlib
import gzip
import select
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, quoteattr

RSS_CONTENT_TYPE = "application/rss+xml; charset=utf-8"
ATOM_CONTENT_TYPE = "application/atom+xml; charset=utf-8"


@dataclass(frozen=True)
class FeedRequest:
    """One request the server received."""

    method: str
    path: str  # path and query as sent
    headers: dict[str, str]  # lower-case names
    at: datetime
    # True once the client has closed its end (a handler that hangs can stop counting it).
    client_gone: Callable[[], bool] = field(default=lambda: False, repr=False, compare=False)


@dataclass
class FeedResponse:
    """What a custom handler answers."""

    status: int = 200
    body: bytes | str = b""
    headers: dict[str, str] = field(default_factory=dict)


Handler = Callable[[FeedRequest], FeedResponse]


@dataclass
class _Route:
    body: bytes = b""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = RSS_CONTENT_TYPE
    etag: str | None = None
    last_modified: datetime | None = None
    handler: Handler | None = None
    delay: float = 0.0
    delay_after_headers: bool = False


def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)


def _etag_matches(header: str, etag: str) -> bool:
    """Compare with weak comparison, as If-None-Match requires (RFC 9110 §13.1.2)."""
    if header.strip() == "*":
        return True
    wanted = etag.removeprefix("W/")
    return any(tag.strip().removeprefix("W/") == wanted for tag in header.split(","))


def _not_modified(route: _Route, headers: Mapping[str, str]) -> bool:
    """Tell whether a conditional GET may be answered with 304."""
    if_none_match = headers.get("if-none-match")
    if route.etag is not None and if_none_match is not None:
        # If-None-Match takes precedence over If-Modified-Since (RFC 9110 §13.2.2).
        return _etag_matches(if_none_match, route.etag)
    since = headers.get("if-modified-since")
    if route.last_modified is None or since is None:
        return False
    try:
        since_at = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if since_at.tzinfo is None:
        since_at = since_at.replace(tzinfo=UTC)
    return route.last_modified.replace(microsecond=0) <= since_at


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    owner: FeedServer


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
        """Stay quiet; hits() and requests() hold what tests need."""

    def do_GET(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._serve()

    def _client_gone(self) -> bool:
        """Return True when the client closed the connection (readable, and at its end)."""
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _serve(self) -> None:
        owner = self.server.owner
        request = FeedRequest(
            method=self.command,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            at=datetime.now(UTC),
            client_gone=self._client_gone,
        )
        route = owner._record(request)
        if route is not None and route.delay and not route.delay_after_headers:
            owner._stopping.wait(route.delay)
        if owner._stopping.is_set():
            self.close_connection = True
            return
        status, headers, body = owner._respond(route, request)
        try:
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.flush()
            if route is not None and route.delay and route.delay_after_headers:
                owner._stopping.wait(route.delay)
            if owner._stopping.is_set():
                self.close_connection = True
                return
            if self.command != "HEAD" and status not in {204, 304}:
                self.wfile.write(body)
        except OSError:
            self.close_connection = True


class FeedServer:
    """Serve feeds and pages on 127.0.0.1; use as a context manager or start()/stop()."""

    def __init__(self, *, host: str = "127.0.0.1") -> None:
        self.host = host
        self.port = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._routes: dict[str, _Route] = {}
        self._hits: dict[str, list[FeedRequest]] = {}
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FeedServer:
        """Bind a free port and serve in a background thread."""
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, 0), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"feed-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers are cut short."""
        server = self._server
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FeedServer:
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
        """Return http://127.0.0.1:PORT."""
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """Return the absolute URL of path."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- configuration ----------------------------------------------------------------------

    def set(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = RSS_CONTENT_TYPE,
        etag: str | None = None,
        last_modified: datetime | None = None,
        gzip_body: bool = False,
        content_encoding: str | None = None,
    ) -> None:
        """Serve body at path.

        gzip_body compresses the body and labels it; content_encoding labels the body as
        given and serves it untouched (for pre-compressed bytes such as a gzip bomb).
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        extra = dict(headers or {})
        if gzip_body:
            data = gzip.compress(data)
            extra["Content-Encoding"] = "gzip"
        elif content_encoding:
            extra["Content-Encoding"] = content_encoding
        if etag is not None and not etag.startswith(('"', 'W/"')):
            etag = f'"{etag}"'
        route = _Route(
            body=data,
            status=status,
            headers=extra,
            content_type=content_type,
            etag=etag,
            last_modified=last_modified.astimezone(UTC) if last_modified else None,
        )
        self._put(path, route)

    def set_handler(self, path: str, handler: Handler) -> None:
        """Answer path with handler(request)."""
        self._put(path, _Route(handler=handler))

    def redirect(self, path: str, to: str, *, status: int = 302) -> None:
        """Redirect path to `to` (a path or an absolute URL)."""
        self._put(path, _Route(status=status, headers={"Location": to}, content_type="text/plain"))

    def delay(self, path: str, seconds: float, *, after_headers: bool = False) -> None:
        """Wait before answering path (or, with after_headers, before sending the body)."""
        with self._lock:
            route = self._routes.setdefault(path, _Route(status=404, content_type="text/plain"))
            route.delay = seconds
            route.delay_after_headers = after_headers

    def remove(self, path: str) -> None:
        """Stop serving path (it answers 404)."""
        with self._lock:
            self._routes.pop(path, None)

    def _put(self, path: str, route: _Route) -> None:
        with self._lock:
            old = self._routes.get(path)
            if old is not None:
                route.delay, route.delay_after_headers = old.delay, old.delay_after_headers
            self._routes[path] = route

    # -- inspection -------------------------------------------------------------------------

    def hits(self, path: str) -> int:
        """Return how many requests reached path (the query string is ignored)."""
        with self._lock:
            return len(self._hits.get(path, []))

    def requests(self, path: str) -> list[FeedRequest]:
        """Return the requests that reached path, oldest first."""
        with self._lock:
            return list(self._hits.get(path, []))

    # -- serving (server threads) -----------------------------------------------------------

    def _record(self, request: FeedRequest) -> _Route | None:
        path_only = urlsplit(request.path).path
        with self._lock:
            self._hits.setdefault(path_only, []).append(request)
            return self._routes.get(request.path) or self._routes.get(path_only)

    def _respond(
        self, route: _Route | None, request: FeedRequest
    ) -> tuple[int, dict[str, str], bytes]:
        if route is None:
            return 404, {"Content-Type": "text/plain"}, b"not found"
        if route.handler is not None:
            answer = route.handler(request)
            body = answer.body.encode("utf-8") if isinstance(answer.body, str) else answer.body
            return answer.status, dict(answer.headers), body
        headers = {"Content-Type": route.content_type, **route.headers}
        if route.etag is not None:
            headers["ETag"] = route.etag
        if route.last_modified is not None:
            headers["Last-Modified"] = _http_date(route.last_modified)
        if route.status == 200 and _not_modified(route, request.headers):
            kept = {k: v for k, v in headers.items() if k in {"ETag", "Last-Modified"}}
            return 304, kept, b""
        return route.status, headers, route.body


# ---------------------------------------------------------------------------------------------
# Feed builders
# ---------------------------------------------------------------------------------------------


def _text(name: str, value: object) -> str:
    return f"<{name}>{escape(str(value))}</{name}>"


def _categories(values: Iterable[str] | None, *, atom_style: bool) -> list[str]:
    if atom_style:
        return [f"<category term={quoteattr(value)}/>" for value in values or ()]
    return [_text("category", value) for value in values or ()]


def rss(
    title: str,
    items: list[dict[str, Any]],
    *,
    ttl: int | None = None,
    link: str = "https://news.example.org/",
    description: str = "Latest stories",
) -> str:
    """Build an RSS 2.0 document.

    An item may hold title, link, guid, guid_is_permalink, description, content_encoded,
    categories, author and pub_date (an aware datetime); every value is XML-escaped.
    """
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">',
        "<channel>",
        _text("title", title),
        _text("link", link),
        _text("description", description),
    ]
    if ttl is not None:
        lines.append(_text("ttl", ttl))
    for item in items:
        lines.append("<item>")
        for key in ("title", "link", "description", "author"):
            if item.get(key) is not None:
                lines.append(_text(key, item[key]))
        if item.get("guid") is not None:
            permalink = "true" if item.get("guid_is_permalink", False) else "false"
            lines.append(f'<guid isPermaLink="{permalink}">{escape(str(item["guid"]))}</guid>')
        if item.get("content_encoded") is not None:
            lines.append(_text("content:encoded", item["content_encoded"]))
        lines.extend(_categories(item.get("categories"), atom_style=False))
        if item.get("pub_date") is not None:
            lines.append(_text("pubDate", format_datetime(item["pub_date"].astimezone(UTC))))
        lines.append("</item>")
    lines += ["</channel>", "</rss>"]
    return "\n".join(lines) + "\n"


def atom(
    title: str,
    entries: list[dict[str, Any]],
    *,
    feed_id: str = "urn:uuid:6f0c1f3e-1b7e-4c2a-9d51-0e6c4b1a7d20",
    link: str = "https://news.example.org/",
    updated: datetime | None = None,
) -> str:
    """Build an Atom 1.0 document.

    An entry may hold title, link, id (or guid), summary (or description), content (or
    content_encoded, sent as type="html"), categories, author and updated / pub_date.
    """
    stamps = [e.get("updated") or e.get("pub_date") for e in entries]
    feed_updated = updated or max(
        (s for s in stamps if s), default=datetime(2024, 1, 1, tzinfo=UTC)
    )
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        '<feed xmlns="http://www.w3.org/2005/Atom">',
        _text("title", title),
        _text("id", feed_id),
        f"<link href={quoteattr(link)}/>",
        _text("updated", feed_updated.astimezone(UTC).isoformat()),
    ]
    for entry in entries:
        lines.append("<entry>")
        if entry.get("title") is not None:
            lines.append(f'<title type="text">{escape(str(entry["title"]))}</title>')
        if entry.get("link") is not None:
            lines.append(f'<link rel="alternate" href={quoteattr(str(entry["link"]))}/>')
        entry_id = entry.get("id") or entry.get("guid") or entry.get("link")
        if entry_id is not None:
            lines.append(_text("id", entry_id))
        stamp = entry.get("updated") or entry.get("pub_date") or feed_updated
        lines.append(_text("updated", stamp.astimezone(UTC).isoformat()))
        if entry.get("pub_date") is not None:
            lines.append(_text("published", entry["pub_date"].astimezone(UTC).isoformat()))
        if entry.get("author") is not None:
            lines.append(f"<author>{_text('name', entry['author'])}</author>")
        summary = entry.get("summary") or entry.get("description")
        if summary is not None:
            lines.append(f'<summary type="html">{escape(str(summary))}</summary>')
        content = entry.get("content") or entry.get("content_encoded")
        if content is not None:
            lines.append(f'<content type="html">{escape(str(content))}</content>')
        lines.extend(_categories(entry.get("categories"), atom_style=True))
        lines.append("</entry>")
    lines.append("</feed>")
    return "\n".join(lines) + "\n"


__all__ = [
    "ATOM_CONTENT_TYPE",
    "RSS_CONTENT_TYPE",
    "FeedRequest",
    "FeedResponse",
    "FeedServer",
    "atom",
    "rss",
]
