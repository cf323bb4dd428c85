"""Poll the feeds that are due: each in a task of its own, so a slow or hanging feed delays
no other feed's alerts. The scheduler (bot/ingest/scheduler.py) calls `launch_due`; one poll
is bot/ingest/poll.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import Feed, utcnow
from bot.feeds.fetcher import FetchResult, build_client
from bot.feeds.parser import ParsedFeed
from bot.ingest.poll import FeedOutcome, FeedPoller, OnDisabled, PollStatus
from bot.ingest.scheduler import DueTimes
from bot.ingest.store import StoreReport
from bot.ingest.topic_cache import TopicCache
from bot.ingest.workers import fetch_limits
from bot.ops import metrics

log = logging.getLogger(__name__)

# Feeds launched at most per round; the rest wait for the next one.
LAUNCH_BATCH = 5000
# Polls run as independent tasks; their outcomes are logged together this often.
SUMMARY_EVERY_SECONDS = 300.0


@dataclass(slots=True)
class RoundReport:
    """What a set of polls did."""

    polled: int = 0
    not_modified: int = 0
    parsed: int = 0
    failed: int = 0
    disabled: int = 0
    new_entries: int = 0
    alerts_queued: int = 0
    errors: dict[str, str] = field(default_factory=dict)

    def add(self, outcome: FeedOutcome) -> None:
        """Count one feed's outcome."""
        self.polled += 1
        self.new_entries += outcome.new_entries
        self.alerts_queued += outcome.alerts_queued
        if outcome.status == PollStatus.NOT_MODIFIED:
            self.not_modified += 1
        elif outcome.status == PollStatus.PARSED:
            self.parsed += 1
        else:
            self.failed += 1
            self.errors[outcome.url] = outcome.error or "failed"
        if outcome.disabled:
            self.disabled += 1


class FeedWatcher:
    """Launch the polls of due feeds and keep track of them; tests call `poll_round`."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        topics: TopicCache,
        client: httpx.AsyncClient | None = None,
        parse_in_processes: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.topics = topics
        self.client = client or build_client(
            allow_private_networks=settings.allow_private_networks,
            limits=fetch_limits(settings),
            # Feed fetches and article pages each have FETCH_CONCURRENCY slots: a connection
            # for every one, so neither waits for the pool because of the other.
            connections=2 * settings.fetch_concurrency,
        )
        self.poller = FeedPoller(
            engine=engine,
            settings=settings,
            topics=topics,
            client=self.client,
            parse_in_processes=parse_in_processes,
        )
        self._in_flight: dict[int, asyncio.Task[FeedOutcome]] = {}
        self._launch_lock = asyncio.Lock()
        # Completion order of feed tasks, so a launch never restarts a feed that finished
        # while the due feeds were being read.
        self._finished_seq = 0
        self._finished_at: dict[int, int] = {}
        self._tally = RoundReport()
        self._tally_since = time.monotonic()
        self.due_times = DueTimes()

    @property
    def on_queued(self) -> Callable[[], None]:
        """Called when a poll queued alerts (the door wakes up)."""
        return self.poller.on_queued

    @on_queued.setter
    def on_queued(self, callback: Callable[[], None]) -> None:
        self.poller.on_queued = callback

    @property
    def on_disabled(self) -> OnDisabled | None:
        """Awaited when a feed is disabled after too many failures (operators are told)."""
        return self.poller.on_disabled

    @on_disabled.setter
    def on_disabled(self, callback: OnDisabled | None) -> None:
        self.poller.on_disabled = callback

    def note_due(self, at: datetime) -> None:
        """Tell the scheduler a feed is due at `at` (a feed added, enabled or just polled)."""
        self.due_times.note(at)

    @property
    def in_flight(self) -> frozenset[int]:
        """Return the ids of the feeds being polled now."""
        return frozenset(self._in_flight)

    async def check(self, url: str) -> tuple[FetchResult, ParsedFeed]:
        """Fetch and parse a feed as a poll would; raise FetchError or FeedParseError."""
        return await self.poller.check(url)

    async def seed(self, feed: Feed, result: FetchResult, parsed: ParsedFeed) -> StoreReport:
        """Store a just-added feed's entries as history and record the fetch."""
        return await self.poller.seed(feed, result, parsed)

    async def flush(self) -> None:
        """Write the 304 answers waiting to be recorded."""
        await self.poller.flush()

    async def aclose(self) -> None:
        """Stop polls in flight, write what is pending and close the HTTP clients."""
        tasks: list[asyncio.Task[Any]] = list(self._in_flight.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.poller.aclose()
        await self.client.aclose()

    async def launch_due(self) -> list[asyncio.Task[FeedOutcome]]:
        """Start a poll task for every due feed that is not being polled; return them."""
        async with self._launch_lock:
            await self.flush()  # the due feeds are read from the database
            seq = self._finished_seq
            busy = set(self._in_flight)
            feeds = await asyncio.to_thread(self._load_due, busy)
            tasks = []
            for feed in feeds:
                assert feed.id is not None
                if feed.id in self._in_flight or self._finished_at.get(feed.id, -1) > seq:
                    continue
                task = asyncio.create_task(self.poller.poll(feed), name=f"poll-feed-{feed.id}")
                self._in_flight[feed.id] = task
                task.add_done_callback(partial(self._task_done, feed.id))
                tasks.append(task)
        if tasks:
            log.debug("launched %d feed polls (%d in flight)", len(tasks), len(self._in_flight))
        self._log_tally()
        return tasks

    async def poll_round(self) -> RoundReport:
        """Poll every due feed and wait for those polls; one failing feed never stops another."""
        tasks = await self.launch_due()
        report = RoundReport()
        for outcome in await asyncio.gather(*tasks):
            report.add(outcome)
        await self.flush()
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

    def _log_tally(self) -> None:
        """Log what the polls finished since the last summary did, every few minutes."""
        now = time.monotonic()
        if now - self._tally_since < SUMMARY_EVERY_SECONDS:
            return
        tally = self._tally
        if tally.polled:
            log.info(
                "feeds in the last %.0f s: %d polled, %d unchanged, %d failed, %d disabled, "
                "%d new entries, %d alerts queued",
                now - self._tally_since,
                tally.polled,
                tally.not_modified,
                tally.failed,
                tally.disabled,
                tally.new_entries,
                tally.alerts_queued,
            )
        self._tally = RoundReport()
        self._tally_since = now

    def _load_due(self, busy: set[int]) -> list[Feed]:
        with session_scope(self.engine) as session:
            ids = feeds_db.due_feed_ids(session=session, now=utcnow())
            wanted = [i for i in ids if i not in busy][:LAUNCH_BATCH]
            return feeds_db.feeds_by_ids(session=session, ids=wanted)

    def _task_done(self, feed_id: int, task: asyncio.Task[FeedOutcome]) -> None:
        self._in_flight.pop(feed_id, None)
        metrics.record_feed(task)
        self._finished_seq += 1
        self._finished_at[feed_id] = self._finished_seq
        if task.cancelled():
            return
        if task.exception() is not None:
            log.error(
                "poll of feed %d crashed",
                feed_id,
                exc_info=task.exception(),
                extra={"feed": feed_id},
            )
        else:
            outcome = task.result()
            self._tally.add(outcome)
            if outcome.next_poll_at is not None:
                self.note_due(outcome.next_poll_at)
