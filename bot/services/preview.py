"""The stories a feed's newest entries would alert with, without Telegram or a database.

`newsbot preview` prints them (rendered as chats would see them).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from bot.config import Settings
from bot.feeds.fetcher import FetchError, build_client, fetch
from bot.feeds.parser import FeedParseError, ParsedEntry, parse_feed
from bot.ingest.articles import ArticlePages, StorySummarizer
from bot.ingest.workers import HostSlots, fetch_limits
from bot.services.stories import Story

PREVIEW_ENTRIES = 5

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class PreviewError(Exception):
    """The source can't be previewed; str() says why in one line."""


@dataclass(frozen=True, slots=True)
class FeedPreview:
    """A feed's title, its entry count and the stories of its newest entries."""

    source: str
    title: str
    entries: int
    stories: tuple[Story, ...]


def is_url(source: str) -> bool:
    """Tell a URL ("scheme://...") from a file path."""
    return bool(_SCHEME.match(source))


def newest_entries(entries: tuple[ParsedEntry, ...], count: int) -> list[ParsedEntry]:
    """Return the `count` newest entries: by date when every entry has one, else feed order."""
    if entries and all(e.published is not None for e in entries):
        ordered = sorted(entries, key=lambda e: e.published or datetime.min, reverse=True)
        return ordered[:count]
    return list(entries[:count])


def read_feed_file(path: str, *, max_bytes: int) -> tuple[bytes, str]:
    """Read a feed file within the size limit and return it with its file:// URL.

    Raise PreviewError with the reason when it can't be read.
    """
    file = Path(path)
    try:
        size = file.stat().st_size
        if file.is_dir():
            raise PreviewError("is a directory, not a feed file")
        if size > max_bytes:
            raise PreviewError(f"file is larger than FETCH_MAX_BYTES ({max_bytes} bytes)")
        return file.read_bytes(), file.resolve().as_uri()
    except FileNotFoundError:
        raise PreviewError("no such file (give a file path or an http(s) URL)") from None
    except OSError as err:
        raise PreviewError(f"can't read it: {err.strerror or err}") from None


class Previewer:
    """Fetch or read feeds and build their alerts as the watcher would."""

    def __init__(self, *, settings: Settings) -> None:
        self.settings = settings
        self.limits = fetch_limits(settings)
        self.client = build_client(
            allow_private_networks=settings.allow_private_networks, limits=self.limits
        )
        pages = ArticlePages(
            client=self.client,
            limits=self.limits,
            hosts=HostSlots(),
            pool_size=settings.fetch_concurrency,
            deadline_seconds=settings.article_deadline_seconds,
        )
        self.summarizer = StorySummarizer(settings=settings, pages=pages)

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.client.aclose()
        await self.summarizer.aclose()

    async def preview(self, source: str) -> FeedPreview:
        """Return the preview of a feed URL or file; raise PreviewError when it can't be used."""
        if is_url(source):
            try:
                result = await fetch(self.client, source, limits=self.limits)
            except FetchError as err:
                raise PreviewError(str(err)) from None
            body, url, headers = result.body, result.url, result.headers
        else:
            body, url = await asyncio.to_thread(
                read_feed_file, source, max_bytes=self.settings.fetch_max_bytes
            )
            headers = {}
        try:
            parsed = await asyncio.to_thread(parse_feed, body, url=url, headers=headers)
        except FeedParseError as err:
            raise PreviewError(str(err)) from None
        chosen = newest_entries(parsed.entries, PREVIEW_ENTRIES)
        summaries = await asyncio.gather(*(self.summarizer.summarize(e) for e in chosen))
        title = parsed.title or source
        stories = tuple(
            Story(
                title=e.title,
                summary=summary,
                link=e.link,
                source=title,
                published=e.published,
            )
            for e, summary in zip(chosen, summaries, strict=True)
        )
        return FeedPreview(source=source, title=title, entries=len(parsed.entries), stories=stories)
