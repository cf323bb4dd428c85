"""A site whose article pages hang delays only its own stories.

Two sites on different hosts (127.0.0.2 and 127.0.0.1): one feed whose new stories link to
pages that never answer, one healthy feed. The healthy feed's alerts, /addfeed and chat
commands keep their usual pace; the hanging site's stories go out after the deadline,
summarized from the feed's own description.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import select

from bot.config import get_settings
from bot.db.engine import make_engine, session_scope
from bot.db.models import Entry, Feed
from bot.ingest.topic_cache import TopicCache
from bot.ingest.watcher import FeedWatcher
from bot.ingest.workers import PER_HOST_FETCHES
from tests.support.bot_process import bot_env, commands_registered, running_bot
from tests.support.feed_server import FeedRequest, FeedResponse, FeedServer, rss
from tests.support.telegram_api import FakeTelegram
from tests.support.watcher import add_feed, deliveries, make_due, subscribe

ADMIN = 777
READER = 1
ASKER = 3
POLL_SECONDS = 2
DEADLINE_SECONDS = 5
PAGE = """<html><body><article><h1>Ferry back on the harbour route</h1>
<p>The harbour ferry resumed its morning crossings on Tuesday after a week of repairs to the
landing stage, the port office said.</p>
<p>Timetables are unchanged and tickets bought for cancelled crossings stay valid.</p>
</article></body></html>"""


class HangingPages:
    """Answer page requests only when released; count how many the client holds open at once.

    A request counts as open from its arrival until the last moment the server saw its
    connection still open: a client that gave up (its deadline) stops counting when it closed
    the connection, not when this server's thread next looks, so the count never runs ahead
    of what the client really holds on a loaded machine.
    """

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.spans: list[list[float]] = []  # [arrival, last seen open]
        self.waiting = 0  # requests hanging right now

    @property
    def seen(self) -> int:
        with self.lock:
            return len(self.spans)

    @property
    def peak(self) -> int:
        with self.lock:
            spans = [tuple(span) for span in self.spans]
        return max(
            (sum(1 for a, o in spans if a <= arrival <= o) for arrival, _ in spans), default=0
        )

    def __call__(self, request: FeedRequest) -> FeedResponse:
        span = [time.monotonic()] * 2
        with self.lock:
            self.spans.append(span)
            self.waiting += 1
        deadline = span[0] + 300
        while not self.release.wait(0.05) and time.monotonic() < deadline:
            seen_at = time.monotonic()
            if request.client_gone():
                break
            with self.lock:
                span[1] = seen_at
        with self.lock:
            span[1] = time.monotonic() if self.release.is_set() else span[1]
            self.waiting -= 1
        return FeedResponse(200, PAGE, {"Content-Type": "text/html; charset=utf-8"})


def slow_story(n: int, slow: FeedServer) -> dict[str, Any]:
    return {
        "title": f"Harbour crane {n} inspected",
        "link": slow.url(f"/page/{n}"),
        "guid": f"slow-{n}",
        "description": f"Inspectors checked crane number {n} at the old harbour on Monday.",
        "pub_date": datetime(2026, 11, 30, 9, n % 60, tzinfo=UTC),
    }


@pytest.fixture
def sites() -> Iterator[tuple[FeedServer, FeedServer, HangingPages]]:
    pages = HangingPages()
    with FeedServer() as fast, FeedServer(host="127.0.0.2") as slow:
        for n in range(500):
            slow.set_handler(f"/page/{n}", pages)
        try:
            yield fast, slow, pages
        finally:
            pages.release.set()


def entries_of(engine: Engine, url: str) -> list[Entry]:
    with session_scope(engine) as session:
        feed = session.exec(select(Feed).where(Feed.url == url)).one()
        return list(session.exec(select(Entry).where(Entry.feed_id == feed.id)))


async def wait_until(check: Any, *, within: float, what: str) -> float:
    """Wait for check() to be true; return how long it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < within, f"{what} did not happen within {within} s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def test_hanging_pages_delay_only_their_own_site(
    tmp_path: Path, sites: tuple[FeedServer, FeedServer, HangingPages]
) -> None:
    fast, slow, pages = sites
    fast.set("/fast.xml", rss("Port Daily", [{"title": "Old news", "guid": "fast-0"}]))
    fast.set("/ferry", PAGE, content_type="text/html; charset=utf-8")
    fast.set("/other.xml", rss("Other Wire", [{"title": "Other", "guid": "other-0"}]))
    slow.set("/slow.xml", rss("Crane Weekly", [{"title": "Old crane", "guid": "crane-old"}]))
    db_path = tmp_path / "newsbot.db"
    with FakeTelegram() as telegram:
        telegram.enforce_limits()  # Telegram's limits, bursts included
        env = bot_env(
            telegram,
            db_path,
            FEEDS=f"{slow.url('/slow.xml')},{fast.url('/fast.xml')}",
            POLL_INTERVAL_SECONDS=str(POLL_SECONDS),
            ARTICLE_DEADLINE_SECONDS=str(DEADLINE_SECONDS),
            ADMIN_IDS=str(ADMIN),
            LOG_FORMAT="json",
            # The 64 crane reports read as one story; here each must alert on its own.
            STORY_WINDOW_HOURS="0",
        )
        log_path = tmp_path / "bot.log"
        engine = make_engine(f"sqlite:///{db_path}")
        with running_bot(env, cwd=tmp_path, log_path=log_path, ready=commands_registered(telegram)):
            # Both feeds' first polls come at once and store their stories as history.
            await wait_until(
                lambda: (
                    entries_of(engine, slow.url("/slow.xml"))
                    and entries_of(engine, fast.url("/fast.xml"))
                ),
                within=10,
                what="the first polls",
            )
            mark = telegram.mark()
            telegram.send_message_update(chat_id=READER, text="/subscribe harbour")
            await telegram.await_message(READER, "Subscribed", since=mark)

            slow.set("/slow.xml", rss("Crane Weekly", [slow_story(n, slow) for n in range(64)]))
            await wait_until(lambda: pages.waiting > 0, within=POLL_SECONDS + 5, what="pages")

            mark = telegram.mark()
            ferry = {"title": "Harbour ferry resumes", "guid": "fast-1", "link": fast.url("/ferry")}
            old = {"title": "Old news", "guid": "fast-0"}
            fast.set("/fast.xml", rss("Port Daily", [ferry, old]))
            published = time.monotonic()
            alert = await telegram.await_message(READER, "Harbour ferry resumes", since=mark)
            assert time.monotonic() - published <= POLL_SECONDS + 2
            # Summarized from its own page: the healthy site's pages are fetched meanwhile.
            assert "resumed its morning crossings" in alert.plain

            mark = telegram.mark()
            asked = time.monotonic()
            telegram.send_message_update(chat_id=ADMIN, text=f"/addfeed {fast.url('/other.xml')}")
            await telegram.await_message(ADMIN, "Added #3", since=mark)
            assert time.monotonic() - asked < 2

            mark = telegram.mark()
            asked = time.monotonic()
            telegram.send_message_update(chat_id=ASKER, text="/latest")
            await telegram.await_message(ASKER, since=mark)
            assert time.monotonic() - asked < 2

            # The hanging site's stories go out after the deadline with the feed's text.
            await wait_until(
                lambda: len(entries_of(engine, slow.url("/slow.xml"))) == 65,
                within=DEADLINE_SECONDS + POLL_SECONDS + 10,
                what="storing the hanging site's stories",
            )
            stored = {e.key: e for e in entries_of(engine, slow.url("/slow.xml"))}
            assert stored["guid:slow-7"].summary.startswith("Inspectors checked crane number 7")
            with engine.connect() as conn:
                queued = conn.execute(
                    sa.text("select count(*) from delivery where chat_id = :c"), {"c": READER}
                ).scalar_one()
            assert queued == 65  # the ferry and the 64 cranes
            # Its pages counted against the per-host limit: never more than 4 at once.
            assert 1 <= pages.peak <= PER_HOST_FETCHES
        engine.dispose()
    # An operator can follow the hanging feed in the JSON log.
    lines = log_path.read_text().splitlines()
    events = [json.loads(line) for line in lines if line.startswith("{")]
    late = [e for e in events if "not ready within" in e["msg"]]
    assert late and all(isinstance(e.get("feed"), int) and e.get("entry") for e in late)
    assert {e["entry"] for e in late} <= {f"guid:slow-{n}" for n in range(64)}


async def test_500_new_stories_with_hanging_pages_delay_no_other_feed(
    sqlite_engine: Engine, sites: tuple[FeedServer, FeedServer, HangingPages]
) -> None:
    fast, slow, pages = sites
    engine = sqlite_engine
    fast.set("/fast.xml", rss("Port Daily", [{"title": "Old harbour news", "guid": "fast-0"}]))
    slow.set("/slow.xml", rss("Crane Weekly", [{"title": "Old crane", "guid": "crane-old"}]))
    add_feed(engine, fast.url("/fast.xml"))
    add_feed(engine, slow.url("/slow.xml"))
    subscribe(engine, READER, "harbour")
    settings = get_settings(
        allow_private_networks=True,
        poll_interval_seconds=POLL_SECONDS,
        article_deadline_seconds=DEADLINE_SECONDS,
    )
    watcher = FeedWatcher(engine=engine, settings=settings, topics=TopicCache())
    try:
        await watcher.poll_round()  # history
        slow.set("/slow.xml", rss("Crane Weekly", [slow_story(n, slow) for n in range(500)]))
        make_due(engine)
        slow_tasks = await watcher.launch_due()
        assert len(slow_tasks) == 2
        await wait_until(lambda: pages.waiting > 0, within=5, what="page fetches")

        fast.set(
            "/fast.xml",
            rss("Port Daily", [{"title": "Harbour ferry resumes", "guid": "fast-1"}]),
        )
        make_due(engine)
        started = time.monotonic()
        again = await watcher.launch_due()
        assert len(again) == 1  # the slow feed is still busy with its stories
        await wait_until(
            lambda: (READER, "Harbour ferry resumes") in deliveries(engine),
            within=2,
            what="the healthy feed's alert",
        )
        checked = time.monotonic()
        _, parsed = await watcher.check(fast.url("/fast.xml"))
        assert parsed.title == "Port Daily" and time.monotonic() - checked < 1

        outcomes = await asyncio.gather(*slow_tasks)
        took = time.monotonic() - started
        assert sum(o.new_entries for o in outcomes) == 500
        assert took < DEADLINE_SECONDS + 10
        assert pages.peak <= PER_HOST_FETCHES
        with session_scope(engine) as session:
            summary = session.exec(select(Entry.summary).where(Entry.key == "guid:slow-321")).one()
        assert summary.startswith("Inspectors checked crane number 321")
    finally:
        await watcher.aclose()
