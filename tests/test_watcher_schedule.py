"""When feeds are polled: conditional GET, the feed's own pace, backoff, disabling, limits."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import get_settings
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.db.models import Feed, utcnow
from bot.handlers.feeds import disabled_notice
from bot.ingest.poll import FeedDisabled
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from tests.support.feed_server import FeedRequest, FeedResponse, FeedServer, rss
from tests.support.watcher import add_feed, deliveries, item, make_due, subscribe

SIX_HOURS = 6 * 3600


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


def watcher_for(engine: Engine, **overrides: Any) -> FeedWatcher:
    values: dict[str, Any] = {
        "allow_private_networks": True,
        "poll_interval_seconds": 10,
        "fetch_articles": False,
    }
    values.update(overrides)
    return FeedWatcher(engine=engine, settings=get_settings(**values), topics=TopicCache())


def feed_row(engine: Engine, url: str) -> Feed:
    with session_scope(engine) as session:
        return session.exec(select(Feed).where(Feed.url == url)).one()


def seconds_until_next_poll(feed: Feed) -> float:
    assert feed.next_poll_at is not None and feed.last_polled_at is not None
    return (feed.next_poll_at - feed.last_polled_at).total_seconds()


async def test_conditional_get_answers_304_without_parsing(
    engine: Engine, server: FeedServer
) -> None:
    changed = datetime(2026, 11, 26, 9, 30, tzinfo=UTC)
    server.set("/f.xml", rss("Wire", [item(1, "Harvest begins")]), etag="v1", last_modified=changed)
    url = server.url("/f.xml")
    add_feed(engine, url)
    subscribe(engine, 3, "harvest")
    watcher = watcher_for(engine)
    try:
        first = await watcher.poll_round()
        assert (first.parsed, first.not_modified) == (1, 0)
        seeded = feed_row(engine, url)
        assert seeded.etag == '"v1"' and seeded.last_modified == format_datetime(changed, True)

        make_due(engine)
        second = await watcher.poll_round()
        assert (second.parsed, second.not_modified, second.failed) == (0, 1, 0)
        sent = server.requests("/f.xml")[-1].headers
        assert sent["if-none-match"] == '"v1"'
        assert sent["if-modified-since"] == format_datetime(changed, True)
        after = feed_row(engine, url)
        # A 304 counts as a success but is not a read of the content.
        assert after.last_parsed_at == seeded.last_parsed_at
        assert after.last_success_at is not None and seeded.last_success_at is not None
        assert after.last_success_at > seeded.last_success_at
        assert after.etag == '"v1"'

        server.set(
            "/f.xml",
            rss("Wire", [item(2, "Harvest record"), item(1, "Harvest begins")]),
            etag="v2",
            last_modified=changed + timedelta(hours=1),
        )
        make_due(engine)
        third = await watcher.poll_round()
        assert (third.parsed, third.new_entries) == (1, 1)
        assert deliveries(engine) == [(3, "Harvest record")]
        assert feed_row(engine, url).etag == '"v2"'
    finally:
        await watcher.aclose()


@pytest.mark.parametrize(
    ("serve", "expected"),
    [
        ({"ttl": 30}, 30 * 60),  # RSS <ttl> is in minutes
        ({"headers": {"Cache-Control": "public, max-age=900"}}, 900),
        ({"ttl": 100_000}, SIX_HOURS),  # capped
        ({}, 10),  # POLL_INTERVAL_SECONDS
    ],
)
async def test_success_waits_as_long_as_the_feed_asks(
    sqlite_engine: Engine, server: FeedServer, serve: dict[str, Any], expected: float
) -> None:
    ttl = serve.get("ttl")
    server.set("/f.xml", rss("Wire", [item(1, "Story")], ttl=ttl), headers=serve.get("headers"))
    add_feed(sqlite_engine, server.url("/f.xml"))
    watcher = watcher_for(sqlite_engine)
    try:
        await watcher.poll_round()
    finally:
        await watcher.aclose()
    # Counted from the poll's start: a fetch's duration less than from its end.
    assert seconds_until_next_poll(feed_row(sqlite_engine, server.url("/f.xml"))) == pytest.approx(
        expected, abs=0.5
    )


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured(
    sqlite_engine: Engine, server: FeedServer, status: int
) -> None:
    later = datetime.now(UTC) + timedelta(seconds=600)
    value = "300" if status == 429 else format_datetime(later, usegmt=True)
    server.set("/f.xml", "busy", status=status, headers={"Retry-After": value})
    add_feed(sqlite_engine, server.url("/f.xml"))
    watcher = watcher_for(sqlite_engine)
    try:
        report = await watcher.poll_round()
    finally:
        await watcher.aclose()
    assert report.failed == 1
    feed = feed_row(sqlite_engine, server.url("/f.xml"))
    assert feed.error_count == 1 and f"HTTP {status}" in (feed.last_error or "")
    wait = seconds_until_next_poll(feed)
    if status == 429:
        assert wait == pytest.approx(300, abs=1)
    else:
        assert 590 <= wait <= 601


async def test_errors_back_off_exponentially_and_success_resets(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    engine = sqlite_engine
    server.set("/f.xml", "down for maintenance", status=500, content_type="text/plain")
    url = server.url("/f.xml")
    add_feed(engine, url)
    watcher = watcher_for(engine)
    try:
        waits = []
        for _ in range(4):
            make_due(engine)
            await watcher.poll_round()
            waits.append(seconds_until_next_poll(feed_row(engine, url)))
        # 10 s, 20 s, 40 s, 80 s, each less up to 10% jitter.
        for n, wait in enumerate(waits):
            assert 10 * 2**n * 0.9 <= wait <= 10 * 2**n
        failing = feed_row(engine, url)
        assert failing.error_count == 4 and "HTTP 500" in (failing.last_error or "")

        # Far along, the wait is capped at six hours.
        with session_scope(engine) as session:
            session.execute(sa.update(Feed).values(error_count=40, next_poll_at=None))
        await watcher.poll_round()
        assert SIX_HOURS * 0.9 <= seconds_until_next_poll(feed_row(engine, url)) <= SIX_HOURS

        server.set("/f.xml", rss("Back", [item(1, "We are back")]))
        make_due(engine)
        report = await watcher.poll_round()
        assert report.failed == 0
        healthy = feed_row(engine, url)
        assert (healthy.error_count, healthy.last_error) == (0, None)
        assert healthy.last_success_at is not None
        assert seconds_until_next_poll(healthy) == pytest.approx(10, abs=0.5)
    finally:
        await watcher.aclose()


async def test_feed_is_disabled_after_n_errors_and_operators_are_told(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    engine = sqlite_engine
    server.set("/gone.xml", "gone", status=404, content_type="text/plain")
    server.set("/ok.xml", rss("Fine", [item(1, "Fine story")]))
    gone, ok = server.url("/gone.xml"), server.url("/ok.xml")
    add_feed(engine, gone)
    add_feed(engine, ok)
    notices: list[str] = []

    async def notify(event: FeedDisabled) -> None:
        notices.append(disabled_notice(event))

    watcher = watcher_for(engine, feed_disable_after_errors=3)
    watcher.on_disabled = notify
    try:
        for round_number in range(1, 4):
            make_due(engine)
            report = await watcher.poll_round()
            assert report.polled == 2
            assert report.disabled == (1 if round_number == 3 else 0)
        assert len(notices) == 1
        assert gone in notices[0] and "3 failures in a row" in notices[0]
        assert "HTTP 404" in notices[0] and f"/addfeed {gone}" in notices[0]
        feed = feed_row(engine, gone)
        assert not feed.enabled and feed.error_count == 3

        make_due(engine)
        report = await watcher.poll_round()
        assert report.polled == 1 and report.failed == 0  # only the healthy feed
        assert len(notices) == 1
    finally:
        await watcher.aclose()


class ConcurrencyProbe:
    """A feed handler that records how many requests it is serving at once."""

    def __init__(self, body: str, hold: float) -> None:
        self.body = body
        self.hold = hold
        self.lock = threading.Lock()
        self.now = 0
        self.peak = 0

    def __call__(self, request: FeedRequest) -> FeedResponse:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(self.hold)
        with self.lock:
            self.now -= 1
        return FeedResponse(200, self.body, {"Content-Type": "application/rss+xml"})


@pytest.mark.parametrize(("concurrency", "peak"), [(16, 4), (2, 2)])
async def test_fetches_per_host_and_in_total_are_limited(
    sqlite_engine: Engine, server: FeedServer, concurrency: int, peak: int
) -> None:
    probe = ConcurrencyProbe(rss("Probe", [item(1, "Probe story")]), hold=0.15)
    for n in range(10):
        server.set_handler(f"/f{n}.xml", probe)
        add_feed(sqlite_engine, server.url(f"/f{n}.xml"))
    watcher = watcher_for(sqlite_engine, fetch_concurrency=concurrency)
    try:
        report = await watcher.poll_round()
    finally:
        await watcher.aclose()
    assert report.polled == 10 and report.failed == 0
    assert probe.peak == peak


def test_new_feeds_are_due_at_once(sqlite_engine: Engine) -> None:
    urls = [f"https://news{n}.example.org/feed.xml" for n in range(600)]
    now = utcnow()
    with session_scope(sqlite_engine) as session:
        added = feeds_db.add_feeds(session=session, urls=urls, now=now)
        assert len(added) == 600
        again = feeds_db.add_feeds(session=session, urls=urls[:5], now=now)
        assert again == []
    with session_scope(sqlite_engine) as session:
        assert len(feeds_db.due_feed_ids(session=session, now=now)) == 600
