"""The real Application answering chats in the test's event loop, without getUpdates.

Every update a test queues in the stand-in Bot API goes straight to
`Application.process_update`; the door sends the answers to the stand-in (Telegram's limits
on), and the poll scheduler polls a local feed server, as in `newsbot run`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from telegram import Update

from bot.app import AnyApplication, build_application
from bot.config import get_settings
from bot.db import chats as chats_db
from bot.db import migrate, subscriptions
from bot.db.engine import make_engine, session_scope
from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG, find_entry
from tests.support.feed_server import FeedServer, rss
from tests.support.live_bot import WIRE
from tests.support.telegram_api import CallbackAnswer, FakeTelegram, MessageEdit, SentMessage

T = TypeVar("T")


@dataclass
class ChatBot:
    app: AnyApplication
    telegram: FakeTelegram
    feeds: FeedServer
    engine: Engine
    items: list[dict[str, Any]] = field(default_factory=list)
    taken: int = 0  # the newest update handed to the application
    handling: set[asyncio.Task[None]] = field(default_factory=set)
    # Waits for the stand-in block a thread each: threads of their own, so many waits at
    # once never hold up the handlers' database work (the loop's default executor).
    waits: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(64, thread_name_prefix="wait")
    )

    async def wait_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> T:
        """Wait until predicate() is truthy (checked whenever the stand-in changes)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.waits, lambda: self.telegram.wait_for(predicate, timeout)
        )

    async def message(
        self,
        chat_id: int,
        contains: str,
        *,
        since: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> SentMessage:
        """Wait for a message to the chat (sent after `since`) containing `contains`."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self.waits,
            lambda: self.telegram.wait_for_message(chat_id, contains, since=since, timeout=timeout),
        )

    def deliver(self) -> None:
        """Hand the application every update queued since the last call, at once."""
        loop = asyncio.get_running_loop()
        for raw in self.telegram.pending_updates():
            if raw["update_id"] <= self.taken:
                continue
            self.taken = raw["update_id"]
            update = Update.de_json(raw, self.app.bot)
            task = loop.create_task(self.app.process_update(update))
            self.handling.add(task)
            task.add_done_callback(self.handling.discard)

    async def handled(self) -> None:
        """Wait until the application has handled every update handed to it."""
        while self.handling:
            await asyncio.gather(*list(self.handling), return_exceptions=True)

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

    async def ask(
        self, chat_id: int, text: str, contains: str, *, within: float = 10.0, **kw: Any
    ) -> SentMessage:
        """Send text and wait (up to `within` seconds) for the answer containing `contains`."""
        mark = self.say(chat_id, text, **kw)
        return await self.message(chat_id, contains, since=mark, timeout=within)

    def send_document(self, chat_id: int, **kw: Any) -> int:
        """Send a file (see FakeTelegram.send_document_update); return the mark before it."""
        mark = self.telegram.mark()
        self.telegram.send_document_update(chat_id=chat_id, **kw)
        self.deliver()
        return mark

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

    def follow(self, chat_id: int, *queries: str, chat_type: str = "private") -> None:
        """Subscribe a chat to queries (catalog names or words), in order, straight in storage."""
        with session_scope(self.engine) as session:
            chats_db.ensure_chat(session=session, chat_id=chat_id, chat_type=chat_type, title=None)
            for text in queries:
                entry = find_entry(DEFAULT_CATALOG, text)
                query = entry.query if entry is not None else parse_query(text)
                subscriptions.subscribe(
                    session=session,
                    chat_id=chat_id,
                    canonical=query.canonical,
                    display=query.display,
                )

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
async def chat_bot(
    tmp_path: Path,
    *,
    items: Sequence[dict[str, Any]] = (),
    admin_ids: Sequence[int] = (),
    feeds: Sequence[str] = (WIRE,),
    **settings: Any,
) -> AsyncIterator[ChatBot]:
    """Run the bot until the block ends; the first stories of `WIRE` are stored as history.

    `feeds` are the paths on the feed server the FEEDS setting names; `settings` override
    the defaults below.
    """
    with FakeTelegram() as telegram, FeedServer() as server:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        server.set(WIRE, rss("Topic Wire", list(items)))
        options: dict[str, Any] = {
            "telegram_bot_token": telegram.token,
            "telegram_api_base_url": telegram.base_url,
            "database_url": f"sqlite:///{tmp_path / 'chat.db'}",
            "feeds": [server.url(path) for path in feeds],
            "poll_interval_seconds": 1,
            "admin_ids": list(admin_ids),
            "allow_private_networks": True,
            "fetch_articles": False,
            "metrics_port": 0,
            **settings,
        }
        app_settings = get_settings(**options)
        engine = make_engine(app_settings.database_url)
        migrate.upgrade(engine)
        app = build_application(app_settings, engine=engine)
        bot = ChatBot(app=app, telegram=telegram, feeds=server, engine=engine, items=list(items))
        assert app.post_init is not None
        await app.initialize()
        try:
            await app.post_init(app)
            await app.start()
            if items:
                await bot.wait_stored(len(items))
            yield bot
        finally:
            await asyncio.gather(*bot.handling, return_exceptions=True)
            if app.running:
                await app.stop()
            if app.post_stop is not None:
                await app.post_stop(app)
            await app.shutdown()
            if app.post_shutdown is not None:
                await app.post_shutdown(app)
            engine.dispose()
            bot.waits.shutdown(wait=False, cancel_futures=True)
