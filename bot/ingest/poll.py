"""One poll of one feed: fetch (conditional GET) → parse → summarize what's new → store.

Also records how the poll went (the next poll time, errors and backoff, disabling a feed that
keeps failing), and the first look at a feed being added (`check`, then `seed`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import entries
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import Feed, utcnow
from bot.feeds.fetcher import FetchError, FetchResult, fetch
from bot.feeds.identity import host_of
from bot.feeds.parser import FeedParseError, ParsedEntry, ParsedFeed
from bot.feeds.policy import MAX_DELAY_SECONDS, failure_delay, next_poll_delay
from bot.ingest.articles import ArticlePages, StorySummarizer
from bot.ingest.store import WRITE_LOCK, NewEntry, StoreReport, store_entries
from bot.ingest.story_groups import StoryGroups
from bot.ingest.topic_cache import TopicCache
from bot.ingest.workers import PARSE_THREADS, CpuPool, HostSlots, fetch_limits, parse_processes
from bot.ops import metrics
from bot.summaries.extractive import cut_at_clause

log = logging.getLogger(__name__)

# Most polls end in a 304; their bookkeeping is written in batches this far apart.
NOT_MODIFIED_BATCH_SECONDS = 0.2


class PollStatus(StrEnum):
    NOT_MODIFIED = "not_modified"
    PARSED = "parsed"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What polling one feed did."""

    feed_id: int
    url: str
    status: PollStatus
    new_entries: int = 0
    alerts_queued: int = 0
    error: str | None = None
    disabled: bool = False
    # When the feed is due again (None when it is gone).
    next_poll_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class FeedDisabled:
    """A feed stopped being polled after failing too many times in a row."""

    url: str
    title: str | None
    errors: int
    last_error: str


OnDisabled = Callable[[FeedDisabled], Awaitable[None]]


def history_summary(text: str, *, max_chars: int) -> str:
    """Return a cheap summary for a story stored as history (the feed's blurb, cut).

    A new feed brings hundreds of old stories at once; they alert no one, so they get the
    blurb cut at a clause instead of the sentence-by-sentence summary new stories get.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= max_chars else cut_at_clause(flat, max_chars)


def new_entry(entry: ParsedEntry, summary: str) -> NewEntry:
    """Return a parsed entry with its summary, ready to store."""
    return NewEntry(
        key=entry.key,
        link=entry.link,
        link_key=entry.canonical_link,
        title=entry.title,
        summary=summary,
        description=entry.summary,
        categories=entry.categories,
        published=entry.published,
    )


class FeedPoller:
    """Poll one feed at a time, as many at once as the fetch limits allow."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        topics: TopicCache,
        client: httpx.AsyncClient,
        parse_in_processes: bool,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.topics = topics
        self.client = client
        self.on_queued: Callable[[], None] = lambda: None
        self.on_disabled: OnDisabled | None = None
        self.limits = fetch_limits(settings)
        self.max_chars = settings.summary_max_chars
        self.stories = (
            StoryGroups(
                window=timedelta(hours=settings.story_window_hours),
                edit_interval=timedelta(seconds=settings.story_edit_interval_seconds),
            )
            if settings.story_window_hours > 0
            else None
        )
        self._fetch_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self._parse_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self.host_slots = HostSlots()
        processes = parse_processes(settings.parse_processes)
        self.cpu = CpuPool(processes if parse_in_processes else 0)
        self.pages = ArticlePages(
            client=client,
            limits=self.limits,
            hosts=self.host_slots,
            # A pool of their own: pages that hang never take a slot a feed poll needs.
            pool_size=settings.fetch_concurrency,
            deadline_seconds=settings.article_deadline_seconds,
        )
        self.summarizer = StorySummarizer(
            settings=settings,
            pages=self.pages,
            cpu=self.cpu,
            cpu_jobs=processes if parse_in_processes and processes else PARSE_THREADS,
        )
        self._not_modified: list[tuple[int, feeds_db.PollSuccess]] = []
        self._flush_lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None

    async def aclose(self) -> None:
        """Write the pending 304s and stop the summarizer and the CPU pool's threads."""
        if self._flush_task is not None:
            self._flush_task.cancel()
            await asyncio.gather(self._flush_task, return_exceptions=True)
        await self.flush()
        await self.summarizer.aclose()
        self.cpu.close()

    async def poll(self, feed: Feed) -> FeedOutcome:
        """Poll the feed and record the outcome; one failing feed never raises."""
        assert feed.id is not None
        # The next poll counts from this start, so a feed is polled every interval however
        # long its fetch and its stories take.
        started = utcnow()
        try:
            result, parsed = await self._fetch_and_parse(
                feed.url, etag=feed.etag, last_modified=feed.last_modified
            )
            polled_at = utcnow()
            if parsed is None:
                success = self._success(result, None, polled_at, started=started)
                self._queue_not_modified(feed.id, success)
                return FeedOutcome(
                    feed_id=feed.id,
                    url=feed.url,
                    status=PollStatus.NOT_MODIFIED,
                    next_poll_at=success.next_poll_at,
                )
            stored = await self._store(feed, parsed, polled_at)
            success = self._success(result, parsed, polled_at, started=started)
            kept = await asyncio.to_thread(self._record_success, feed, success)
            if stored.alerts_queued:
                self.on_queued()
            if stored.stored:
                log.info(
                    "feed %d (%s): %d new %s, %d alerts queued",
                    feed.id,
                    host_of(feed.url),
                    stored.stored,
                    "stories" if feed.seeded else "stories stored as history",
                    stored.alerts_queued,
                    extra={"feed": feed.id},
                )
            return FeedOutcome(
                feed_id=feed.id,
                url=feed.url,
                status=PollStatus.PARSED,
                new_entries=stored.stored if feed.seeded else 0,
                alerts_queued=stored.alerts_queued,
                next_poll_at=success.next_poll_at if kept else None,
            )
        except (FetchError, FeedParseError) as err:
            metrics.record_fetch_error(err)
            retry_after = err.retry_after if isinstance(err, FetchError) else None
            blocked = isinstance(err, FetchError) and err.kind == "blocked"
            return await self._failed(feed, str(err), retry_after=retry_after, blocked=blocked)
        except Exception as err:  # a bug must not stop the other feeds
            metrics.record_fetch_error(err)
            log.exception(
                "feed %d (%s): unexpected error",
                feed.id,
                host_of(feed.url),
                extra={"feed": feed.id},
            )
            error = f"internal error ({type(err).__name__})"
            return await self._failed(feed, error, retry_after=None, blocked=False)

    async def check(self, url: str) -> tuple[FetchResult, ParsedFeed]:
        """Fetch and parse a feed as a poll would; raise FetchError or FeedParseError."""
        result, parsed = await self._fetch_and_parse(url, etag=None, last_modified=None)
        if parsed is None:  # no validators were sent, so only a broken server answers 304
            raise FetchError("http_status", f"HTTP 304 from {host_of(url)} to a plain GET")
        return result, parsed

    async def seed(self, feed: Feed, result: FetchResult, parsed: ParsedFeed) -> StoreReport:
        """Store a just-added feed's entries as history and record the fetch."""
        polled_at = utcnow()
        stored = await self._store(feed, parsed, polled_at)
        success = self._success(result, parsed, polled_at, started=polled_at)
        await asyncio.to_thread(self._record_success, feed, success)
        log.info(
            "feed %d (%s) added: %d stories stored as history",
            feed.id,
            host_of(feed.url),
            stored.stored,
            extra={"feed": feed.id},
        )
        return stored

    def next_delay(self, result: FetchResult, parsed: ParsedFeed | None) -> float:
        """Return seconds from a fetch of the feed to its next poll (the feed's own pace)."""
        return next_poll_delay(
            default_seconds=self.settings.poll_interval_seconds,
            ttl_seconds=parsed.ttl_seconds if parsed else None,
            headers=result.headers,
            cap_seconds=MAX_DELAY_SECONDS,
        )

    async def _fetch_and_parse(
        self, url: str, *, etag: str | None, last_modified: str | None
    ) -> tuple[FetchResult, ParsedFeed | None]:
        """Fetch within the host and global limits; parse unless the server answered 304."""
        # The host slot comes first, so feeds queued behind a busy host hold no global slot.
        async with self.host_slots.hold(host_of(url)), self._fetch_slots:
            result = await fetch(
                self.client, url, limits=self.limits, etag=etag, last_modified=last_modified
            )
            if result.not_modified:
                return result, None
            # Taken before the fetch slot is given back: at most FETCH_CONCURRENCY bodies
            # wait for the parser, while other feeds' fetches (mostly 304s) go on.
            await self._parse_slots.acquire()
        try:
            return result, await self.cpu.parse(result)
        finally:
            self._parse_slots.release()

    async def _store(self, feed: Feed, parsed: ParsedFeed, seen_at: datetime) -> StoreReport:
        assert feed.id is not None
        feed_id = feed.id
        fresh = await asyncio.to_thread(self._unknown_entries, feed_id, parsed)
        fresh_keys = {e.key for e in fresh}
        history = not feed.seeded
        if history:
            # The first time a feed is seen its entries are history: no page fetches,
            # no alerts, and the feed's blurb for a summary.
            texts = [history_summary(e.summary, max_chars=self.max_chars) for e in fresh]
        else:
            texts = list(
                await asyncio.gather(
                    *(self.summarizer.summarize(e, feed_id=feed_id) for e in fresh)
                )
            )
        return await asyncio.to_thread(
            store_entries,
            engine=self.engine,
            topics=self.topics,
            feed_id=feed_id,
            items=[new_entry(e, t) for e, t in zip(fresh, texts, strict=True)],
            history=history,
            seen_at=seen_at,
            # New entries are stored as seen now; the known ones are marked seen now.
            present_keys=[e.key for e in parsed.entries if e.key not in fresh_keys],
            stories=self.stories,
        )

    def _unknown_entries(self, feed_id: int, parsed: ParsedFeed) -> list[ParsedEntry]:
        keys = [e.key for e in parsed.entries]
        with session_scope(self.engine) as session:
            known = entries.known_keys(session=session, feed_id=feed_id, keys=keys)
        return [e for e in parsed.entries if e.key not in known]

    async def flush(self) -> None:
        """Write the 304 answers waiting to be recorded."""
        async with self._flush_lock:
            polls, self._not_modified = self._not_modified, []
            if polls:
                await asyncio.to_thread(self._write_not_modified, polls)

    def _queue_not_modified(self, feed_id: int, success: feeds_db.PollSuccess) -> None:
        self._not_modified.append((feed_id, success))
        if self._flush_task is None or self._flush_task.done():
            self._flush_task = asyncio.create_task(self._flush_soon(), name="flush-304s")

    async def _flush_soon(self) -> None:
        await asyncio.sleep(NOT_MODIFIED_BATCH_SECONDS)
        try:
            await self.flush()
        except Exception:
            log.exception("recording %d unchanged feeds failed", len(self._not_modified))

    def _write_not_modified(self, polls: list[tuple[int, feeds_db.PollSuccess]]) -> None:
        with WRITE_LOCK, session_scope(self.engine) as session:
            feeds_db.record_not_modified(session=session, polls=polls)

    def _success(
        self,
        result: FetchResult,
        parsed: ParsedFeed | None,
        polled_at: datetime,
        *,
        started: datetime,
    ) -> feeds_db.PollSuccess:
        return feeds_db.PollSuccess(
            polled_at=polled_at,
            next_poll_at=started + timedelta(seconds=self.next_delay(result, parsed)),
            etag=result.etag,
            last_modified=result.last_modified,
            parsed=parsed is not None,
            title=parsed.title if parsed else None,
        )

    def _record_success(self, feed: Feed, success: feeds_db.PollSuccess) -> bool:
        assert feed.id is not None
        with WRITE_LOCK, session_scope(self.engine) as session:
            return feeds_db.record_success(session=session, feed_id=feed.id, success=success)

    async def _failed(
        self, feed: Feed, error: str, *, retry_after: float | None, blocked: bool
    ) -> FeedOutcome:
        """Record a failure, log it, and tell the operators when the feed gets disabled."""
        assert feed.id is not None
        base = self.settings.poll_interval_seconds

        def delay_for(error_count: int) -> float:
            return failure_delay(
                error_count=error_count, base_seconds=base, retry_after=retry_after
            )

        def record() -> feeds_db.FailureRecord | None:
            with WRITE_LOCK, session_scope(self.engine) as session:
                return feeds_db.record_failure(
                    session=session,
                    feed_id=feed.id or 0,
                    error=error,
                    now=utcnow(),
                    delay_for=delay_for,
                    disable_after=self.settings.feed_disable_after_errors,
                )

        state = await asyncio.to_thread(record)
        if state is None:  # removed while it was being polled
            return FeedOutcome(feed_id=feed.id, url=feed.url, status=PollStatus.FAILED, error=error)
        outcome = FeedOutcome(
            feed_id=feed.id,
            url=feed.url,
            status=PollStatus.FAILED,
            error=error,
            next_poll_at=None if state.disabled else state.next_poll_at,
        )
        extra = {"feed": feed.id}
        wait = (state.next_poll_at - utcnow()).total_seconds()
        # A refused address stays refused: say so once per feed, not every round.
        level = logging.DEBUG if blocked and state.previous_error == error else logging.WARNING
        log.log(
            level,
            "feed %d (%s) failed (%d in a row): %s; next try in %.0fs",
            feed.id,
            host_of(feed.url),
            state.error_count,
            error,
            max(wait, 0.0),
            extra=extra,
        )
        if not state.disabled:
            return outcome
        log.warning(
            "feed %d (%s) disabled after %d failures in a row",
            feed.id,
            host_of(feed.url),
            state.error_count,
            extra=extra,
        )
        if self.on_disabled is not None:
            notice = FeedDisabled(
                url=state.url, title=state.title, errors=state.error_count, last_error=error
            )
            try:
                await self.on_disabled(notice)
            except Exception:
                log.exception(
                    "could not tell the operators that feed %d was disabled", feed.id, extra=extra
                )
        return replace(outcome, disabled=True)
