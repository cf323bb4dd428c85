"""Manage the watched feeds: add (checked first), remove, list with health, OPML in and out.

Chat commands and the command line both go through `FeedManager`; neither touches SQL.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from sqlmodel import Session

from bot.db import feeds as feeds_db
from bot.db.engine import unit_of_work
from bot.db.models import Feed, utcnow
from bot.feeds.fetcher import FetchError, FetchResult
from bot.feeds.identity import feed_name, hide_credentials
from bot.feeds.opml import OpmlFeed, export_opml, parse_opml
from bot.feeds.parser import FeedParseError, ParsedFeed
from bot.ingest.watcher import FeedWatcher

T = TypeVar("T")

MAX_URL_CHARS = 2048
# Feeds of one OPML import checked at once (each check is also bound by FETCH_CONCURRENCY).
IMPORT_CHECKS = 8

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class FeedInputError(ValueError):
    """The input names no feed: not a URL, an unknown number, a feed not on the list."""


class FeedUnusableError(Exception):
    """The feed could not be fetched or is not a feed; str() says why."""


def normalize_feed_url(text: str) -> str:
    """Return the feed URL in `text`, or raise FeedInputError saying what is wrong."""
    url = text.strip().strip("<>").strip()
    shown = hide_credentials(url if len(url) <= 80 else url[:79] + "…")
    if not url:
        raise FeedInputError("no feed address given")
    if any(ch.isspace() for ch in url):
        raise FeedInputError(f"“{shown}” is not a feed address (it contains spaces)")
    if not _SCHEME.match(url):
        raise FeedInputError(
            f"“{shown}” is not a feed address; give a full URL starting with http:// or https://"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise FeedInputError(f"“{shown}” is not a valid URL") from None
    if parts.scheme.lower() not in ("http", "https"):
        raise FeedInputError(f"“{shown}” is not an http:// or https:// address")
    if not parts.hostname or port == 0:
        raise FeedInputError(f"“{shown}” has no host name")
    if len(url) > MAX_URL_CHARS:
        raise FeedInputError(f"that address is longer than {MAX_URL_CHARS} characters")
    return url


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One feed as /feeds and `newsbot feeds list` show it."""

    number: int
    feed_id: int
    url: str
    title: str | None
    enabled: bool
    error_count: int
    last_error: str | None
    last_success_at: datetime | None
    next_poll_at: datetime | None
    entries: int

    @property
    def name(self) -> str:
        """Return the feed's display name (its title, else its host)."""
        return feed_name(title=self.title, url=self.url)

    @property
    def health(self) -> str:
        """Return "ok", "failing", "disabled" or "new" (never polled successfully)."""
        if not self.enabled:
            return "disabled"
        if self.error_count:
            return "failing"
        return "ok" if self.last_success_at else "new"


@dataclass(frozen=True, slots=True)
class AddResult:
    """The outcome of adding a feed."""

    status: str  # "added", "present" (already on the list) or "enabled" (was disabled)
    number: int
    url: str
    title: str
    entries: int  # entries in the feed now (0 for "present")


@dataclass(frozen=True, slots=True)
class RemoveResult:
    """The feed that was removed."""

    url: str
    title: str
    entries: int  # stored entries removed with it


@dataclass(slots=True)
class ImportReport:
    """What an OPML import did, feed by feed."""

    added: list[AddResult] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)


def format_age(delta: timedelta) -> str:
    """Return a rough duration: "40 s", "12 min", "3 h", "5 days"."""
    seconds = abs(delta.total_seconds())
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def ago(moment: datetime | None, *, now: datetime) -> str:
    """Return "12 min ago", or "never"."""
    return "never" if moment is None else f"{format_age(now - moment)} ago"


def until(moment: datetime | None, *, now: datetime) -> str:
    """Return "in 12 min", or "now" when the moment has passed."""
    if moment is None or moment <= now:
        return "now"
    return f"in {format_age(moment - now)}"


class FeedManager:
    """Feed management for operators; fetches go through the watcher's client and limits."""

    def __init__(self, *, watcher: FeedWatcher) -> None:
        self.watcher = watcher
        self.engine = watcher.engine

    async def _db(self, work: Callable[[Session], T]) -> T:
        return await unit_of_work(self.engine, work)

    async def add_configured(self, urls: Sequence[str]) -> int:
        """Store the feeds of the FEEDS setting not stored yet, due at once; return how many."""
        added = await self._db(lambda s: feeds_db.add_feeds(session=s, urls=urls, now=utcnow()))
        return len(added)

    async def statuses(self) -> list[FeedStatus]:
        """Return every feed with its health, numbered as listed."""

        def load(session: Session) -> list[FeedStatus]:
            counts = feeds_db.entry_counts(session=session)
            return [
                FeedStatus(
                    number=n,
                    feed_id=f.id or 0,
                    url=f.url,
                    title=f.title,
                    enabled=f.enabled,
                    error_count=f.error_count,
                    last_error=f.last_error,
                    last_success_at=f.last_success_at,
                    next_poll_at=f.next_poll_at,
                    entries=counts.get(f.id or 0, 0),
                )
                for n, f in enumerate(feeds_db.all_feeds(session=session), start=1)
            ]

        return await self._db(load)

    async def add(self, text: str) -> AddResult:
        """Check the feed and add it; its current entries become history (no alerts).

        Raise FeedInputError for input that is not a feed URL and FeedUnusableError when
        the feed can't be fetched or parsed. A feed already listed is left as it is; a
        disabled one is checked and turned back on.
        """
        url = normalize_feed_url(text)
        existing = await self._db(lambda s: self._number_and_feed(s, url))
        if existing is not None and existing[1].enabled:
            number, feed = existing
            return AddResult(
                status="present",
                number=number,
                url=url,
                title=feed_name(title=feed.title, url=feed.url),
                entries=0,
            )
        result, parsed = await self._check(url)
        title = feed_name(title=parsed.title, url=url)
        now = utcnow()
        if existing is not None:
            number, feed = existing
            feed_id = feed.id or 0
            await self._db(lambda s: feeds_db.enable_feed(session=s, feed_id=feed_id, now=now))
            self.watcher.note_due(now)
            return AddResult(
                status="enabled",
                number=number,
                url=url,
                title=feed_name(title=feed.title, url=feed.url),
                entries=len(parsed.entries),
            )
        next_poll_at = now + timedelta(seconds=self.watcher.poller.next_delay(result, parsed))
        created = await self._db(
            lambda s: feeds_db.create_feed(
                session=s, url=url, title=parsed.title or None, next_poll_at=next_poll_at
            )
        )
        if created is None:  # added by someone else meanwhile
            found = await self._db(lambda s: self._number_and_feed(s, url))
            number = found[0] if found is not None else 0
            return AddResult(status="present", number=number, url=url, title=title, entries=0)
        await self.watcher.seed(created, result, parsed)
        self.watcher.note_due(next_poll_at)
        feed_id = created.id or 0
        number = await self._db(lambda s: feeds_db.feed_number(session=s, feed_id=feed_id))
        return AddResult(
            status="added", number=number, url=url, title=title, entries=len(parsed.entries)
        )

    async def remove(self, ref: str) -> RemoveResult:
        """Remove a feed given by its URL or its number in the listing, with its entries."""
        ref = ref.strip()
        if not ref:
            raise FeedInputError("no feed given")

        def find(session: Session) -> Feed:
            feeds = feeds_db.all_feeds(session=session)
            if ref.lstrip("#").isdigit():
                n = int(ref.lstrip("#"))
                if not 1 <= n <= len(feeds):
                    total = f"{len(feeds)} feed{'s' if len(feeds) != 1 else ''}"
                    raise FeedInputError(f"there is no feed number {n} (the list has {total})")
                return feeds[n - 1]
            url = normalize_feed_url(ref)
            for feed in feeds:
                if feed.url == url:
                    return feed
            raise FeedInputError("that feed is not on the list")

        def delete(session: Session) -> RemoveResult:
            feed = find(session)
            entries = feeds_db.delete_feed(session=session, feed_id=feed.id or 0)
            return RemoveResult(
                url=feed.url, title=feed_name(title=feed.title, url=feed.url), entries=entries
            )

        return await self._db(delete)

    async def import_opml(self, data: bytes) -> ImportReport:
        """Add every feed of an OPML file; raise OpmlError when it is not one."""
        listed = parse_opml(data)
        report = ImportReport()
        gate = asyncio.Semaphore(IMPORT_CHECKS)

        async def one(item: OpmlFeed) -> None:
            async with gate:
                try:
                    added = await self.add(item.url)
                except (FeedInputError, FeedUnusableError) as err:
                    report.refused.append((item.url, str(err)))
                    return
            if added.status == "present":
                report.present.append(added.url)
            else:
                report.added.append(added)

        await asyncio.gather(*(one(item) for item in listed))
        order = {item.url: n for n, item in enumerate(listed)}
        report.added.sort(key=lambda a: order.get(a.url, 0))
        report.present.sort(key=lambda u: order.get(u, 0))
        report.refused.sort(key=lambda r: order.get(r[0], 0))
        return report

    async def export_opml(self) -> tuple[str, int]:
        """Return the OPML document of every feed, and how many it lists."""
        feeds = await self._db(lambda s: feeds_db.all_feeds(session=s))
        listed = [OpmlFeed(url=f.url, title=f.title) for f in feeds]
        return export_opml(listed), len(listed)

    async def _check(self, url: str) -> tuple[FetchResult, ParsedFeed]:
        try:
            return await self.watcher.check(url)
        except (FetchError, FeedParseError) as err:
            raise FeedUnusableError(str(err)) from None

    @staticmethod
    def _number_and_feed(session: Session, url: str) -> tuple[int, Feed] | None:
        feed = feeds_db.feed_by_url(session=session, url=url)
        if feed is None or feed.id is None:
            return None
        return feeds_db.feed_number(session=session, feed_id=feed.id), feed
