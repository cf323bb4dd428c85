"""What people do, turned into updates: messages, documents, button presses, and the bot
being added to or removed from chats."""

from __future__ import annotations

import copy
import re
import time
from typing import Any

from bot.emulator.html import utf16_len
from bot.emulator.objects import MEMBER_STATUSES, member_json, user_json
from bot.emulator.state import EmulatorState

JSON = dict[str, Any]

# Telegram marks a leading "/command" (or "/command@botname") as a bot_command entity.
COMMAND = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{1,64})?")


def command_entities(text: str) -> list[JSON]:
    """Return the bot_command entity Telegram attaches to a message starting with a command."""
    match = COMMAND.match(text)
    if match is None:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(match.group(0))}]


class Conversation(EmulatorState):
    """Queue updates as if people wrote, sent files and pressed buttons."""

    def send_message_update(
        self,
        *,
        chat_id: int,
        text: str,
        user_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        message_thread_id: int | None = None,
        is_topic_message: bool = False,
        username: str | None = None,
        reply_to_message_id: int | None = None,
    ) -> int:
        """Queue an incoming text message (a channel_post for channels); return the update id."""
        with self._cond:
            message = self._incoming_message(
                chat_id=chat_id,
                user_id=user_id,
                chat_type=chat_type,
                chat_title=chat_title,
                username=username,
                message_thread_id=message_thread_id,
                is_topic_message=is_topic_message,
                reply_to_message_id=reply_to_message_id,
            )
            message["text"] = text
            entities = command_entities(text)
            if entities:
                message["entities"] = entities
            key = "channel_post" if chat_type == "channel" else "message"
            return self._queue_update({key: message})

    def send_document_update(
        self,
        *,
        chat_id: int,
        content: bytes,
        file_name: str = "document.txt",
        mime_type: str = "text/plain",
        caption: str | None = None,
        user_id: int | None = None,
        chat_type: str = "private",
        chat_title: str | None = None,
        username: str | None = None,
        reply_to_message_id: int | None = None,
        message_thread_id: int | None = None,
    ) -> int:
        """Queue an incoming message carrying a document whose bytes getFile can serve."""
        with self._cond:
            stored = self._store_file(content, file_name=file_name, folder="documents")
            message = self._incoming_message(
                chat_id=chat_id,
                user_id=user_id,
                chat_type=chat_type,
                chat_title=chat_title,
                username=username,
                message_thread_id=message_thread_id,
                is_topic_message=message_thread_id is not None,
                reply_to_message_id=reply_to_message_id,
            )
            message["document"] = {
                "file_id": stored.file_id,
                "file_unique_id": stored.file_unique_id,
                "file_name": file_name,
                "mime_type": mime_type,
                "file_size": len(content),
            }
            if caption is not None:
                message["caption"] = caption
            key = "channel_post" if chat_type == "channel" else "message"
            return self._queue_update({key: message})

    def send_callback_update(
        self,
        *,
        chat_id: int,
        user_id: int,
        message_id: int,
        data: str,
        username: str | None = None,
    ) -> str:
        """Queue a button press on a bot message; return the callback query id."""
        with self._cond:
            self._users.setdefault(user_id, username)
            query_id = str(next(self._callback_ids))
            sent = self._by_key.get((chat_id, message_id))
            if sent is not None and not sent.deleted:
                message = self._message_json(sent)
            else:
                # Telegram sends an InaccessibleMessage (date 0) for deleted or old messages.
                message = {"chat": self._chat_json(chat_id), "message_id": message_id, "date": 0}
            self._open_callbacks.add(query_id)
            self._queue_update(
                {
                    "callback_query": {
                        "id": query_id,
                        "from": user_json(
                            user_id, username, self.user_languages.get(user_id, "en")
                        ),
                        "message": message,
                        "chat_instance": str(abs(chat_id) * 7 + 11),
                        "data": data,
                    }
                }
            )
            return query_id

    def send_my_chat_member_update(
        self,
        *,
        chat_id: int,
        new_status: str = "kicked",
        old_status: str = "member",
        user_id: int | None = None,
        chat_type: str | None = None,
        chat_title: str | None = None,
    ) -> int:
        """Queue a my_chat_member update; "kicked"/"left" also make later sends fail with 403."""
        if new_status not in MEMBER_STATUSES or old_status not in MEMBER_STATUSES:
            raise ValueError("unsupported member status")
        with self._cond:
            info = self._register_chat(chat_id, chat_type=chat_type, title=chat_title)
            actor = user_id if user_id is not None else self._default_user(chat_id, info.type)
            if new_status in {"kicked", "left"}:
                self._blocked[chat_id] = self._forbidden_reason(chat_id)
            else:
                self._blocked.pop(chat_id, None)
                self._members[(chat_id, self.bot_id)] = new_status
            return self._queue_update(
                {
                    "my_chat_member": {
                        "chat": self._chat_json(chat_id),
                        "from": user_json(actor, self._users.get(actor)),
                        "date": int(time.time()),
                        "old_chat_member": member_json(self.bot_user, old_status),
                        "new_chat_member": member_json(self.bot_user, new_status),
                    }
                }
            )

    @property
    def is_polling(self) -> bool:
        """Tell whether a getUpdates long poll is waiting right now."""
        with self._lock:
            return self._poller is not None

    def pending_updates(self) -> list[JSON]:
        """Return the queued, unconfirmed updates."""
        with self._lock:
            return copy.deepcopy(self._updates)
