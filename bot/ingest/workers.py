"""Where the pipeline's work runs: CPU pools for parsing and summaries, per-host fetch slots.

feedparser, trafilatura and the summarizer are pure Python: threads share one core, worker
processes use them all.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import asynccontextmanager
from functools import partial
from typing import Any, ClassVar, TypeVar

from bot.config import Settings
from bot.feeds.fetcher import FetchLimits, FetchResult
from bot.feeds.parser import FeedParseError, ParsedFeed, parse_feed

T = TypeVar("T")

# Politeness towards one server, whatever FETCH_CONCURRENCY allows in total.
PER_HOST_FETCHES = 4
# Without worker processes, two threads do the CPU work, so the event loop and the default
# executor (chat handlers' database work) stay responsive.
PARSE_THREADS = 2
MAX_AUTO_PARSE_PROCESSES = 4
# Workers are replaced now and then, so memory a long run fragments is given back.
PARSE_TASKS_PER_WORKER = 2000


def fetch_limits(settings: Settings) -> FetchLimits:
    """Build the fetch limits from settings."""
    return FetchLimits(
        timeout_seconds=settings.fetch_timeout_seconds,
        max_bytes=settings.fetch_max_bytes,
        max_redirects=settings.fetch_max_redirects,
    )


class HostSlots:
    """Allow at most `per_host` concurrent holders per host name."""

    def __init__(self, per_host: int = PER_HOST_FETCHES) -> None:
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
