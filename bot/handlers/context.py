"""The typed context every handler and job receives (python-telegram-bot's ContextTypes).

`context.services`, `context.door` and `context.settings` replace string keys in bot_data:
the application's shared objects are attributes of `BotData`, set once in bot/app.py.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

from telegram import Chat, Message, Update
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.delivery.door import Door
from bot.handlers.admins import AdminCache
from bot.ingest.watcher import FeedWatcher
from bot.services import Services
from bot.services.base import ChatInfo
from bot.topics.catalog import CatalogPlan

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?\s*", re.ASCII)


class BotData:
    """What handlers and jobs share: one per application, wired in bot/app.py."""

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.services: Services | None = None
        self.door: Door | None = None
        self.watcher: FeedWatcher | None = None
        self.catalog_plan: CatalogPlan | None = None
        # Who administers which chat, remembered briefly (bot/handlers/guard.py).
        self.admin_cache = AdminCache()
        # broadcast id -> (when its progress was last shown, the text shown)
        self.broadcast_progress: dict[int, tuple[float, str]] = {}
        # Background tasks of a running application (the door, the poll scheduler).
        self.tasks: dict[str, asyncio.Task[Any]] = {}
        # Stops the application in webhook mode (bot/ops/webhook.py), for the standby.
        self.stop: Callable[[], object] | None = None


class Context(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    """A callback context with typed access to the application's services."""

    @property
    def services(self) -> Services:
        """Return the use cases (bot/services/)."""
        value = self.bot_data.services
        assert value is not None, "the services are wired in bot/app.py"
        return value

    @property
    def door(self) -> Door:
        """Return the door every message, edit and button answer goes out through."""
        value = self.bot_data.door
        assert value is not None, "the door is wired in bot/app.py"
        return value

    @property
    def settings(self) -> Settings:
        """Return the application's settings."""
        value = self.bot_data.settings
        assert value is not None, "the settings are wired in bot/app.py"
        return value

    def is_admin(self, user_id: int | None) -> bool:
        """Return True when the user may use operator commands."""
        return user_id is not None and user_id in self.settings.admin_ids


CONTEXT_TYPES = ContextTypes(context=Context, bot_data=BotData)


def command_text(update: Update) -> str:
    """Return what follows the command, keeping quotes and spacing inside it."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    return _COMMAND_RE.sub("", text, count=1).strip()


def chat_info(chat: Chat) -> ChatInfo:
    """Return the chat's id, type and a title to store."""
    return ChatInfo(id=chat.id, type=chat.type, title=chat.title or chat.full_name or chat.username)


def thread_of(message: Message) -> int | None:
    """Return the forum topic (thread) a message belongs to, or None outside forums."""
    if message.is_topic_message or message.chat.is_forum:
        return message.message_thread_id
    return None


def sender_is_admin(update: Update, context: Context) -> bool:
    """Return True when the update comes from one of the bot's operators."""
    user = update.effective_user
    return context.is_admin(user.id if user else None)


async def reply(context: Context, update: Update, text: str) -> None:
    """Hand the door an answer (HTML) for the chat the update came from."""
    message = update.effective_message
    if message is not None:
        context.door.reply(message, text)
