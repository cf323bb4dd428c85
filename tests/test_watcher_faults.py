"""Feeds that misbehave: after each fault the watcher keeps running and a healthy feed delivers.

The watcher's client runs with the SSRF guard on and an address policy that treats 127.0.0.1
(the local test server) as public, so redirects and feeds to other private addresses are
refused exactly as they would be in production.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import logging
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import get_settings
from bot.db.engine import session_scope
from bot.db.models import Entry, Feed
from bot.feeds.fetcher import build_client
from bot.feeds.netguard import IPAddress, resolve_host
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.ingest.workers import fetch_limits
from tests.support.feed_server import FeedServer, rss
from tests.support.watcher import add_feed, deliveries, item, make_due, subscribe

LOCAL = ipaddress.ip_address("127.0.0.1")
INTRANET = ipaddress.ip_address("10.20.30.40")

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE rss [\n<!ENTITY lol "lol">\n'
    + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">\n'
        for n in range(1, 10)
    )
    + ']>\n<rss version="2.0"><channel><title>&lol9;</title>'
    "<item><title>&lol9;</title><guid>bomb-1</guid></item></channel></rss>\n"
)


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


async def _resolver(host: str, port: int) -> list[IPAddress]:
    if host == "intranet.example":
        return [INTRANET]
    return await resolve_host(host, port)


def guarded_watcher(engine: Engine, **overrides: Any) -> FeedWatcher:
    """A watcher with the SSRF guard on, where only 127.0.0.1 counts as public."""
    settings = get_settings(
        allow_private_networks=False,
        poll_interval_seconds=1,
        fetch_articles=False,
        **overrides,
    )
    client = build_client(
        allow_private_networks=False,
        limits=fetch_limits(settings),
        address_policy=lambda ip: ip == LOCAL,
        resolver=_resolver,
    )
    return FeedWatcher(engine=engine, settings=settings, topics=TopicCache(), client=client)


@dataclass(frozen=True)
class Fault:
    setup: Callable[[FeedServer], str]  # serves the fault; returns the feed URL
    error: str | None  # expected in the feed's error; None: the feed parses harmlessly
    settings: dict[str, Any]


def _hanging(fs: FeedServer) -> str:
    fs.set("/bad.xml", rss("Slow", [item(1, "Slow story")]))
    fs.delay("/bad.xml", 5)
    return fs.url("/bad.xml")


def _status_500(fs: FeedServer) -> str:
    fs.set("/bad.xml", "Internal Server Error", status=500, content_type="text/plain")
    return fs.url("/bad.xml")


def _html_page(fs: FeedServer) -> str:
    fs.set(
        "/bad.xml",
        "<!doctype html><html><body><h1>Welcome to our site</h1></body></html>",
        content_type="text/html",
    )
    return fs.url("/bad.xml")


def _random_bytes(fs: FeedServer) -> str:
    fs.set("/bad.xml", random.Random(7).randbytes(8192), content_type="application/rss+xml")
    return fs.url("/bad.xml")


def _oversized(fs: FeedServer) -> str:
    many = [item(n, f"Filler story number {n} " + "x" * 400) for n in range(400)]
    fs.set("/bad.xml", rss("Huge", many))
    return fs.url("/bad.xml")


def _gzip_bomb(fs: FeedServer) -> str:
    fs.set("/bad.xml", gzip.compress(b"\0" * (64 * 1024 * 1024)), content_encoding="gzip")
    return fs.url("/bad.xml")


def _billion_laughs(fs: FeedServer) -> str:
    fs.set("/bad.xml", BILLION_LAUGHS)
    return fs.url("/bad.xml")


def _redirect_loop(fs: FeedServer) -> str:
    fs.redirect("/bad.xml", "/loop")
    fs.redirect("/loop", "/bad.xml")
    return fs.url("/bad.xml")


def _redirect_private(fs: FeedServer) -> str:
    fs.set("/internal.xml", rss("Internal", [item(1, "Internal memo")]))
    fs.redirect("/bad.xml", f"http://127.0.0.2:{fs.port}/internal.xml")
    return fs.url("/bad.xml")


def _private_address(fs: FeedServer) -> str:
    return f"http://intranet.example:{fs.port}/bad.xml"


FAULTS = {
    "timeout": Fault(_hanging, "timed out", {"fetch_timeout_seconds": 0.5}),
    "http_500": Fault(_status_500, "HTTP 500", {}),
    "html_page": Fault(_html_page, "looks like an HTML page", {}),
    "random_bytes": Fault(_random_bytes, "not XML", {}),
    "oversized_body": Fault(_oversized, "larger than 64 KiB", {"fetch_max_bytes": 64 * 1024}),
    "gzip_bomb": Fault(_gzip_bomb, "larger than 1 MiB", {"fetch_max_bytes": 1024 * 1024}),
    "billion_laughs": Fault(_billion_laughs, "declares XML entities", {}),
    "redirect_loop": Fault(_redirect_loop, "redirect loop", {}),
    "redirect_to_private": Fault(_redirect_private, "refused: 127.0.0.2 is a loopback", {}),
    "private_address": Fault(_private_address, "private address 10.20.30.40", {}),
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_fault_leaves_watcher_running(
    name: str, sqlite_engine: Engine, server: FeedServer
) -> None:
    fault = FAULTS[name]
    engine = sqlite_engine
    server.set("/good.xml", rss("Good", [item(1, "Old harvest story")]))
    bad_url = fault.setup(server)
    add_feed(engine, server.url("/good.xml"))
    add_feed(engine, bad_url)
    subscribe(engine, 7, "harvest")
    watcher = guarded_watcher(engine, **fault.settings)
    try:
        started = time.monotonic()
        first = await watcher.poll_round()
        assert first.polled == 2
        if fault.error is None:
            assert first.failed == 0
        else:
            assert first.failed == 1
            assert fault.error in first.errors[bad_url]
        assert time.monotonic() - started < 5

        server.set(
            "/good.xml",
            rss("Good", [item(2, "Record harvest in the north"), item(1, "Old harvest story")]),
        )
        make_due(engine)
        second = await watcher.poll_round()
        assert deliveries(engine) == [(7, "Record harvest in the north")]
        assert second.failed == (0 if fault.error is None else 1)

        # Still running: a third round polls both feeds again, and nothing is left in flight.
        make_due(engine)
        third = await watcher.poll_round()
        assert third.polled == 2 and watcher.in_flight == frozenset()
        with session_scope(engine) as session:
            bad = session.exec(select(Feed).where(Feed.url == bad_url)).one()
            titles = list(session.exec(select(Entry.title).where(Entry.feed_id == bad.id)))
        if fault.error is None:
            assert bad.error_count == 0
            assert all(len(t) < 100 for t in titles)  # entities were never expanded
        else:
            assert bad.error_count == 3 and fault.error in (bad.last_error or "")
            assert titles == []
    finally:
        await watcher.aclose()


async def test_hanging_feed_does_not_delay_other_alerts(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    engine = sqlite_engine
    server.set("/good.xml", rss("Good", [item(1, "Old harvest story")]))
    server.set("/slow.xml", rss("Slow", []))
    add_feed(engine, server.url("/good.xml"))
    add_feed(engine, server.url("/slow.xml"))
    subscribe(engine, 7, "harvest")
    watcher = guarded_watcher(engine, fetch_timeout_seconds=20)
    try:
        await watcher.poll_round()
        server.delay("/slow.xml", 30)
        server.set("/good.xml", rss("Good", [item(2, "Record harvest"), item(1, "Old harvest")]))
        make_due(engine)
        started = time.monotonic()
        tasks = await watcher.launch_due()
        assert len(tasks) == 2
        while not deliveries(engine):
            assert time.monotonic() - started < 3, "the healthy feed waited for the slow one"
            await asyncio.sleep(0.02)
        assert deliveries(engine) == [(7, "Record harvest")]
        slow_id = _feed_id(engine, server.url("/slow.xml"))
        while watcher.in_flight != frozenset({slow_id}):  # the good feed's task is finishing
            assert time.monotonic() - started < 3
            await asyncio.sleep(0.01)
        # The next launch does not start the slow feed a second time.
        make_due(engine)
        again = await watcher.launch_due()
        assert [t.get_name() for t in again] == [
            f"poll-feed-{_feed_id(engine, server.url('/good.xml'))}"
        ]
        await asyncio.gather(*again)
    finally:
        started = time.monotonic()
        await watcher.aclose()
        assert time.monotonic() - started < 2  # shutting down cancels the hanging poll


async def test_refused_address_is_logged_once(
    sqlite_engine: Engine, server: FeedServer, caplog: pytest.LogCaptureFixture
) -> None:
    engine = sqlite_engine
    url = _private_address(server)
    add_feed(engine, url)
    watcher = guarded_watcher(engine)
    caplog.set_level(logging.DEBUG, logger="bot.ingest")
    try:
        for _ in range(3):
            make_due(engine)
            report = await watcher.poll_round()
            assert report.failed == 1
    finally:
        await watcher.aclose()
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith("bot.ingest.") and r.levelno >= logging.WARNING
    ]
    assert len(warnings) == 1
    assert "refused: intranet.example resolves to a private address 10.20.30.40" in warnings[0]


def _feed_id(engine: Engine, url: str) -> int:
    with session_scope(engine) as session:
        feed = session.exec(select(Feed).where(Feed.url == url)).one()
    assert feed.id is not None
    return feed.id
