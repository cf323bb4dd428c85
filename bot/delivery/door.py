"""The one door to Telegram: every message, edit and button answer goes out through here.

Handlers and jobs hand the door what to send and go on; the door paces it with everything
else (one global budget, per-chat spacing), puts answers to people before alerts and alerts
before broadcasts, waits out 429s and outages, and resolves the returned future with the
sent message (or True for edits and answers, None when it could not be sent).

The application's own Bot is built on `GuardedRequest`, which refuses these methods, so
nothing can bypass the door by accident; the door sends through a Bot of its own.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from telegram import CallbackQuery, InlineKeyboardMarkup, InputFile, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.request import BaseRequest, RequestData

from bot.delivery.ptb import ODVInput
from bot.delivery.render import MAX_ANSWER_CHARS, utf16_cut
from bot.delivery.replies import Reply, ReplyLane
from bot.delivery.sender import Sender

log = logging.getLogger(__name__)

# Bot API methods that put something in a chat or answer a person: only the door calls them.
DOOR_METHOD_PREFIXES = ("send", "edit", "answer", "copy", "forward", "stop")
DOOR_METHODS = frozenset({"deletemessage", "deletemessages", "setmessagereaction"})

SentFuture = asyncio.Future[Any]


def is_door_method(method: str) -> bool:
    """Tell whether a Bot API method sends, edits or answers (case-insensitive)."""
    name = method.lower()
    return name.startswith(DOOR_METHOD_PREFIXES) or name in DOOR_METHODS


class DoorBypassed(RuntimeError):
    """Something tried to send without going through the door."""


class GuardedRequest(BaseRequest):
    """The application Bot's transport: everything but sending, editing and answering."""

    def __init__(self, inner: BaseRequest) -> None:
        self.inner = inner

    @property
    def read_timeout(self) -> float | None:
        """Return the wrapped transport's read timeout."""
        return self.inner.read_timeout

    async def initialize(self) -> None:
        """Initialize the wrapped transport."""
        await self.inner.initialize()

    async def shutdown(self) -> None:
        """Shut the wrapped transport down."""
        await self.inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Refuse the door's methods; pass everything else on."""
        api_method = url.rstrip("/").rpartition("/")[2]
        if is_door_method(api_method):
            raise DoorBypassed(f"{api_method} must go through the door (bot.delivery.door)")
        return await self.inner.do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


def _thread_of(message: Message) -> int | None:
    return message.message_thread_id if message.is_topic_message else None


class Door:
    """Queue calls to Telegram; the sender's loop sends them (see bot/delivery/sender.py)."""

    def __init__(self, sender: Sender) -> None:
        self.sender = sender

    @property
    def lane(self) -> ReplyLane:
        """Return the replies lane."""
        return self.sender.replies

    async def run(self) -> None:
        """Send until stopped."""
        await self.sender.run()

    async def stop(self) -> None:
        """Send what people were promised (briefly), record what was sent, stop."""
        await self.sender.stop()

    def wake(self) -> None:
        """Tell the door new outbox rows are due."""
        self.sender.wake()

    def _put(
        self,
        method: str,
        kwargs: dict[str, Any],
        *,
        chat_id: int | None,
        kind: str,
        idempotent: bool = False,
        key: tuple[Any, ...] | None = None,
    ) -> SentFuture:
        future: SentFuture = asyncio.get_running_loop().create_future()
        self.lane.put(
            Reply(
                method=method,
                kwargs=kwargs,
                chat_id=chat_id,
                future=future,
                kind=kind,
                idempotent=idempotent,
                key=key,
            )
        )
        self.sender.kick()
        return future

    def send(
        self,
        chat_id: int,
        text: str,
        *,
        parse_mode: str | None = ParseMode.HTML,
        reply_markup: InlineKeyboardMarkup | None = None,
        thread_id: int | None = None,
        link_preview: bool = True,
        kind: str = "reply",
    ) -> SentFuture:
        """Queue a message; the future gives the sent Message (None if it was not sent)."""
        kwargs: dict[str, Any] = {"chat_id": chat_id, "text": text, "parse_mode": parse_mode}
        if reply_markup is not None:
            kwargs["reply_markup"] = reply_markup
        if thread_id is not None:
            kwargs["message_thread_id"] = thread_id
        if not link_preview:
            kwargs["link_preview_options"] = LinkPreviewOptions(is_disabled=True)
        return self._put("send_message", kwargs, chat_id=chat_id, kind=kind)

    def reply(self, message: Message, text: str, **options: Any) -> SentFuture:
        """Queue an answer in the chat (and forum topic) of `message`."""
        return self.send(message.chat_id, text, thread_id=_thread_of(message), **options)

    def edit_text(
        self,
        chat_id: int,
        message_id: int,
        text: str,
        *,
        parse_mode: str | None = ParseMode.HTML,
        reply_markup: InlineKeyboardMarkup | None = None,
    ) -> SentFuture:
        """Queue an edit of a message's text; a later edit of the same message replaces it."""
        kwargs: dict[str, Any] = {
            "chat_id": chat_id,
            "message_id": message_id,
            "text": text,
            "parse_mode": parse_mode,
        }
        if reply_markup is not None:
            kwargs["reply_markup"] = reply_markup
        key = ("edit", chat_id, message_id)
        return self._put(
            "edit_message_text", kwargs, chat_id=chat_id, kind="edit", idempotent=True, key=key
        )

    def edit_markup(
        self, chat_id: int, message_id: int, reply_markup: InlineKeyboardMarkup | None
    ) -> SentFuture:
        """Queue a change of a message's buttons; a later one for the message replaces it."""
        kwargs = {"chat_id": chat_id, "message_id": message_id, "reply_markup": reply_markup}
        key = ("markup", chat_id, message_id)
        return self._put(
            "edit_message_reply_markup",
            kwargs,
            chat_id=chat_id,
            kind="edit",
            idempotent=True,
            key=key,
        )

    def answer(
        self, query: CallbackQuery, text: str | None = None, *, show_alert: bool = False
    ) -> SentFuture:
        """Queue the answer to a button press (at most 200 characters, as Telegram counts)."""
        kwargs: dict[str, Any] = {"callback_query_id": query.id, "show_alert": show_alert}
        if text:
            kwargs["text"] = utf16_cut(text, MAX_ANSWER_CHARS)
        return self._put(
            "answer_callback_query", kwargs, chat_id=None, kind="answer", idempotent=True
        )

    def send_document(
        self,
        chat_id: int,
        *,
        content: bytes,
        filename: str,
        caption: str | None = None,
        thread_id: int | None = None,
    ) -> SentFuture:
        """Queue a file upload with an optional plain-text caption."""
        kwargs: dict[str, Any] = {
            "chat_id": chat_id,
            "document": InputFile(content, filename=filename),
        }
        if caption is not None:
            kwargs["caption"] = caption
        if thread_id is not None:
            kwargs["message_thread_id"] = thread_id
        return self._put("send_document", kwargs, chat_id=chat_id, kind="upload")
