"""Poll due feeds: fetch, parse, summarize what's new, store it and queue its alerts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import Engine

from bot.alerts import NewEntry, StoreReport, TopicCache, store_entries
from bot.config import Settings
from bot.db import repo
from bot.db.engine import session_scope
from bot.db.models import Feed, utcnow
from bot.feeds.fetcher import (
    HTML_ACCEPT,
    FetchError,
    FetchLimits,
    FetchResult,
    backoff_delay,
    build_client,
    fetch,
    next_poll_delay,
)
from bot.feeds.parser import FeedParseError, ParsedEntry, ParsedFeed, parse_feed
from bot.summaries import LlmSummarizer, extract_main_text, has_full_story, summarize_text

log = logging.getLogger(__name__)


@dataclass(slots=True)
class RoundReport:
    """What one poll round did."""

    polled: int = 0
    not_modified: int = 0
    failed: int = 0
    new_entries: int = 0
    alerts_queued: int = 0
    errors: dict[str, str] = field(default_factory=dict)


def fetch_limits(settings: Settings) -> FetchLimits:
    """Build the fetch limits from settings."""
    return FetchLimits(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
    )


def llm_summarizer(settings: Settings) -> LlmSummarizer | None:
    """Return the abstractive summarizer when SUMMARIZER=llm, else None."""
    if settings.summarizer != "llm":
        return None
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    return LlmSummarizer(
        base_url=settings.llm_base_url,
        api_key=key,
        model=settings.llm_model,
        timeout_seconds=settings.llm_timeout_seconds,
        max_concurrency=settings.llm_max_concurrency,
    )


def host_of(url: str) -> str:
    """Return the URL's host for logs (never the query string, which may hold secrets)."""
    return urlsplit(url).hostname or "?"


class FeedWatcher:
    """Everything a poll round needs; the scheduled job only calls `poll_round`."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        topics: TopicCache,
        on_queued: Callable[[], None] = lambda: None,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.topics = topics
        self.on_queued = on_queued
        self.limits = fetch_limits(settings)
        self.client = client or build_client(
            allow_private_networks=settings.allow_private_networks, limits=self.limits
        )
        self.max_chars = settings.summary_max_chars
        self.llm = llm_summarizer(settings)
        self._fetch_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self._round_lock = asyncio.Lock()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        await self.client.aclose()
        if self.llm is not None:
            await self.llm.aclose()

    async def poll_round(self) -> RoundReport:
        """Poll every feed that is due; one failing feed never stops the others."""
        report = RoundReport()
        if self._round_lock.locked():
            return report  # the previous round is still running
        async with self._round_lock:
            feeds = await asyncio.to_thread(self._due_feeds)
            await asyncio.gather(*(self._poll_feed(feed, report) for feed in feeds))
        if report.polled:
            log.info(
                "poll round: %d feeds, %d unchanged, %d failed, %d new entries, %d alerts queued",
                report.polled,
                report.not_modified,
                report.failed,
                report.new_entries,
                report.alerts_queued,
            )
        return report

    def _due_feeds(self) -> list[Feed]:
        with session_scope(self.engine) as session:
            return repo.due_feeds(session=session, now=utcnow())

    async def _poll_feed(self, feed: Feed, report: RoundReport) -> None:
        assert feed.id is not None
        report.polled += 1
        try:
            async with self._fetch_slots:
                result = await fetch(
                    self.client,
                    feed.url,
                    limits=self.limits,
                    etag=feed.etag,
                    last_modified=feed.last_modified,
                )
            if result.not_modified:
                report.not_modified += 1
                await asyncio.to_thread(self._record_success, feed, result, None)
                return
            parsed = await asyncio.to_thread(
                parse_feed, result.body, url=result.url, headers=result.headers
            )
            stored = await self._store(feed, parsed)
            report.new_entries += stored.stored if feed.seeded else 0
            report.alerts_queued += stored.alerts_queued
            await asyncio.to_thread(self._record_success, feed, result, parsed)
            if stored.alerts_queued:
                self.on_queued()
        except (FetchError, FeedParseError) as err:
            report.failed += 1
            report.errors[feed.url] = str(err)
            retry_after = err.retry_after if isinstance(err, FetchError) else None
            await asyncio.to_thread(self._record_failure, feed, str(err), retry_after)
        except Exception as err:  # a bug must not stop the other feeds
            report.failed += 1
            report.errors[feed.url] = f"internal error: {type(err).__name__}"
            log.exception("feed %d (%s): unexpected error", feed.id, host_of(feed.url))
            await asyncio.to_thread(self._record_failure, feed, "internal error", None)

    async def _store(self, feed: Feed, parsed: ParsedFeed) -> StoreReport:
        assert feed.id is not None
        fresh = await asyncio.to_thread(self._unknown_entries, feed.id, parsed)
        if not fresh:
            return StoreReport(stored=0, alerts_queued=0)
        history = not feed.seeded
        if history:
            # The first time a feed is seen its entries are history: no page fetches, no alerts.
            items = await asyncio.to_thread(
                lambda: [self._item(e, summarize_text(e.summary, title=e.title)) for e in fresh]
            )
        else:
            summaries = await asyncio.gather(*(self._summarize(e) for e in fresh))
            items = [self._item(e, s) for e, s in zip(fresh, summaries, strict=True)]
        return await asyncio.to_thread(
            lambda: store_entries(
                engine=self.engine,
                topics=self.topics,
                feed_id=feed.id or 0,
                items=items,
                history=history,
            )
        )

    def _unknown_entries(self, feed_id: int, parsed: ParsedFeed) -> list[ParsedEntry]:
        keys = [e.key for e in parsed.entries]
        with session_scope(self.engine) as session:
            known = repo.known_keys(session=session, feed_id=feed_id, keys=keys)
        return [e for e in parsed.entries if e.key not in known]

    @staticmethod
    def _item(entry: ParsedEntry, summary: str) -> NewEntry:
        return NewEntry(
            key=entry.key,
            link=entry.link,
            link_key=entry.canonical_link,
            title=entry.title,
            summary=summary,
            feed_summary=entry.summary,
            categories=entry.categories,
            published=entry.published,
        )

    async def _summarize(self, entry: ParsedEntry) -> str:
        """Summarize once per entry: the feed's own story, else the article page, else the blurb."""
        text = await self._story_text(entry)
        if text:
            summary = await self._condense(text, entry.title)
            if summary:
                return summary
        return await asyncio.to_thread(
            summarize_text, entry.summary, title=entry.title, max_chars=self.max_chars
        )

    async def _story_text(self, entry: ParsedEntry) -> str | None:
        """Return the story's main text: from the feed when it carries it, else from the page."""
        if has_full_story(content_html=entry.content_html, description=entry.summary):
            source = entry.content_html or entry.summary
            return await asyncio.to_thread(extract_main_text, source, url=entry.link)
        if not (self.settings.fetch_articles and entry.link):
            return None
        try:
            async with self._fetch_slots:
                page = await fetch(self.client, entry.link, limits=self.limits, accept=HTML_ACCEPT)
            html = page.body.decode(_charset(page), errors="replace")
            return await asyncio.to_thread(extract_main_text, html, url=page.url)
        except FetchError as err:
            log.info("article page on %s not used: %s", host_of(entry.link), err)
        except Exception:
            log.exception("extracting a page from %s failed", host_of(entry.link))
        return None

    async def _condense(self, text: str, title: str) -> str:
        if self.llm is not None:
            return await self.llm.summarize(text=text, title=title, max_chars=self.max_chars)
        return await asyncio.to_thread(summarize_text, text, title=title, max_chars=self.max_chars)

    def _record_success(self, feed: Feed, result: FetchResult, parsed: ParsedFeed | None) -> None:
        now = utcnow()
        delay = next_poll_delay(
            default_seconds=self.settings.poll_interval_seconds,
            ttl_seconds=parsed.ttl_seconds if parsed else None,
            headers=result.headers,
        )
        with session_scope(self.engine) as session:
            row = session.get(Feed, feed.id)
            if row is None:
                return
            row.etag = result.etag or (None if parsed else row.etag)
            row.last_modified = result.last_modified or (None if parsed else row.last_modified)
            if parsed is not None:
                row.seeded = True
                if parsed.title:
                    row.title = parsed.title[:300]
            row.error_count = 0
            row.last_error = None
            row.last_success_at = now
            row.last_polled_at = now
            row.next_poll_at = now + timedelta(seconds=delay)
            session.add(row)

    def _record_failure(self, feed: Feed, error: str, retry_after: float | None) -> None:
        now = utcnow()
        with session_scope(self.engine) as session:
            row = session.get(Feed, feed.id)
            if row is None:
                return
            row.error_count += 1
            row.last_error = error[:500]
            row.last_polled_at = now
            delay = backoff_delay(
                error_count=row.error_count, base_seconds=self.settings.poll_interval_seconds
            )
            if retry_after:
                delay = max(delay, min(retry_after, 6 * 3600))
            row.next_poll_at = now + timedelta(seconds=delay)
            session.add(row)
        log.warning(
            "feed %d (%s) failed (%d in a row): %s; next try in %.0fs",
            feed.id,
            host_of(feed.url),
            row.error_count,
            error,
            delay,
        )


def _charset(result: FetchResult) -> str:
    ctype = result.headers.get("content-type", "")
    for part in ctype.split(";"):
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            try:
                "".encode(value.strip("\"'"))
                return value.strip("\"'")
            except LookupError:
                break
    return "utf-8"
