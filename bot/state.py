"""The services the handlers and jobs share, kept in `application.bot_data`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.engine import Engine
from sqlmodel import Session
from telegram.ext import CallbackContext, ExtBot

from bot.config import Settings
from bot.db.engine import session_scope
from bot.delivery.door import Door
from bot.ingest.alerts import TopicCache
from bot.ingest.watcher import FeedWatcher

T = TypeVar("T")

STATE_KEY = "newsbot"
# bot_data key of a callable that stops the application in webhook mode (bot/webhook.py).
STOP_KEY = "newsbot-stop"

Context = CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], dict[str, Any]]


@dataclass(slots=True)
class AppState:
    settings: Settings
    engine: Engine
    topics: TopicCache
    watcher: FeedWatcher
    door: Door | None = None

    async def db(self, work: Callable[[Session], T]) -> T:
        """Run one unit of database work in a thread, committing on success."""

        def run() -> T:
            with session_scope(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(run)

    def is_admin(self, user_id: int | None) -> bool:
        """Return True when the user may use operator commands."""
        return user_id is not None and user_id in self.settings.admin_ids


def state(context: Context) -> AppState:
    """Return the application's shared services."""
    value = context.bot_data[STATE_KEY]
    assert isinstance(value, AppState)
    return value


def door(context: Context) -> Door:
    """Return the door every message, edit and button answer goes out through."""
    value = state(context).door
    assert value is not None, "the door is wired in bot/app.py"
    return value
