"""Who may change a chat's topics, and how many commands a user may send in a minute."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from enum import Enum

from telegram import ChatMember, Message, MessageEntity, Update
from telegram.constants import ChatType
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop

from bot.handlers.context import Context, known_translator
from bot.i18n import N_

log = logging.getLogger(__name__)

Clock = Callable[[], float]

COMMANDS_PER_MINUTE = 20
ADMIN_STATUSES = frozenset({ChatMember.ADMINISTRATOR, ChatMember.OWNER})

MANAGE_REFUSAL = N_("Only this chat's administrators can change its topics.")
SLOW_DOWN = N_("🐢 Slow down, please: I'll answer your commands again in a minute.")


class Verdict(Enum):
    """What to do with a command: answer it, warn once, or ignore it."""

    ALLOW = "allow"
    WARN = "warn"
    DROP = "drop"


class RateWindow:
    """A sliding window of the commands each sender gave in the last `period` seconds.

    The command past `limit` gets WARN and mutes the sender until the oldest command in
    the window is `period` old; commands while muted get DROP and don't count.
    """

    def __init__(
        self,
        *,
        limit: int = COMMANDS_PER_MINUTE,
        period: float = 60.0,
        clock: Clock = time.monotonic,
    ) -> None:
        if limit < 1 or period <= 0:
            raise ValueError("limit must be at least 1 and period positive")
        self.limit = limit
        self.period = period
        self._clock = clock
        self._times: dict[int, deque[float]] = {}
        self._muted: dict[int, float] = {}
        self._swept = clock()

    def __len__(self) -> int:
        """Return how many senders the window remembers."""
        return len(self._times)

    def hit(self, key: int) -> Verdict:
        """Count one command from key and say what to do with it."""
        now = self._clock()
        if now - self._swept >= self.period:
            self._sweep(now)
        until = self._muted.get(key)
        if until is not None:
            if now < until:
                return Verdict.DROP
            del self._muted[key]
        times = self._times.get(key)
        if times is None:
            times = self._times[key] = deque()
        cutoff = now - self.period
        while times and times[0] <= cutoff:
            times.popleft()
        if len(times) < self.limit:
            times.append(now)
            return Verdict.ALLOW
        self._muted[key] = times[0] + self.period
        return Verdict.WARN

    def _sweep(self, now: float) -> None:
        """Forget senders with nothing in the window, so memory follows recent activity."""
        cutoff = now - self.period
        self._times = {k: t for k, t in self._times.items() if t and t[-1] > cutoff}
        self._muted = {k: u for k, u in self._muted.items() if u > now}
        self._swept = now


async def is_chat_admin(context: Context, *, chat_id: int, user_id: int) -> bool:
    """Ask Telegram (getChatMember) whether the user administers the chat; cached briefly."""
    cache = context.bot_data.admin_cache
    known = cache.get(chat_id, user_id)
    if known is not None:
        return known
    try:
        member = await context.bot.get_chat_member(chat_id=chat_id, user_id=user_id)
    except TelegramError as err:
        log.warning("could not check the member status in chat %d: %s", chat_id, err.message)
        return False
    allowed = member.status in ADMIN_STATUSES
    cache.put(chat_id, user_id, allowed)
    return allowed


async def may_manage(update: Update, context: Context) -> bool:
    """Tell whether the sender of this command or button may change the chat's topics.

    Anyone in a private chat; in groups and channels, their administrators, the channel
    itself (channel posts have no user) and a group's anonymous administrators (who post
    as the group).
    """
    chat = update.effective_chat
    if chat is None:
        return False
    if chat.type == ChatType.PRIVATE:
        return True
    message = update.effective_message
    if update.callback_query is None and message is not None and message.sender_chat is not None:
        return message.sender_chat.id == chat.id
    user = update.effective_user
    if user is None:
        return False
    return await is_chat_admin(context, chat_id=chat.id, user_id=user.id)


def _command_message(update: Update, bot_username: str | None) -> Message | None:
    """Return the message if it is a command for this bot (or for any bot, unaddressed)."""
    message = update.message or update.channel_post
    if message is None or not message.text or not message.entities:
        return None
    first = message.entities[0]
    if first.type != MessageEntity.BOT_COMMAND or first.offset != 0:
        return None
    command = message.text[1 : first.length]
    _, at, name = command.partition("@")
    if at and bot_username and name.lower() != bot_username.lower():
        return None
    return message


def sender_key(update: Update) -> int | None:
    """Return whom a command counts against: the user, or the chat a post is sent as."""
    message = update.message or update.channel_post
    if message is not None and message.sender_chat is not None:
        return message.sender_chat.id
    user = update.effective_user
    return user.id if user is not None else None


class RateLimiter:
    """Pre-handler (group -1): stop commands and button presses past the window's limit."""

    def __init__(self, window: RateWindow | None = None) -> None:
        self.window = window or RateWindow()

    async def __call__(self, update: Update, context: Context) -> None:
        """Let the update through, or answer "slow down" once and stop it."""
        query = update.callback_query
        message = None
        if query is None:
            message = _command_message(update, context.bot.username)
            if message is None:
                return
        key = sender_key(update)
        if key is None:
            return
        verdict = self.window.hit(key)
        if verdict is Verdict.ALLOW:
            return
        if verdict is Verdict.WARN:
            log.info("rate limit: muting sender %d for the rest of the minute", key)
            the_door = context.door
            slow_down = known_translator(update, context).gettext(SLOW_DOWN)
            if query is not None:
                the_door.answer(query, slow_down, show_alert=True)
            elif message is not None:
                the_door.reply(message, slow_down, parse_mode=None)
        raise ApplicationHandlerStop
