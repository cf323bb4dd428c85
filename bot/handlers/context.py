"""The typed context every handler and job receives (python-telegram-bot's ContextTypes).

`context.services`, `context.door` and `context.settings` replace string keys in bot_data:
the application's shared objects are attributes of `BotData`, set once in bot/app.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable
from typing import Any

from telegram import Chat, Message, Update
from telegram.ext import CallbackContext, ContextTypes, ExtBot

from bot.config import Settings
from bot.delivery.door import Door
from bot.handlers.admins import AdminCache
from bot.i18n import Translator, negotiate, translator
from bot.ingest.watcher import FeedWatcher
from bot.services import Services
from bot.services.base import ChatInfo
from bot.topics.catalog import CatalogPlan

_COMMAND_RE = re.compile(r"^/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?\s*", re.ASCII)
# Another process (a standby taking over) may change a chat's language: remember it briefly.
LANGUAGE_TTL_SECONDS = 60.0
LANGUAGE_CACHE_SIZE = 10_000


class LanguageCache:
    """Each chat's stored language (None: it has none), remembered for `ttl` seconds."""

    def __init__(
        self, *, ttl: float = LANGUAGE_TTL_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self._clock = clock
        self._known: dict[int, tuple[str | None, float]] = {}

    def get(self, chat_id: int) -> tuple[str | None] | None:
        """Return (language,) when remembered, else None."""
        found = self._known.get(chat_id)
        if found is None or self._clock() >= found[1]:
            return None
        return (found[0],)

    def put(self, chat_id: int, language: str | None) -> None:
        """Remember the chat's language (after reading or changing it)."""
        if len(self._known) >= LANGUAGE_CACHE_SIZE:
            self._known.clear()
        self._known[chat_id] = (language, self._clock() + self.ttl)


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
        # Which language each chat reads (bot/handlers/context.py, chat_translator).
        self.languages = LanguageCache()
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


async def stored_language(context: Context, chat_id: int) -> str | None:
    """Return the chat's stored language (None: it has none), read at most once a minute."""
    known = context.bot_data.languages.get(chat_id)
    if known is not None:
        return known[0]
    stored = await context.services.chats.language(chat_id)
    context.bot_data.languages.put(chat_id, stored)
    return stored


async def chat_language(update: Update, context: Context) -> str:
    """Return the language to answer the update in.

    The chat's own language when it has one; otherwise the sender's Telegram language
    ("de-AT" → "de"), English when that is unknown.
    """
    chat = update.effective_chat
    stored = await stored_language(context, chat.id) if chat is not None else None
    if stored is not None:
        return negotiate(stored)
    user = update.effective_user
    return negotiate(user.language_code if user is not None else None)


async def chat_translator(update: Update, context: Context) -> Translator:
    """Return the translator for the chat the update comes from (see chat_language)."""
    return translator(await chat_language(update, context))


def known_translator(update: Update, context: Context) -> Translator:
    """Return a translator without reading the database: the chat's remembered language,
    else the sender's Telegram language (for the rate limiter and error apologies)."""
    chat = update.effective_chat
    known = context.bot_data.languages.get(chat.id) if chat is not None else None
    if known is not None and known[0] is not None:
        return translator(negotiate(known[0]))
    user = update.effective_user
    return translator(negotiate(user.language_code if user is not None else None))
