"""Turn fetched feed bytes into plain, bounded entries.

feedparser only ever receives the bytes we fetched, wrapped in a file object:
given a bare `bytes` value it first tries to open it as a local file name.
"""

from __future__ import annotations

import calendar
import io
import re
import time
import xml.parsers.expat
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import feedparser

from bot.feeds.identity import canonical_link, entry_key

MAX_ENTRIES = 500
MAX_TITLE_CHARS = 300
MAX_SUMMARY_CHARS = 5000
MAX_AUTHOR_CHARS = 200
MAX_CATEGORIES = 30
# feedparser falls back to its pure-Python "loose" parser for documents that are
# not well-formed XML; it runs at a few seconds per MiB of markup, so only small
# broken documents get that second chance.
LOOSE_PARSE_MAX_BYTES = 1024 * 1024

# No web feed predates 1990; epoch-zero and year-1 dates are placeholders.
_EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
# Clocks and time zones drift; dates further ahead than this are typos.
_FUTURE_SLACK = timedelta(days=2)

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "dd", "div", "dl", "dt",
        "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
        "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template", "head", "iframe", "object"})
_SPACES = re.compile(r"\s+")
_LINE_BREAK = "\x00"  # stands for <br> while text is collected; stripped from input
_LOOKS_LIKE_HTML = re.compile(r"</?[A-Za-z][^<>]*>|&#?\w+;")
_ROOT_ELEMENT = re.compile(rb"<([A-Za-z_][\w:.\-]*)")
_HTML_DOCTYPE = re.compile(rb"<!doctype\s+html", re.IGNORECASE)
_INTERNAL_SUBSET = re.compile(rb"<!DOCTYPE\b[^\[>]*\[.*?\]\s*>", re.DOTALL | re.IGNORECASE)
_ENCODING_ERRORS = frozenset(
    {
        xml.parsers.expat.errors.XML_ERROR_UNKNOWN_ENCODING,
        xml.parsers.expat.errors.XML_ERROR_INCORRECT_ENCODING,
    }
)


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    """One story from a feed, as plain bounded text."""

    key: str
    link: str | None
    canonical_link: str | None
    title: str
    summary: str
    content_html: str | None
    categories: tuple[str, ...]
    published: datetime | None
    author: str | None


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed's channel data and its entries in feed order."""

    title: str
    link: str | None
    ttl_seconds: int | None
    entries: tuple[ParsedEntry, ...]


class FeedParseError(ValueError):
    """The body is not a usable RSS or Atom feed; str() says why in a few words."""


def parse_feed(
    body: bytes,
    *,
    url: str,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> ParsedFeed:
    """Parse an RSS 2.0, RSS 1.0 or Atom document fetched from `url`.

    Relative links resolve against `url`. `now` bounds plausible dates (default:
    the current time). CPU-bound: run it in a worker thread from async code.
    """
    if not body.strip():
        raise FeedParseError("empty body")
    _reject_obvious_non_feeds(body)
    data = _drop_internal_subset(body)
    xml_error = _xml_error(data)
    if xml_error is not None and len(data) > LOOSE_PARSE_MAX_BYTES:
        raise FeedParseError(f"not well-formed XML ({xml_error}) and too large to repair")

    result = feedparser.parse(
        io.BytesIO(data),
        response_headers=_feedparser_headers(headers, url=url),
        resolve_relative_uris=True,
        sanitize_html=True,
    )
    version = result.get("version") or ""
    channel = result.get("feed") or {}
    if not version:
        if xml_error is not None:
            raise FeedParseError(f"not XML ({xml_error})")
        root = _root_element(data) or "?"
        raise FeedParseError(f"not a feed (XML document with root <{root}>)")
    if not result.entries and not channel.get("title") and not channel.get("link"):
        raise FeedParseError("not a feed (no channel and no entries)")

    moment = now or datetime.now(UTC)
    entries: list[ParsedEntry] = []
    seen: set[str] = set()
    for raw in result.entries:
        entry = _entry(raw, now=moment)
        if entry is None or entry.key in seen:
            continue
        seen.add(entry.key)
        entries.append(entry)
        if len(entries) >= MAX_ENTRIES:
            break
    return ParsedFeed(
        title=_truncate(_detail_text(channel, "title", one_line=True), MAX_TITLE_CHARS),
        link=_web_link(channel.get("link")),
        ttl_seconds=_ttl_seconds(channel.get("ttl")),
        entries=tuple(entries),
    )


def html_to_text(html: str) -> str:
    """Return the readable text of an HTML fragment.

    Tags are stripped, entities decoded and whitespace collapsed; block elements
    become paragraphs joined by a blank line, `<br>` becomes a line break.
    """
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return extractor.text()


def _feedparser_headers(headers: Mapping[str, str] | None, *, url: str) -> dict[str, str]:
    """Pick the response headers feedparser uses, with the feed URL as the base URI."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    picked = {"content-location": url}
    for name in ("content-type", "content-language"):
        if name in lowered:
            picked[name] = lowered[name]
    return picked


def _drop_internal_subset(data: bytes) -> bytes:
    """Remove a DOCTYPE's internal subset (feeds with entities in it were refused before)."""
    match = _INTERNAL_SUBSET.search(data)
    if match is None or _ROOT_ELEMENT.search(data, 0, match.start()) is not None:
        return data
    return data[: match.start()] + data[match.end() :]


def _root_element(data: bytes) -> str | None:
    """Return the name of the first element, if any."""
    match = _ROOT_ELEMENT.search(data)
    return match.group(1).decode("ascii", "replace") if match else None


def _reject_obvious_non_feeds(data: bytes) -> None:
    """Fail fast on HTML pages, JSON and documents that declare entities.

    Feeds have no use for entity declarations, and they are where entity bombs ("billion
    laughs") and external entities live: refused, as in OPML files.
    """
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head[:1] in (b"{", b"["):
        raise FeedParseError("not a feed (looks like JSON)")
    root = _root_element(data)
    prolog = data if root is None else data[: data.find(b"<" + root.encode())]
    if b"<!ENTITY" in prolog.upper():
        raise FeedParseError("the feed declares XML entities, which feeds never need (refused)")
    if (root or "").lower() == "html" or _HTML_DOCTYPE.search(prolog):
        raise FeedParseError("not a feed (looks like an HTML page)")


def _xml_error(data: bytes) -> str | None:
    """Return why expat rejects the document, or None when it is well-formed.

    Encoding problems return None: feedparser converts encodings expat lacks.
    """
    checker = xml.parsers.expat.ParserCreate(namespace_separator=" ")
    checker.SetParamEntityParsing(xml.parsers.expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        checker.Parse(data, True)
    except xml.parsers.expat.ExpatError as exc:
        message = xml.parsers.expat.errors.messages[exc.code]
        if message in _ENCODING_ERRORS:
            return None
        if message.startswith("not well-formed (") and message.endswith(")"):
            message = message[len("not well-formed (") : -1]
        return f"{message} at line {exc.lineno}"
    return None


def _entry(raw: Mapping[str, Any], *, now: datetime) -> ParsedEntry | None:
    """Build one entry, or None when it has no title, link or summary."""
    title = _truncate(_detail_text(raw, "title", one_line=True), MAX_TITLE_CHARS)
    link = _web_link(raw.get("link"))
    summary = _truncate(_detail_text(raw, "summary", one_line=False), MAX_SUMMARY_CHARS)
    if not title and link is None and not summary:
        return None
    raw_published = raw.get("published") or raw.get("updated")
    key = entry_key(
        guid=_str_or_none(raw.get("id")),
        link=link,
        # Without a title the summary is what tells entries apart.
        title=title or summary,
        published=_str_or_none(raw_published),
    )
    author = _truncate(_one_line(html_to_text(str(raw.get("author") or ""))), MAX_AUTHOR_CHARS)
    return ParsedEntry(
        key=key,
        link=link,
        canonical_link=canonical_link(link) if link is not None else None,
        title=title,
        summary=summary,
        content_html=_content_html(raw),
        categories=_categories(raw),
        published=_entry_date(raw, now=now),
        author=author or None,
    )


def _detail_text(node: Mapping[str, Any], field: str, *, one_line: bool) -> str:
    """Return a text construct as plain text, honouring its declared type."""
    value = node.get(field)
    if not isinstance(value, str):
        return ""
    detail = node.get(f"{field}_detail") or {}
    kind = detail.get("type")
    # feedparser copies Atom content into a missing summary without its type.
    if kind in _HTML_TYPES or (kind is None and _LOOKS_LIKE_HTML.search(value)):
        text = html_to_text(value)
    else:
        text = "\n\n".join(_one_line(part) for part in re.split(r"\n\s*\n", value))
    return _one_line(text) if one_line else text.strip()


def _content_html(raw: Mapping[str, Any]) -> str | None:
    """Return the first HTML content block (content:encoded, Atom content)."""
    for block in raw.get("content") or ():
        value = block.get("value")
        if block.get("type") in _HTML_TYPES and isinstance(value, str) and value.strip():
            return value
    return None


def _categories(raw: Mapping[str, Any]) -> tuple[str, ...]:
    """Return distinct category names in feed order."""
    names: list[str] = []
    for tag in raw.get("tags") or ():
        name = _one_line(str(tag.get("term") or tag.get("label") or ""))
        if name and name not in names:
            names.append(name[:MAX_TITLE_CHARS])
        if len(names) >= MAX_CATEGORIES:
            break
    return tuple(names)


def _entry_date(raw: Mapping[str, Any], *, now: datetime) -> datetime | None:
    """Return the published (else updated) date as aware UTC, if plausible."""
    for field in ("published_parsed", "updated_parsed"):
        parsed = raw.get(field)
        if isinstance(parsed, time.struct_time):
            moment = _struct_to_datetime(parsed)
            if moment is not None and _EARLIEST_DATE <= moment <= now + _FUTURE_SLACK:
                return moment
    return None


def _struct_to_datetime(value: time.struct_time) -> datetime | None:
    """Convert feedparser's UTC struct_time, or None when it is not a real date."""
    try:
        return datetime.fromtimestamp(calendar.timegm(value), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


def _web_link(value: object) -> str | None:
    """Return the link when it is an absolute http(s) URL."""
    if not isinstance(value, str):
        return None
    link = value.strip()
    try:
        parts = urlsplit(link)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return link


def _ttl_seconds(value: object) -> int | None:
    """Convert an RSS <ttl> (minutes) to seconds."""
    try:
        minutes = int(str(value).strip())
    except ValueError:
        return None
    return minutes * 60 if minutes > 0 else None


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _truncate(text: str, limit: int) -> str:
    """Cut text to at most `limit` characters, at a word boundary when one is near."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.8:
        cut = cut[:space]
    return cut.rstrip() + "…"


class _TextExtractor(HTMLParser):
    """Collect text by paragraph, skipping scripts, styles and the like."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._paragraphs: list[list[str]] = [[]]
        self._hidden_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth += 1
        elif tag == "br":
            self._paragraphs[-1].append(_LINE_BREAK)
        elif tag in _BLOCK_TAGS:
            self._paragraphs.append([])

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._paragraphs[-1].append(_LINE_BREAK)
        elif tag in _BLOCK_TAGS:
            self._paragraphs.append([])

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden_depth = max(0, self._hidden_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._paragraphs.append([])

    def handle_data(self, data: str) -> None:
        if not self._hidden_depth:
            self._paragraphs[-1].append(data.replace(_LINE_BREAK, ""))

    def text(self) -> str:
        blocks = []
        for pieces in self._paragraphs:
            lines = (_one_line(line) for line in "".join(pieces).split(_LINE_BREAK))
            block = "\n".join(line for line in lines if line)
            if block:
                blocks.append(block)
        return "\n\n".join(blocks)
