"""The real Application answering chats in the test's event loop, without getUpdates.

Every update a test queues in the stand-in Bot API goes straight to
`Application.process_update`; the door sends the answers to the stand-in (Telegram's limits
on), and the poll scheduler polls a local feed server, as in `newsbot run`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from telegram import Update

from bot.app import AnyApplication, build_application
from bot.config import get_settings
from bot.db import chats as chats_db
from bot.db import migrate, subscriptions
from bot.db.engine import make_engine, session_scope
from bot.topics import parse_query
from bot.topics.catalog import DEFAULT_CATALOG, find_entry
from tests.support.feed_server import FeedServer, rss
from tests.support.live_bot import WIRE, LiveBot
from tests.support.telegram_api import FakeTelegram, SentMessage

T = TypeVar("T")


@dataclass
class ChatBot(LiveBot):
    """A LiveBot whose updates go to `Application.process_update` as soon as they're queued."""

    app: AnyApplication | None = None
    taken: int = 0  # the newest update handed to the application
    handling: set[asyncio.Task[None]] = field(default_factory=set)
    # Waits for the stand-in block a thread each: threads of their own, so many waits at
    # once never hold up the handlers' database work (the loop's default executor).
    waits: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(64, thread_name_prefix="wait")
    )

    @property
    def application(self) -> AnyApplication:
        assert self.app is not None
        return self.app

    def deliver(self) -> None:
        """Hand the application every update queued since the last call, at once."""
        loop = asyncio.get_running_loop()
        for raw in self.telegram.pending_updates():
            if raw["update_id"] <= self.taken:
                continue
            self.taken = raw["update_id"]
            update = Update.de_json(raw, self.application.bot)
            task = loop.create_task(self.application.process_update(update))
            self.handling.add(task)
            task.add_done_callback(self.handling.discard)

    async def handled(self) -> None:
        """Wait until the application has handled every update handed to it."""
        while self.handling:
            await asyncio.gather(*list(self.handling), return_exceptions=True)

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

    def send_document(self, chat_id: int, **kw: Any) -> int:
        """Send a file (see FakeTelegram.send_document_update); return the mark before it."""
        mark = self.telegram.mark()
        self.telegram.send_document_update(chat_id=chat_id, **kw)
        self.deliver()
        return mark

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


@asynccontextmanager
async def chat_bot(
    tmp_path: Path,
    *,
    items: Sequence[dict[str, Any]] = (),
    admin_ids: Sequence[int] = (),
    feeds: Sequence[str] = (WIRE,),
    feed_items: Mapping[str, Sequence[dict[str, Any]]] | None = None,
    **settings: Any,
) -> AsyncIterator[ChatBot]:
    """Run the bot until the block ends; the first stories of `WIRE` are stored as history.

    `feeds` are the paths on the feed server the FEEDS setting names; `settings` override
    the defaults below; `feed_items` fills other feeds' first content ({path: items}, stored as
    history too, under their path as the feed's title).
    """
    with FakeTelegram() as telegram, FeedServer() as server:
        telegram.enforce_limits()  # Telegram's: 30/s, bursts of 5 then 1/s per chat
        server.set(WIRE, rss("Topic Wire", list(items)))
        others = dict(feed_items or {})
        for path, content in others.items():
            server.set(path, rss(path.strip("/").removesuffix(".xml"), list(content)))
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
        bot = ChatBot(telegram=telegram, feeds=server, engine=engine, items=list(items), app=app)
        assert app.post_init is not None
        await app.initialize()
        try:
            await app.post_init(app)
            await app.start()
            stored = len(items) + sum(len(c) for c in others.values())
            if stored:
                await bot.wait_stored(stored)
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
