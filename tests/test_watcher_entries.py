"""Which entries are new: identities, entries that come back, edits in place, pruning."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from bot.db import entries, outbox
from bot.db.engine import session_scope
from bot.db.models import Delivery, Entry, Feed, utcnow
from tests.support.feed_server import FeedServer, atom, rss
from tests.support.watcher import add_feed, deliveries, item, make_due, make_watcher, subscribe


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with FeedServer() as fs:
        yield fs


def stored(engine: Engine) -> dict[str, str]:
    with session_scope(engine) as session:
        return {e.key: e.title for e in session.exec(select(Entry))}


async def test_identity_guid_then_canonical_link_then_hash(
    engine: Engine, server: FeedServer
) -> None:
    when = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)
    with_guid = item(1, "Valley dam inspected")
    link_only = {
        "title": "Valley bridge reopens",
        "link": "https://News.Example.org/valley/bridge",
        "pub_date": when,
    }
    bare = {"title": "Valley weather warning", "description": "Gales expected.", "pub_date": when}
    server.set("/f.xml", rss("Valley", [with_guid, link_only, bare]))
    add_feed(engine, server.url("/f.xml"))
    subscribe(engine, 4, "valley")
    watcher = make_watcher(engine, fetch_articles=False)
    try:
        await watcher.poll_round()
        keys = sorted(stored(engine))
        assert keys[0] == "guid:s-1"
        assert keys[1].startswith("hash:")
        assert keys[2] == "link:https://news.example.org/valley/bridge"

        # The same stories again: the guid entry has a new link, the link-only entry carries
        # campaign trackers, the bare one is unchanged. Only the fourth story is new.
        moved = {**with_guid, "link": "https://news.example.org/s/1-updated"}
        tracked = {**link_only, "link": link_only["link"] + "?utm_source=rss&utm_medium=feed"}
        fresh = item(9, "Valley school opens")
        server.set("/f.xml", rss("Valley", [fresh, moved, tracked, bare]))
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 1
        assert deliveries(engine) == [(4, "Valley school opens")]
        assert len(stored(engine)) == 4
    finally:
        await watcher.aclose()


async def test_entries_that_leave_and_come_back_are_not_new(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    engine = sqlite_engine
    old = [item(n, f"Harbour story {n}") for n in (1, 2, 3)]
    server.set("/f.xml", rss("Harbour", old))
    add_feed(engine, server.url("/f.xml"))
    subscribe(engine, 5, "harbour")
    # "Harbour story 4" and "Harbour story 5" read as one story: each must alert here.
    watcher = make_watcher(engine, fetch_articles=False, story_window_hours=0)
    try:
        await watcher.poll_round()
        server.set("/f.xml", rss("Harbour", [item(4, "Harbour story 4")]))
        make_due(engine)
        await watcher.poll_round()
        server.set(
            "/f.xml", rss("Harbour", [item(5, "Harbour story 5"), item(4, "Harbour story 4"), *old])
        )
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 1
        assert deliveries(engine) == [(5, "Harbour story 4"), (5, "Harbour story 5")]
    finally:
        await watcher.aclose()


async def test_entry_edited_in_place_does_not_alert_again(
    sqlite_engine: Engine, server: FeedServer
) -> None:
    engine = sqlite_engine
    entry: dict[str, Any] = {
        "title": "Ferry strike called off",
        "link": "https://news.example.org/ferry",
        "id": "urn:example:ferry-2026-11",
        "summary": "Crews accepted the offer.",
        "updated": datetime(2026, 11, 26, 10, 0, tzinfo=UTC),
    }
    server.set("/a.xml", atom("Coast", []), content_type="application/atom+xml")
    add_feed(engine, server.url("/a.xml"))
    subscribe(engine, 6, "ferry")
    watcher = make_watcher(engine, fetch_articles=False)
    try:
        await watcher.poll_round()
        server.set("/a.xml", atom("Coast", [entry]), content_type="application/atom+xml")
        make_due(engine)
        await watcher.poll_round()
        assert deliveries(engine) == [(6, "Ferry strike called off")]

        edited = {
            **entry,
            "title": "Ferry strike called off after late-night talks",
            "summary": "Crews accepted the improved offer shortly before midnight.",
            "updated": datetime(2026, 11, 26, 11, 30, tzinfo=UTC),
        }
        server.set("/a.xml", atom("Coast", [edited]), content_type="application/atom+xml")
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 0 and report.alerts_queued == 0
        assert deliveries(engine) == [(6, "Ferry strike called off")]
        assert list(stored(engine)) == ["guid:urn:example:ferry-2026-11"]
    finally:
        await watcher.aclose()


def _set(engine: Engine, title: str, *, seen: datetime, last_seen: datetime) -> None:
    with session_scope(engine) as session:
        session.execute(
            sa.update(Entry)
            .where(col(Entry.title) == title)
            .values(seen_at=seen, last_seen_at=last_seen)
        )


async def test_pruning_keeps_what_the_feed_still_carries(
    engine: Engine, server: FeedServer
) -> None:
    stories = {
        "still": item(1, "Glacier study still listed"),
        "gone_long": item(2, "Glacier report gone long ago"),
        "gone_recently": item(3, "Glacier survey gone last week"),
        "waiting": item(4, "Glacier alert still queued"),
    }
    server.set("/f.xml", rss("Ice", list(stories.values())))
    url = server.url("/f.xml")
    add_feed(engine, url)
    subscribe(engine, 8, "glacier")
    watcher = make_watcher(engine, fetch_articles=False)
    try:
        await watcher.poll_round()
        # Only "still" is in the feed's latest content, read yesterday.
        server.set("/f.xml", rss("Ice", [stories["still"]]))
        make_due(engine)
        await watcher.poll_round()
        now = utcnow()
        yesterday, long_ago = now - timedelta(days=1), now - timedelta(days=60)
        with session_scope(engine) as session:
            session.execute(sa.update(Feed).values(last_parsed_at=yesterday))
        _set(engine, "Glacier study still listed", seen=long_ago, last_seen=yesterday)
        _set(
            engine,
            "Glacier report gone long ago",
            seen=long_ago,
            last_seen=now - timedelta(days=50),
        )
        _set(
            engine,
            "Glacier survey gone last week",
            seen=long_ago,
            last_seen=now - timedelta(days=7),
        )
        _set(
            engine, "Glacier alert still queued", seen=long_ago, last_seen=now - timedelta(days=50)
        )
        with session_scope(engine) as session:
            waiting = session.exec(
                select(Entry.id).where(Entry.title == "Glacier alert still queued")
            ).one()
            assert waiting is not None
            outbox.enqueue_entry(session=session, entry_id=waiting, chats={8: None})

        cutoff = entries.retention_cutoff(now=now, days=30)
        with session_scope(engine) as session:
            removed = entries.prune_entries(session=session, older_than=cutoff)
        assert removed == 1
        assert sorted(stored(engine).values()) == [
            "Glacier alert still queued",
            "Glacier study still listed",
            "Glacier survey gone last week",
        ]

        # The old story still in the feed is known, so polling does not alert it again.
        server.set("/f.xml", rss("Ice", [stories["still"]], description="Updated channel"))
        make_due(engine)
        report = await watcher.poll_round()
        assert report.new_entries == 0 and report.alerts_queued == 0
        with session_scope(engine) as session:
            alerts = session.exec(select(sa.func.count()).select_from(Delivery)).one()
        assert alerts == 1  # only the one queued by hand above
    finally:
        await watcher.aclose()
