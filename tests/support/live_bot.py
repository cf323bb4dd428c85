"""A live bot for the topic tests: the real Application, in the test's event loop, talking
HTTP to the stand-in Bot API and polling a local feed server."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram import Update

from bot.app import build_application
from bot.config import get_settings
from bot.db import migrate
from bot.db.engine import make_engine
from tests.support.feed_server import FeedServer, rss
from tests.support.telegram_api import CallbackAnswer, FakeTelegram, MessageEdit, SentMessage

WIRE = "/wire.xml"

T = TypeVar("T")


def story(
    n: int, title: str, desc: str = "", *, minutes_ago: int = 0, categories: Sequence[str] = ()
) -> dict[str, Any]:
    """Return a feed item with a stable guid and link."""
    return {
        "title": title,
        "link": f"https://news.example.org/topics/{n}",
        "guid": f"topics-{n}",
        "description": desc or f"{title}. More details are expected later today.",
        "pub_date": datetime.now(UTC) - timedelta(minutes=minutes_ago),
        "categories": list(categories),
    }


@dataclass
class LiveBot:
    telegram: FakeTelegram
    feeds: FeedServer
    engine: Engine
    items: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, *items: dict[str, Any]) -> None:
        """Put items at the top of the feed; the next poll alerts their subscribers."""
        self.items[:0] = list(items)
        self.feeds.set(WIRE, rss("Topic Wire", self.items))

    def say(
        self,
        chat_id: int,
        text: str,
        *,
        user_id: int | None = None,
        chat_type: str = "private",
        thread: int | None = None,
        **extra: Any,
    ) -> int:
        """Send a message (a channel post in channels); return the mark before it."""
        mark = self.telegram.mark()
        if chat_type == "private":
            user_id = user_id or chat_id
        self.telegram.send_message_update(
            chat_id=chat_id,
            text=text,
            user_id=user_id,
            chat_type=chat_type,
            message_thread_id=thread,
            is_topic_message=thread is not None,
            **extra,
        )
        self.deliver()
        return mark

    def deliver(self) -> None:
        """Hand the bot what was just queued (here its updater fetches updates itself)."""

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> T:
        """Wait until predicate() is truthy (checked whenever the stand-in changes)."""
        return await self.telegram.await_for(predicate, timeout)

    async def message(
        self,
        chat_id: int,
        contains: str,
        *,
        since: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> SentMessage:
        """Wait for a message to the chat (sent after `since`) containing `contains`."""
        return await self.telegram.await_message(chat_id, contains, since=since, timeout=timeout)

    async def ask(
        self, chat_id: int, text: str, contains: str, *, within: float = 10.0, **kw: Any
    ) -> SentMessage:
        """Send text and wait (up to `within` seconds) for the answer containing `contains`."""
        mark = self.say(chat_id, text, **kw)
        return await self.message(chat_id, contains, since=mark, timeout=within)

    async def tap(
        self, message: SentMessage, label: str, *, user_id: int, edited: bool = True
    ) -> tuple[CallbackAnswer, MessageEdit | None]:
        """Press the button whose text contains label; return the answer and the edit."""
        button = next(b for row in message.buttons for b in row if label in b["text"])
        tg = self.telegram
        mark = tg.mark()
        query_id = tg.send_callback_update(
            chat_id=message.chat_id,
            user_id=user_id,
            message_id=message.message_id,
            data=button["callback_data"],
        )
        self.deliver()
        answer = await self.wait_for(
            lambda: next(
                (a for a in tg.callback_answers() if a.callback_query_id == query_id), None
            )
        )
        if not edited:
            return answer, None

        def edit() -> MessageEdit | None:
            return next(
                (
                    e
                    for e in tg.edits(message.chat_id)
                    if e.seq > mark and e.message_id == message.message_id
                ),
                None,
            )

        return answer, await self.wait_for(edit)

    def current(self, message: SentMessage) -> SentMessage:
        """Return the message as it is now (after edits)."""
        return next(
            m for m in self.telegram.messages(message.chat_id) if m.message_id == message.message_id
        )

    def db(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]

    def subscriptions(self, chat_id: int) -> list[tuple[str, int | None]]:
        """Return the chat's (canonical query, thread id) pairs."""
        return self.db(
            "select t.canonical, s.thread_id from subscription s join topic t on t.id = s.topic_id"
            " where s.chat_id = :chat order by t.canonical",
            chat=chat_id,
        )

    async def wait_stored(self, count: int, within: float = 10.0) -> None:
        """Wait until the feed's stories are stored."""
        deadline = time.monotonic() + within
        while self.db("select count(*) from entry")[0][0] < count:
            assert time.monotonic() < deadline, f"{count} stories were not stored in time"
            await asyncio.sleep(0.05)


@asynccontextmanager
async def live_bot(
    tmp_path: Path,
    *,
    items: Sequence[dict[str, Any]] = (),
    admin_ids: Sequence[int] = (),
    topics_file: Path | None = None,
    reply_max_age: float = 120.0,
) -> AsyncIterator[LiveBot]:
    """Run the bot until the block ends; the feed's first stories are stored as history."""
    with FakeTelegram() as telegram, FeedServer() as feeds:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        feeds.set(WIRE, rss("Topic Wire", list(items)))
        settings = get_settings(
            telegram_bot_token=telegram.token,
            telegram_api_base_url=telegram.base_url,
            database_url=f"sqlite:///{tmp_path / 'topics.db'}",
            feeds=[feeds.url(WIRE)],
            poll_interval_seconds=1,
            admin_ids=list(admin_ids),
            allow_private_networks=True,
            fetch_articles=False,
            metrics_port=0,
            topics_file=topics_file,
            reply_max_age_seconds=reply_max_age,
        )
        engine = make_engine(settings.database_url)
        migrate.upgrade(engine)
        application = build_application(settings, engine=engine)
        bot = LiveBot(telegram=telegram, feeds=feeds, engine=engine, items=list(items))
        assert application.post_init is not None and application.updater is not None
        await application.initialize()
        try:
            await application.post_init(application)
            await application.updater.start_polling(
                poll_interval=0.0, timeout=5, allowed_updates=Update.ALL_TYPES
            )
            await application.start()
            if items:
                await bot.wait_stored(len(items))
            yield bot
        finally:
            if application.updater.running:
                await application.updater.stop()
            if application.running:
                await application.stop()
            if application.post_stop is not None:
                await application.post_stop(application)
            await application.shutdown()
            if application.post_shutdown is not None:
                await application.post_shutdown(application)
            engine.dispose()
