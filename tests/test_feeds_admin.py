"""The feed management service: add (checked, history), remove, list, OPML import and export."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import get_settings
from bot.db.engine import session_scope
from bot.db.models import Entry, Feed, utcnow
from bot.feeds.opml import OpmlError, parse_opml
from bot.handlers.feeds import feed_block, feed_pages
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.services.feed_admin import status_lines
from bot.services.feeds import (
    FeedInputError,
    FeedManager,
    FeedStatus,
    FeedUnusableError,
    normalize_feed_url,
)
from tests.support.feed_server import FeedServer, rss
from tests.support.watcher import deliveries, item, make_due, subscribe


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        fs.set("/world.xml", rss("World Wire", [item(n, f"Harvest story {n}") for n in range(3)]))
        fs.set("/sport.xml", rss("Sport Desk", [item(10, "Cup final tonight")], ttl=15))
        fs.set(
            "/page.html", "<html><body><p>Not a feed</p></body></html>", content_type="text/html"
        )
        yield fs


def _watcher(engine: Engine) -> FeedWatcher:
    settings = get_settings(
        allow_private_networks=True, fetch_articles=False, poll_interval_seconds=60
    )
    return FeedWatcher(engine=engine, settings=settings, topics=TopicCache())


@pytest.fixture
async def lite_watcher(sqlite_engine: Engine) -> AsyncIterator[FeedWatcher]:
    """A watcher on SQLite only, for tests that exercise no database differences."""
    w = _watcher(sqlite_engine)
    yield w
    await w.aclose()


@pytest.fixture
async def watcher(engine: Engine) -> AsyncIterator[FeedWatcher]:
    w = _watcher(engine)
    yield w
    await w.aclose()


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "no feed address given"),
        ("example.org/rss", "give a full URL starting with http:// or https://"),
        ("ftp://example.org/rss", "is not an http:// or https:// address"),
        ("https://exa mple.org/rss", "contains spaces"),
        ("http:///rss", "has no host name"),
        ("https://example.org:99999/rss", "is not a valid URL"),
    ],
)
def test_bad_addresses_are_refused(text: str, reason: str) -> None:
    with pytest.raises(FeedInputError) as caught:
        normalize_feed_url(text)
    assert reason in str(caught.value)


def test_good_addresses_are_kept() -> None:
    assert normalize_feed_url(" <https://example.org/rss?x=1> ") == "https://example.org/rss?x=1"


async def test_add_checks_the_feed_and_stores_its_entries_as_history(
    engine: Engine, server: FeedServer, watcher: FeedWatcher
) -> None:
    subscribe(engine, 2, "harvest")
    manager = FeedManager(watcher=watcher)
    added = await manager.add(server.url("/world.xml"))
    assert (added.status, added.number, added.title, added.entries) == ("added", 1, "World Wire", 3)
    with session_scope(engine) as session:
        feed = session.exec(select(Feed)).one()
        assert feed.seeded and feed.title == "World Wire" and feed.last_success_at is not None
        entries = list(session.exec(select(Entry)))
    assert len(entries) == 3 and all(e.is_history for e in entries)
    assert deliveries(engine) == []  # no flood

    # Polling afterwards finds nothing new; a new story alerts.
    make_due(engine)
    assert (await watcher.poll_round()).new_entries == 0
    server.set(
        "/world.xml", rss("World Wire", [item(7, "Harvest record"), item(0, "Harvest story 0")])
    )
    make_due(engine)
    await watcher.poll_round()
    assert deliveries(engine) == [(2, "Harvest record")]

    again = await manager.add(server.url("/world.xml"))
    assert (again.status, again.number) == ("present", 1)


async def test_add_refuses_unusable_feeds_and_changes_nothing(
    server: FeedServer, lite_watcher: FeedWatcher
) -> None:
    watcher = lite_watcher
    manager = FeedManager(watcher=watcher)
    for path, reason in [
        ("/page.html", "looks like an HTML page"),
        ("/missing.xml", "HTTP 404"),
    ]:
        with pytest.raises(FeedUnusableError) as caught:
            await manager.add(server.url(path))
        assert reason in str(caught.value)
    with pytest.raises(FeedInputError):
        await manager.add("not a url")
    assert await manager.statuses() == []


async def test_disabled_feed_is_enabled_again_by_adding_it(
    sqlite_engine: Engine, server: FeedServer, lite_watcher: FeedWatcher
) -> None:
    engine, watcher = sqlite_engine, lite_watcher
    manager = FeedManager(watcher=watcher)
    await manager.add(server.url("/world.xml"))
    with session_scope(engine) as session:
        feed = session.exec(select(Feed)).one()
        feed.enabled, feed.error_count, feed.last_error = False, 100, "HTTP 500 from 127.0.0.1"
        session.add(feed)
    [status] = await manager.statuses()
    assert status.health == "disabled"
    again = await manager.add(server.url("/world.xml"))
    assert again.status == "enabled"
    [status] = await manager.statuses()
    assert status.health == "ok" and status.error_count == 0 and status.last_error is None


async def test_list_and_remove_by_number_or_url(
    engine: Engine, server: FeedServer, watcher: FeedWatcher
) -> None:
    manager = FeedManager(watcher=watcher)
    await manager.add(server.url("/world.xml"))
    await manager.add(server.url("/sport.xml"))
    statuses = await manager.statuses()
    assert [(s.number, s.name, s.entries, s.health) for s in statuses] == [
        (1, "World Wire", 3, "ok"),
        (2, "Sport Desk", 1, "ok"),
    ]
    sport = statuses[1]
    assert sport.next_poll_at is not None and sport.last_success_at is not None
    # The feed asked for 15 minutes between polls (RSS ttl).
    assert (sport.next_poll_at - sport.last_success_at).total_seconds() == pytest.approx(900, abs=1)

    for ref, reason in [
        ("3", "there is no feed number 3 (the list has 2 feeds)"),
        ("0", "there is no feed number 0"),
        ("https://elsewhere.example.org/rss", "that feed is not on the list"),
        ("elsewhere", "is not a feed address"),
    ]:
        with pytest.raises(FeedInputError) as caught:
            await manager.remove(ref)
        assert reason in str(caught.value)
    assert len(await manager.statuses()) == 2

    removed = await manager.remove("#1")
    assert (removed.title, removed.entries) == ("World Wire", 3)
    removed = await manager.remove(server.url("/sport.xml"))
    assert removed.title == "Sport Desk"
    assert await manager.statuses() == []
    with session_scope(engine) as session:
        assert list(session.exec(select(Entry))) == []


async def test_opml_import_and_export(server: FeedServer, lite_watcher: FeedWatcher) -> None:
    watcher = lite_watcher
    manager = FeedManager(watcher=watcher)
    await manager.add(server.url("/sport.xml"))
    opml = f"""<?xml version="1.0"?>
<opml version="2.0"><body>
  <outline text="News">
    <outline text="World" xmlUrl="{server.url("/world.xml")}"/>
    <outline text="Sport" xmlUrl="{server.url("/sport.xml")}"/>
  </outline>
  <outline text="Broken" xmlUrl="{server.url("/page.html")}"/>
  <outline text="Not http" xmlUrl="gopher://old.example.org/feed"/>
</body></opml>""".encode()
    report = await manager.import_opml(opml)
    assert [a.title for a in report.added] == ["World Wire"]
    assert report.present == [server.url("/sport.xml")]
    assert [url for url, _ in report.refused] == [
        server.url("/page.html"),
        "gopher://old.example.org/feed",
    ]
    assert "looks like an HTML page" in report.refused[0][1]
    assert "is not an http:// or https:// address" in report.refused[1][1]

    document, count = await manager.export_opml()
    assert count == 2
    assert {(f.url, f.title) for f in parse_opml(document.encode())} == {
        (server.url("/sport.xml"), "Sport Desk"),
        (server.url("/world.xml"), "World Wire"),
    }
    with pytest.raises(OpmlError):
        await manager.import_opml(b"<html><body>hello</body></html>")
    assert len(await manager.statuses()) == 2


def test_feed_listing_pages_fit_in_a_message() -> None:
    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    statuses = [
        FeedStatus(
            number=n,
            feed_id=n,
            url=f"https://news{n}.example.org/" + "section/" * 40 + "feed.xml",
            title=f"Regional <News> & Views {n} " + "long title " * 12,
            enabled=n % 7 != 0,
            error_count=n % 3,
            last_error=("HTTP 503 from news.example.org " * 20) if n % 3 else None,
            last_success_at=now - timedelta(minutes=n),
            next_poll_at=now + timedelta(minutes=2),
            entries=n * 3,
        )
        for n in range(1, 121)
    ]
    pages = feed_pages(statuses, now=now)
    assert len(pages) > 1
    for n, page in enumerate(pages, start=1):
        assert len(page) <= 4096
        assert f"page {n} of {len(pages)}" in page
        assert (f"/feeds {n + 1}" in page) == (n < len(pages))
        assert "<News>" not in page and "&lt;News&gt; &amp; Views" in page
    listed = [line.split(".")[0] for page in pages for line in page.split("\n\n")[1:]]
    assert [int(x.removeprefix("<b>")) for x in listed if x.startswith("<b>")] == list(
        range(1, 121)
    )


def test_listings_and_refusals_hide_credentials() -> None:
    url = "https://bob:hunter2@wire.example/f.xml"
    status = FeedStatus(
        number=1,
        feed_id=1,
        url=url,
        title="Wire",
        enabled=True,
        error_count=0,
        last_error=None,
        last_success_at=None,
        next_poll_at=None,
        entries=0,
    )
    now = utcnow()
    for shown in (feed_block(status, now=now), "\n".join(status_lines([status], now=now))):
        assert "https://***@wire.example/f.xml" in shown
        assert "hunter2" not in shown and "bob" not in shown
    with pytest.raises(FeedInputError) as refused:
        normalize_feed_url("ftp://bob:hunter2@wire.example/f.xml")
    assert "hunter2" not in str(refused.value)
