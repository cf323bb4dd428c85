"""The emulator's state and the helpers every part of it shares (call them with the lock)."""

from __future__ import annotations

import copy
import itertools
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bot.emulator.limits import FloodControl
from bot.emulator.objects import user_json
from bot.emulator.records import (
    CallbackAnswer,
    ChatInfo,
    RequestRecord,
    SentDocument,
    SentMessage,
    StoredFile,
)

JSON = dict[str, Any]

DEFAULT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-"
DEFAULT_BOT_USERNAME = "newsbot_test_bot"
DEFAULT_BOT_NAME = "Newsbot Test"
DEFAULT_GROUP_USER_ID = 700_001


class Connection(Protocol):
    """The client side of a call, as far as a long poll needs to know it."""

    def connected(self) -> bool:
        """Tell whether the client still waits for the answer."""
        ...


@dataclass
class Poller:
    """A getUpdates call waiting for updates."""

    connection: Connection | None
    terminated: bool = False

    def connected(self) -> bool:
        """Tell whether the client of this long poll still waits for it."""
        return self.connection is None or self.connection.connected()


Handler = Callable[[Any, Connection | None], Any]


class EmulatorState:
    """Chats, messages, updates and injected faults, behind one lock and condition."""

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_name: str = DEFAULT_BOT_NAME,
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.bot_name = bot_name
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stop_event = threading.Event()
        self._reset_state()

    def _reset_state(self) -> None:
        """Forget everything: chats, messages, updates, faults."""
        self._seq = 0
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._updates: list[JSON] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poller: Poller | None = None
        self._message_ids: dict[int, int] = {}
        self._messages: list[SentMessage] = []
        self._by_key: dict[tuple[int, int], SentMessage] = {}
        self._inline: dict[str, SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._documents: list[SentDocument] = []
        self._files: dict[str, StoredFile] = {}
        self._files_by_path: dict[str, StoredFile] = {}
        self._callback_answers: list[CallbackAnswer] = []
        self._open_callbacks: set[str] = set()
        self._requests: list[RequestRecord] = []
        self._chats: dict[int, ChatInfo] = {}
        self._users: dict[int, str | None] = {}
        # Each user's app language (language_code in updates); "en" unless set.
        self.user_languages: dict[int, str] = {}
        self._members: dict[tuple[int, int], str] = {}
        self._commands: dict[tuple[str, str], list[JSON]] = {}
        self._webhook_url = ""
        self._webhook_secret: str | None = None
        self._blocked: dict[int, str] = {}
        self._not_found: set[int] = set()
        self._migrated: dict[int, int] = {}
        self._rate_limits: list[list[Any]] = []  # [chat_id | None, retry_after, times left]
        self._failures: dict[str, list[int]] = {}  # method -> [status, times left]
        self._delays: dict[str, float] = {}
        self._flood: FloodControl | None = None
        self._throttled = 0
        self.last_update_id = 0

    @property
    def bot_user(self) -> JSON:
        """Return the bot's User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.bot_name,
            "username": self.bot_username,
        }

    def _register_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> ChatInfo:
        info = self._chats.get(chat_id)
        if info is None:
            info = ChatInfo(chat_id=chat_id, type=chat_type or self._guess_type(chat_id))
            self._chats[chat_id] = info
        elif chat_type:
            info.type = chat_type
        if title:
            info.title = title
        if username:
            info.username = username
        info.is_forum = info.is_forum or is_forum
        return info

    @staticmethod
    def _guess_type(chat_id: int) -> str:
        if chat_id > 0:
            return "private"
        return "supergroup" if str(chat_id).startswith("-100") else "group"

    def _chat_json(self, chat_id: int) -> JSON:
        info = self._chats.get(chat_id) or ChatInfo(chat_id, self._guess_type(chat_id))
        chat: JSON = {"id": chat_id, "type": info.type}
        if info.type == "private":
            chat["first_name"] = f"User {chat_id}"
            username = info.username or self._users.get(chat_id)
            if username:
                chat["username"] = username
        else:
            chat["title"] = info.title or f"Chat {chat_id}"
            if info.username:
                chat["username"] = info.username
            if info.is_forum:
                chat["is_forum"] = True
        return chat

    def _forbidden_reason(self, chat_id: int) -> str:
        info = self._chats.get(chat_id)
        chat_type = info.type if info else self._guess_type(chat_id)
        return {
            "private": "Forbidden: bot was blocked by the user",
            "group": "Forbidden: bot was kicked from the group chat",
            "supergroup": "Forbidden: bot was kicked from the supergroup chat",
            "channel": "Forbidden: bot is not a member of the channel chat",
        }.get(chat_type, "Forbidden: bot was blocked by the user")

    def _default_user(self, chat_id: int, chat_type: str) -> int:
        return chat_id if chat_type == "private" else DEFAULT_GROUP_USER_ID

    def _next_message_id(self, chat_id: int) -> int:
        message_id = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = message_id
        return message_id

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _store_file(self, content: bytes, *, file_name: str, folder: str) -> StoredFile:
        number = next(self._file_ids)
        suffix = file_name.rsplit(".", 1)[1] if "." in file_name else "bin"
        stored = StoredFile(
            file_id=f"BQACAgIAAxkBAAI{number:06d}",
            file_unique_id=f"AgAD{number:06d}",
            file_path=f"{folder}/file_{number}.{suffix}",
            content=content,
        )
        self._files[stored.file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return stored

    def _incoming_message(
        self,
        *,
        chat_id: int,
        user_id: int | None,
        chat_type: str,
        chat_title: str | None,
        username: str | None,
        message_thread_id: int | None,
        is_topic_message: bool,
        reply_to_message_id: int | None,
    ) -> JSON:
        info = self._register_chat(
            chat_id,
            chat_type=chat_type,
            title=chat_title,
            username=username if chat_type == "private" else None,
            is_forum=is_topic_message,
        )
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": self._chat_json(chat_id),
        }
        if info.type == "channel":
            message["sender_chat"] = self._chat_json(chat_id)
        else:
            sender = user_id if user_id is not None else self._default_user(chat_id, info.type)
            self._users[sender] = username or self._users.get(sender)
            message["from"] = user_json(
                sender, self._users[sender], self.user_languages.get(sender, "en")
            )
        if message_thread_id is not None:
            message["message_thread_id"] = message_thread_id
        if is_topic_message:
            message["is_topic_message"] = True
        if reply_to_message_id is not None:
            replied = self._replied_json(chat_id, reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = replied
        self._user_messages[(chat_id, message["message_id"])] = message
        return message

    def _replied_json(self, chat_id: int, message_id: int) -> JSON | None:
        sent = self._by_key.get((chat_id, message_id))
        if sent is not None:
            return self._message_json(sent)
        return self._user_messages.get((chat_id, message_id))

    def _queue_update(self, body: JSON) -> int:
        update_id = next(self._update_ids)
        self.last_update_id = update_id
        self._updates.append({"update_id": update_id, **body})
        self._cond.notify_all()
        return update_id

    def _message_json(self, sent: SentMessage) -> JSON:
        message: JSON = {
            "message_id": sent.message_id,
            "from": self.bot_user,
            "date": int(sent.date.timestamp()),
            "chat": self._chat_json(sent.chat_id),
            "text": sent.plain,
        }
        if sent.entities:
            message["entities"] = copy.deepcopy(sent.entities)
        if sent.reply_markup and "inline_keyboard" in sent.reply_markup:
            message["reply_markup"] = copy.deepcopy(sent.reply_markup)
        if sent.message_thread_id is not None:
            message["message_thread_id"] = sent.message_thread_id
        if sent.edits:
            message["edit_date"] = int(sent.edits[-1].date.timestamp())
        if sent.link_preview_disabled:
            message["link_preview_options"] = {"is_disabled": True}
        if sent.reply_to_message_id is not None:
            replied = self._replied_json(sent.chat_id, sent.reply_to_message_id)
            if replied is not None:
                message["reply_to_message"] = {
                    k: v for k, v in replied.items() if k != "reply_to_message"
                }
        return message
