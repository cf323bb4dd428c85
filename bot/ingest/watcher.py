"""Poll due feeds: fetch, parse, summarize what's new, store it and queue its alerts.

Every due feed is polled by a task of its own, so a slow or hanging feed delays no other
feed's alerts. The scheduled job only launches the feeds that are due and not in flight.
"""

from __future__ import annotations

import asyncio
import html
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, TypeVar

import httpx
from sqlalchemy.engine import Engine

from bot.config import Settings
from bot.db import feeds as feeds_db
from bot.db import repo
from bot.db.engine import session_scope
from bot.db.models import Feed, utcnow
from bot.feeds.fetcher import (
    FetchError,
    FetchLimits,
    FetchResult,
    backoff_delay,
    build_client,
    fetch,
    host_of,
    next_poll_delay,
)
from bot.feeds.parser import FeedParseError, ParsedEntry, ParsedFeed, parse_feed
from bot.ingest.alerts import WRITE_LOCK, NewEntry, StoreReport, TopicCache, store_entries
from bot.ingest.articles import ArticlePages, StorySummarizer
from bot.ingest.scheduler import DueTimes
from bot.ops import metrics
from bot.summaries.extractive import cut_at_clause

log = logging.getLogger(__name__)

T = TypeVar("T")

# Feeds may ask for long pauses (ttl, max-age, Retry-After) and failing feeds back off,
# but every feed is tried again within this time.
MAX_DELAY_SECONDS = 6 * 3600
# Politeness towards one server, whatever FETCH_CONCURRENCY allows in total.
PER_HOST_FETCHES = 4
# feedparser, trafilatura and the summarizer are pure Python: threads share one core,
# worker processes use them all. Without worker processes, two threads do this work, so the
# event loop and the default executor (chat handlers' database work) stay responsive.
PARSE_THREADS = 2
MAX_AUTO_PARSE_PROCESSES = 4
# Workers are replaced now and then, so memory a long run fragments is given back.
PARSE_TASKS_PER_WORKER = 2000
# Feeds launched at most per job run; the rest wait for the next run.
LAUNCH_BATCH = 5000
# Polls run as independent tasks; their outcomes are logged together this often.
SUMMARY_EVERY_SECONDS = 300.0
# Most polls end in a 304; their bookkeeping is written in batches this far apart.
NOT_MODIFIED_BATCH_SECONDS = 0.2

NotifyAdmins = Callable[[str], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class FeedOutcome:
    """What polling one feed did."""

    feed_id: int
    url: str
    status: str  # "not_modified", "parsed" or "failed"
    new_entries: int = 0
    alerts_queued: int = 0
    error: str | None = None
    disabled: bool = False
    # When the feed is due again (None when it is gone).
    next_poll_at: datetime | None = None


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
        if outcome.status == "not_modified":
            self.not_modified += 1
        elif outcome.status == "parsed":
            self.parsed += 1
        else:
            self.failed += 1
            self.errors[outcome.url] = outcome.error or "failed"
        if outcome.disabled:
            self.disabled += 1


def fetch_limits(settings: Settings) -> FetchLimits:
    """Build the fetch limits from settings."""
    return FetchLimits(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
    )


def history_summary(text: str, *, max_chars: int) -> str:
    """Return a cheap summary for a story stored as history (the feed's blurb, cut).

    A new feed brings hundreds of old stories at once; they alert no one, so they get the
    blurb cut at a clause instead of the sentence-by-sentence summary new stories get.
    """
    flat = " ".join(text.split())
    return flat if len(flat) <= max_chars else cut_at_clause(flat, max_chars)


def disabled_notice(*, url: str, title: str | None, errors: int, last_error: str) -> str:
    """Return the HTML message telling operators a feed was disabled."""
    name = f"<b>{html.escape(title, quote=False)}</b>\n" if title else ""
    return (
        f"⚠️ I stopped polling a feed after {errors} failures in a row:\n{name}"
        f"{html.escape(url, quote=False)}\n"
        f"Last error: {html.escape(last_error, quote=False)}\n\n"
        f"Send <code>/addfeed {html.escape(url, quote=False)}</code> to try it again, "
        "or /removefeed to drop it."
    )


class HostSlots:
    """Allow at most `per_host` concurrent holders per host name."""

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._hosts: dict[str, tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def hold(self, host: str) -> AsyncIterator[None]:
        """Wait for a slot on `host` and hold it for the block."""
        slot = self._hosts.get(host)
        if slot is None:
            slot = (asyncio.Semaphore(self._per_host), [0])
            self._hosts[host] = slot
        semaphore, users = slot
        users[0] += 1
        try:
            async with semaphore:
                yield
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._hosts[host]  # hosts come and go; keep only the busy ones

    def busy_hosts(self) -> int:
        """Return how many hosts have a fetch running or waiting."""
        return len(self._hosts)


def parse_processes(setting: int | str) -> int:
    """Return how many worker processes parse feeds; 0 means threads of this process."""
    if setting == "auto":
        cpus = os.cpu_count() or 1
        return 0 if cpus < 2 else min(cpus, MAX_AUTO_PARSE_PROCESSES)
    return int(setting)


class WorkerStoppedError(Exception):
    """A worker process died (killed, out of memory) while running a job."""


class CpuPool:
    """Run CPU-bound work (parsing, page extraction, summaries) off the event loop.

    In worker processes when there are several CPUs, else in threads. Worker processes are
    shared by every watcher of the process and started on first use.
    """

    _shared: ClassVar[dict[int, ProcessPoolExecutor]] = {}
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, processes: int) -> None:
        self.processes = processes
        self._threads = (
            ThreadPoolExecutor(PARSE_THREADS, thread_name_prefix="feed-cpu")
            if processes == 0
            else None
        )

    def _executor(self) -> Executor:
        if self._threads is not None:
            return self._threads
        with self._lock:
            pool = self._shared.get(self.processes)
            if pool is None:
                # "spawn": forking a process that runs threads can copy a held lock.
                pool = ProcessPoolExecutor(
                    self.processes,
                    mp_context=multiprocessing.get_context("spawn"),
                    max_tasks_per_child=PARSE_TASKS_PER_WORKER,
                    # Ctrl-C reaches the whole process group; the bot stops its workers.
                    initializer=signal.signal,
                    initargs=(signal.SIGINT, signal.SIG_IGN),
                )
                self._shared[self.processes] = pool
            return pool

    async def run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Return fn(*args, **kwargs), computed in a worker (fn and arguments must pickle)."""
        executor = self._executor()
        try:
            return await asyncio.get_running_loop().run_in_executor(
                executor, partial(fn, *args, **kwargs)
            )
        except BrokenProcessPool:
            with self._lock:
                if self._shared.get(self.processes) is executor:
                    del self._shared[self.processes]  # the next job starts new workers
            raise WorkerStoppedError("a worker process stopped unexpectedly") from None

    async def parse(self, result: FetchResult) -> ParsedFeed:
        """Parse a fetched feed; raise FeedParseError when it is not a usable feed."""
        try:
            return await self.run(
                parse_feed, result.body, url=result.url, headers=dict(result.headers)
            )
        except WorkerStoppedError:
            raise FeedParseError("the parsing process stopped unexpectedly") from None

    def close(self) -> None:
        """Stop this pool's threads (shared worker processes end with the interpreter)."""
        if self._threads is not None:
            self._threads.shutdown(wait=False, cancel_futures=True)


class FeedWatcher:
    """Polls feeds; `run_polls` (bot/scheduler.py) calls `launch_due`, tests `poll_round`."""

    def __init__(
        self,
        *,
        engine: Engine,
        settings: Settings,
        topics: TopicCache,
        on_queued: Callable[[], None] = lambda: None,
        client: httpx.AsyncClient | None = None,
        notify_admins: NotifyAdmins | None = None,
        parse_in_processes: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.topics = topics
        self.on_queued = on_queued
        self.notify_admins = notify_admins
        self.limits = fetch_limits(settings)
        self.client = client or build_client(
            allow_private_networks=settings.allow_private_networks,
            limits=self.limits,
            # Feed fetches and article pages each have FETCH_CONCURRENCY slots: a connection
            # for every one, so neither waits for the pool because of the other.
            connections=2 * settings.fetch_concurrency,
        )
        self.max_chars = settings.summary_max_chars
        self._fetch_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self._parse_slots = asyncio.Semaphore(settings.fetch_concurrency)
        self.host_slots = HostSlots(PER_HOST_FETCHES)
        processes = parse_processes(settings.parse_processes)
        self.cpu = CpuPool(processes if parse_in_processes else 0)
        self.pages = ArticlePages(
            client=self.client,
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
        self._in_flight: dict[int, asyncio.Task[FeedOutcome]] = {}
        self._launch_lock = asyncio.Lock()
        # Completion order of feed tasks, so a launch never restarts a feed that finished
        # while the due feeds were being read.
        self._finished_seq = 0
        self._finished_at: dict[int, int] = {}
        self._tally = RoundReport()
        self._tally_since = time.monotonic()
        self._not_modified: list[tuple[int, feeds_db.PollSuccess]] = []
        self._flush_lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        self.due_times = DueTimes()

    def note_due(self, at: datetime) -> None:
        """Tell the scheduler a feed is due at `at` (a feed added, enabled or just polled)."""
        self.due_times.note(at)

    @property
    def in_flight(self) -> frozenset[int]:
        """Return the ids of the feeds being polled now."""
        return frozenset(self._in_flight)

    async def aclose(self) -> None:
        """Stop polls in flight, write what is pending and close the HTTP clients."""
        tasks: list[asyncio.Task[Any]] = list(self._in_flight.values())
        if self._flush_task is not None:
            tasks.append(self._flush_task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.flush()
        await self.client.aclose()
        await self.summarizer.aclose()
        self.cpu.close()

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
                task = asyncio.create_task(self._poll_feed(feed), name=f"poll-feed-{feed.id}")
                self._in_flight[feed.id] = task
                task.add_done_callback(partial(self._task_done, feed.id))
                tasks.append(task)
        if tasks:
            log.debug("launched %d feed polls (%d in flight)", len(tasks), len(self._in_flight))
        self._log_tally()
        return tasks

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

    async def _poll_feed(self, feed: Feed) -> FeedOutcome:
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
                    status="not_modified",
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
                status="parsed",
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
        summaries: list[str] | None = None
        if fresh and not history:
            summaries = list(
                await asyncio.gather(
                    *(self.summarizer.summarize(e, feed_id=feed_id) for e in fresh)
                )
            )

        def store() -> StoreReport:
            if summaries is None:
                # The first time a feed is seen its entries are history: no page fetches,
                # no alerts, and the feed's blurb for a summary.
                texts = [history_summary(e.summary, max_chars=self.max_chars) for e in fresh]
            else:
                texts = summaries
            return store_entries(
                engine=self.engine,
                topics=self.topics,
                feed_id=feed_id,
                items=[self._item(e, t) for e, t in zip(fresh, texts, strict=True)],
                history=history,
                seen_at=seen_at,
                # New entries are stored as seen now; the known ones are marked seen now.
                present_keys=[e.key for e in parsed.entries if e.key not in fresh_keys],
            )

        return await asyncio.to_thread(store)

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
        delay = next_poll_delay(
            default_seconds=self.settings.poll_interval_seconds,
            ttl_seconds=parsed.ttl_seconds if parsed else None,
            headers=result.headers,
            cap_seconds=MAX_DELAY_SECONDS,
        )
        success = feeds_db.PollSuccess(
            polled_at=polled_at,
            next_poll_at=started + timedelta(seconds=delay),
            etag=result.etag,
            last_modified=result.last_modified,
            parsed=parsed is not None,
            title=parsed.title if parsed else None,
        )
        return success

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
            delay = backoff_delay(
                error_count=error_count, base_seconds=base, cap_seconds=MAX_DELAY_SECONDS
            )
            if retry_after:
                delay = max(delay, min(retry_after, MAX_DELAY_SECONDS))
            return delay

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
            return FeedOutcome(feed_id=feed.id, url=feed.url, status="failed", error=error)
        outcome = FeedOutcome(
            feed_id=feed.id,
            url=feed.url,
            status="failed",
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
        if self.notify_admins is not None:
            text = disabled_notice(
                url=state.url, title=state.title, errors=state.error_count, last_error=error
            )
            try:
                await self.notify_admins(text)
            except Exception:
                log.exception(
                    "could not tell the operators that feed %d was disabled", feed.id, extra=extra
                )
        return replace(outcome, disabled=True)
