"""Many people acting in the same moment, on SQLite and PostgreSQL: nothing lost, no errors.

The real Application handles every update at once (`process_update` gathered, with a thread
pool wide enough that the database work really overlaps) and answers through the stand-in
Bot API through the door. The stand-in's send limits are off and the door's rate is high:
these tests are about storage under concurrency; pacing answers is the door's job, tested in
its own suites.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram import Update

from bot.app import AnyApplication, build_application
from bot.config import get_settings
from bot.db import feeds as feeds_db
from bot.db import migrate
from bot.db.engine import make_engine, session_scope
from bot.db.models import utcnow
from bot.ingest.store import NewEntry, store_entries
from bot.ingest.topic_cache import TopicCache
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import FakeTelegram, SentMessage

ADMIN = 4242
APOLOGY = "something went wrong"


@dataclass
class Crowd:
    """The real bot, ready to take many updates at once."""

    app: AnyApplication
    telegram: FakeTelegram
    engine: Engine
    taken: int = 0  # updates already handled

    async def handle_all(self) -> None:
        """Handle every update queued since the last call, all at the same time."""
        fresh = [u for u in self.telegram.pending_updates() if u["update_id"] > self.taken]
        self.taken = max([self.taken, *(u["update_id"] for u in fresh)])
        updates = [Update.de_json(u, self.app.bot) for u in fresh]
        await asyncio.gather(*(self.app.process_update(u) for u in updates))
        await self.settle()

    async def settle(self, quiet: float = 0.3, limit: float = 60) -> None:
        """Wait until the door has sent every answer the handlers handed it."""
        door = self.app.bot_data.door
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        seen, since = -1, loop.time()
        while loop.time() < deadline:
            count = len(self.telegram.requests())
            if count != seen or len(door.lane):
                seen, since = count, loop.time()
            elif loop.time() - since >= quiet:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the door did not finish sending in time")

    def answers(self, chat_id: int) -> list[SentMessage]:
        return self.telegram.messages(chat_id)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]


@asynccontextmanager
async def crowd(db_url: str, *, admins: Iterable[int] = (ADMIN,)) -> AsyncIterator[Crowd]:
    """Run the bot's handlers against db_url until the block ends."""
    loop = asyncio.get_running_loop()
    # Wide enough for every update's database work to overlap with the others'.
    loop.set_default_executor(ThreadPoolExecutor(48, thread_name_prefix="race"))
    with FakeTelegram() as telegram:
        settings = get_settings(
            telegram_bot_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            database_url=db_url,
            admin_ids=list(admins),
            allow_private_networks=True,
            metrics_port=0,
            send_rate=500,
        )
        engine = make_engine(db_url)
        migrate.upgrade(engine)
        app = build_application(settings, engine=engine)
        await app.initialize()
        door = app.bot_data.door
        sending = asyncio.create_task(door.run())
        try:
            yield Crowd(app=app, telegram=telegram, engine=engine)
        finally:
            await door.stop()
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            engine.dispose()


def no_apologies(crowd: Crowd, caplog: pytest.LogCaptureFixture) -> None:
    sent = [m.plain for m in crowd.telegram.messages()]
    assert not [text for text in sent if APOLOGY in text]
    failures = [r for r in caplog.records if r.getMessage().startswith("handler failed")]
    assert failures == []


def one_each(crowd: Crowd, chats: Iterable[int], contains: str) -> None:
    """Every chat got exactly one answer containing `contains`."""
    for chat in chats:
        hits = [m for m in crowd.answers(chat) if contains in m.plain]
        assert len(hits) == 1, (chat, [m.plain for m in crowd.answers(chat)])


async def test_200_chats_subscribe_to_one_new_topic_at_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    chats = range(10_001, 10_201)
    async with crowd(db_url) as c:
        # The matching index is built before the topic exists: it must learn of it.
        topics = TopicCache()
        with session_scope(c.engine) as session:
            feed = feeds_db.add_feeds(session=session, urls=["https://w.example/f"], now=utcnow())
        assert feed[0].id is not None
        topics.refresh(c.engine)
        assert len(topics) == 0

        for chat in chats:
            c.telegram.send_message_update(chat_id=chat, text="/subscribe Kosovo")
        await c.handle_all()

        no_apologies(c, caplog)
        one_each(c, chats, "Subscribed to kosovo")
        assert c.rows("select count(*) from topic") == [(1,)]
        per_chat = c.rows("select chat_id, count(*) from subscription group by chat_id")
        assert sorted(per_chat) == [(chat, 1) for chat in chats]

        # Every one of them gets the next alert.
        story = NewEntry(
            key="k-1",
            link="https://w.example/1",
            link_key="w.example/1",
            title="Kosovo and Serbia agree on border crossings",
            summary="Talks ended with a deal.",
            description="",
            categories=(),
            published=None,
        )
        report = store_entries(
            engine=c.engine, topics=topics, feed_id=feed[0].id, items=[story], history=False
        )
        assert report.alerts_queued == 200
        assert c.rows("select count(distinct chat_id) from delivery") == [(200,)]


async def test_50_new_chats_start_and_subscribe_together(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    chats = range(20_001, 20_051)
    async with crowd(db_url) as c:
        for chat in chats:
            c.telegram.send_message_update(chat_id=chat, text="/start")
            c.telegram.send_message_update(chat_id=chat, text='/subscribe "border talks" OR nato')
        await c.handle_all()

        no_apologies(c, caplog)
        one_each(c, chats, "Welcome")
        one_each(c, chats, "Subscribed to")
        assert c.rows("select count(*) from chat where active") == [(50,)]
        assert c.rows("select count(*) from topic") == [(1,)]
        per_chat = c.rows("select chat_id, count(*) from subscription group by chat_id")
        assert sorted(per_chat) == [(chat, 1) for chat in chats]


async def test_one_chat_subscribing_twice_at_once_is_subscribed_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    async with crowd(db_url) as c:
        for _ in range(6):
            c.telegram.send_message_update(chat_id=30_001, text="/subscribe harbour strike")
        await c.handle_all()
        no_apologies(c, caplog)
        texts = [m.plain for m in c.answers(30_001)]
        assert sum("Subscribed to" in t for t in texts) == 1
        assert sum("already subscribed" in t for t in texts) == 5
        assert c.rows("select count(*) from subscription") == [(1,)]


async def test_subscribing_while_the_last_follower_leaves(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A topic dropped by its last chat while others subscribe to it stays for them."""
    caplog.set_level(logging.ERROR)
    async with crowd(db_url) as c:
        for round_ in range(5):
            leaver = 40_000 + round_
            c.telegram.send_message_update(chat_id=leaver, text="/subscribe glacier")
            await c.handle_all()
            joiners = range(41_000 + 100 * round_, 41_000 + 100 * round_ + 20)
            c.telegram.send_message_update(chat_id=leaver, text="/unsubscribe glacier")
            for chat in joiners:
                c.telegram.send_message_update(chat_id=chat, text="/subscribe glacier")
            await c.handle_all()
            one_each(c, joiners, "Subscribed to glacier")
            # Whatever the order, every joiner follows a topic row that exists.
            followers = c.rows(
                "select count(*) from subscription s join topic t on t.id = s.topic_id "
                "where t.canonical = 'glacier'"
            )
            expected = 20 * (round_ + 1)
            assert followers == [(expected,)]
        no_apologies(c, caplog)
        assert c.rows("select count(*) from topic") == [(1,)]


async def test_confirm_pressed_twice(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    chats = range(50_001, 50_031)
    async with crowd(db_url) as c:
        for chat in chats:
            c.telegram.send_message_update(chat_id=chat, text="/start")
        await c.handle_all()
        c.telegram.send_message_update(chat_id=ADMIN, text="/broadcast Ferries run late today")
        await c.handle_all()
        preview = next(m for m in c.answers(ADMIN) if "Broadcast preview" in m.plain)
        confirm = next(b for row in preview.buttons for b in row if "Confirm" in b["text"])
        presses = [
            c.telegram.send_callback_update(
                chat_id=ADMIN,
                user_id=ADMIN,
                message_id=preview.message_id,
                data=confirm["callback_data"],
            )
            for _ in range(2)
        ]
        await c.handle_all()

        no_apologies(c, caplog)
        answers = {a.callback_query_id: a.text for a in c.telegram.callback_answers()}
        assert sorted(answers[p] or "" for p in presses) == [
            "Sending…",
            "This broadcast was already handled.",
        ]
        # One message for each of the 30 chats, queued once.
        assert c.rows(
            "select count(*), count(distinct chat_id) from delivery where broadcast_id is not null"
        ) == [(30, 30)]
        assert c.rows("select state, total from broadcast") == [("sending", 30)]


async def test_confirm_and_cancel_at_once(db_url: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    async with crowd(db_url) as c:
        c.telegram.send_message_update(chat_id=ADMIN, text="/start")
        await c.handle_all()
        c.telegram.send_message_update(chat_id=ADMIN, text="/broadcast Road closed")
        await c.handle_all()
        preview = next(m for m in c.answers(ADMIN) if "Broadcast preview" in m.plain)
        buttons = [b["callback_data"] for row in preview.buttons for b in row]
        for data in buttons:
            c.telegram.send_callback_update(
                chat_id=ADMIN, user_id=ADMIN, message_id=preview.message_id, data=data
            )
        await c.handle_all()
        no_apologies(c, caplog)
        texts = sorted(a.text or "" for a in c.telegram.callback_answers())
        assert "This broadcast was already handled." in texts
        assert ("Sending…" in texts) != ("Cancelled." in texts)
        state, queued = c.rows(
            "select b.state, (select count(*) from delivery d where d.broadcast_id = b.id) "
            "from broadcast b"
        )[0]
        assert (state, queued) in {("sending", 1), ("cancelled", 0)}


async def test_two_operators_add_the_same_topic_and_feed_at_once(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    second_admin = ADMIN + 1
    with FeedServer() as feeds:
        feeds.set("/wire.xml", rss("Harbour Wire", [{"title": "Pilots return", "guid": "p-1"}]))
        async with crowd(db_url, admins=[ADMIN, second_admin]) as c:
            for admin in (ADMIN, second_admin):
                c.telegram.send_message_update(chat_id=admin, text="/addtopic Climate climate")
                c.telegram.send_message_update(
                    chat_id=admin, text=f"/addfeed {feeds.url('/wire.xml')}"
                )
            await c.handle_all()
            no_apologies(c, caplog)
            texts = [m.plain for admin in (ADMIN, second_admin) for m in c.answers(admin)]
            assert sum(t.startswith("Added Climate") for t in texts) == 1
            assert sum(t.startswith("Updated Climate") for t in texts) == 1
            assert sum(t.startswith("✅ Added #1: Harbour Wire") for t in texts) == 1
            assert sum("already on the list as #1" in t for t in texts) == 1
            assert c.rows("select count(*) from catalog_topic where key = 'climate'") == [(1,)]
            assert c.rows("select count(*) from feed") == [(1,)]
