"""What the emulator records: the calls it answered, the messages, edits, documents and
button answers the bot sent, and the chats and files it knows."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

JSON = dict[str, Any]


def now() -> datetime:
    """Return the time as Telegram stamps messages: UTC, whole seconds."""
    return datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class UploadedFile:
    """A file part of a multipart request."""

    filename: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class RequestRecord:
    """One Bot API call as the server saw it."""

    method: str
    params: JSON
    status: int
    at: datetime


@dataclass
class MessageEdit:
    """The state of a message after one edit."""

    chat_id: int
    message_id: int
    method: str
    text: str
    plain: str
    parse_mode: str | None
    reply_markup: JSON | None
    links: list[str]
    date: datetime
    seq: int = 0


@dataclass
class SentMessage:
    """A message the bot sent; text/plain/reply_markup show its latest state."""

    chat_id: int
    message_id: int
    text: str
    plain: str
    parse_mode: str | None
    reply_markup: JSON | None
    links: list[str]
    message_thread_id: int | None
    method: str
    date: datetime
    entities: list[JSON] = field(default_factory=list)
    edits: list[MessageEdit] = field(default_factory=list)
    deleted: bool = False
    link_preview_disabled: bool = False
    silent: bool = False  # sent with disable_notification
    reply_to_message_id: int | None = None
    allow_paid_broadcast: bool = False
    seq: int = 0

    @property
    def buttons(self) -> list[list[JSON]]:
        """Return the inline keyboard rows, or [] when there is none."""
        if not self.reply_markup:
            return []
        rows = self.reply_markup.get("inline_keyboard", [])
        return [list(row) for row in rows]


@dataclass
class SentDocument:
    """A document the bot sent."""

    chat_id: int
    message_id: int
    filename: str
    content: bytes
    mime_type: str
    caption: str | None
    caption_plain: str | None
    parse_mode: str | None
    message_thread_id: int | None
    date: datetime
    file_id: str
    seq: int = 0


@dataclass(frozen=True)
class CallbackAnswer:
    """An answerCallbackQuery call."""

    callback_query_id: str
    text: str | None
    show_alert: bool
    url: str | None
    cache_time: int | None


@dataclass
class ChatInfo:
    """A chat the emulator knows."""

    chat_id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False


@dataclass
class StoredFile:
    """A file getFile can serve."""

    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes
