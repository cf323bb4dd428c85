"""Polls on time: every POLL_INTERVAL_SECONDS, and a new feed's first poll within seconds."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from bot.config import get_settings
from bot.db import feeds as feeds_db
from bot.db.engine import make_engine, session_scope
from bot.db.models import utcnow
from bot.ingest.scheduler import IDLE_SECONDS, run_polls
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.services.feeds import FeedManager
from tests.support.bot_process import bot_env, commands_registered, running_bot
from tests.support.feed_server import FeedServer, rss
from tests.support.shell_process import ShellProcess
from tests.support.telegram_api import FakeTelegram

INTERVAL = 2
# Scheduling jitter allowed on a shared, busy machine; a poll one launch tick late (the old
# schedule: every other tick, 4 s apart for a 2 s interval) is far outside it.
SLACK = 0.5


def on_time(gaps: list[float]) -> bool:
    """Tell whether polls came one interval apart: never early, never a tick late."""
    return all(INTERVAL - 0.3 <= gap <= INTERVAL + SLACK for gap in gaps)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        fs.set("/a.xml", rss("Wire A", [{"title": "First story", "guid": "a-1"}]))
        fs.set("/b.xml", rss("Wire B", [{"title": "Other story", "guid": "b-1"}]))
        yield fs


@asynccontextmanager
async def polling(engine: Engine, interval: int) -> AsyncIterator[FeedWatcher]:
    """Run the scheduler loop over a watcher until the block ends."""
    settings = get_settings(
        allow_private_networks=True, poll_interval_seconds=interval, fetch_articles=False
    )
    watcher = FeedWatcher(
        engine=engine, settings=settings, topics=TopicCache(), parse_in_processes=False
    )
    task = asyncio.create_task(run_polls(watcher))
    try:
        yield watcher
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await watcher.aclose()


def add_now(engine: Engine, *urls: str) -> None:
    with session_scope(engine) as session:
        feeds_db.add_feeds(session=session, urls=urls, now=utcnow())


async def hits(server: FeedServer, path: str, count: int, *, within: float) -> list[float]:
    """Wait for `count` requests to path; return their times (epoch seconds)."""
    deadline = time.monotonic() + within
    while server.hits(path) < count:
        assert time.monotonic() < deadline, f"{path}: {server.hits(path)} of {count} polls"
        await asyncio.sleep(0.02)
    return [r.at.timestamp() for r in server.requests(path)]


def gaps(times: list[float]) -> list[float]:
    return [round(b - a, 2) for a, b in itertools.pairwise(times)]


async def test_each_feed_is_polled_every_interval(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    started = time.time()
    add_now(sqlite_engine, server.url("/a.xml"), server.url("/b.xml"))
    async with polling(sqlite_engine, interval=INTERVAL):
        a = await hits(server, "/a.xml", 4, within=10)
        b = await hits(server, "/b.xml", 4, within=10)
    # The first poll comes at once, the next ones an interval apart, not a tick later.
    assert a[0] - started < 1 and b[0] - started < 1
    for times in (a, b):
        assert on_time(gaps(times[:4])), gaps(times)


async def test_feed_added_by_another_process_is_polled_within_seconds(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    add_now(sqlite_engine, server.url("/a.xml"))
    async with polling(sqlite_engine, interval=120):
        await hits(server, "/a.xml", 1, within=5)
        # Stored by someone else (say `newsbot feeds add` in another shell): due now.
        added = time.time()
        other = make_engine(str(sqlite_engine.url))
        add_now(other, server.url("/b.xml"))
        other.dispose()
        (first,) = await hits(server, "/b.xml", 1, within=IDLE_SECONDS + 2)
        assert first - added <= IDLE_SECONDS + SLACK
        assert server.hits("/a.xml") == 1  # and the first feed waits its interval


async def test_addfeed_polls_again_one_interval_later(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    async with polling(sqlite_engine, interval=INTERVAL) as watcher:
        added = await FeedManager(watcher=watcher).add(server.url("/a.xml"))
        assert added.status == "added"
        times = await hits(server, "/a.xml", 3, within=8)
    # The check is the first poll; the scheduler learnt of the next one at once.
    assert on_time(gaps(times)), gaps(times)


def test_the_running_bot_polls_every_interval(tmp_path: Path, server: FeedServer) -> None:
    with FakeTelegram() as telegram:
        env = bot_env(
            telegram,
            tmp_path / "newsbot.db",
            FEEDS=server.url("/a.xml"),
            POLL_INTERVAL_SECONDS=str(INTERVAL),
        )
        started = time.time()
        with running_bot(
            env, cwd=tmp_path, log_path=tmp_path / "bot.log", ready=commands_registered(telegram)
        ):
            deadline = time.monotonic() + 20
            while server.hits("/a.xml") < 4:
                assert time.monotonic() < deadline, (tmp_path / "bot.log").read_text()[-2000:]
                time.sleep(0.05)
    times = [r.at.timestamp() for r in server.requests("/a.xml")]
    assert times[0] - started < 6  # start-up included: imports, migrations, getMe
    assert on_time(gaps(times[:4])), gaps(times)


def test_shell_with_feeds_has_stories_within_seconds(tmp_path: Path, server: FeedServer) -> None:
    extra: dict[str, Any] = {
        "FEEDS": server.url("/a.xml"),
        "ALLOW_PRIVATE_NETWORKS": "true",
        "POLL_INTERVAL_SECONDS": "120",
    }
    shell = ShellProcess(tmp_path, **extra)
    try:
        shell.wait_for("newsbot shell", timeout=30)
        started = time.monotonic()
        while True:
            mark = shell.send("/latest")
            line = shell.wait_for(r"^newsbot: ", since=mark)
            if "First story" in line:
                break
            assert "No stories yet" in line
            assert time.monotonic() - started < 5, "the feed's first poll did not come"
            time.sleep(0.3)
    finally:
        shell.close()
