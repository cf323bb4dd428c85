"""A stand-in Telegram Bot API server for end-to-end tests.

`FakeTelegram` listens on 127.0.0.1 and answers like api.telegram.org closely enough that the
real python-telegram-bot stack (HTTPXRequest, long polling, JobQueue) runs against it
unchanged. It validates what Telegram validates (HTML entities, text length, button data),
injects the errors a bot must survive (403, 429, migrations, 5xx, slow answers) and records
everything the bot sent so tests can assert on it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

T = TypeVar("T")
JSON = dict[str, Any]

# Bot API limits (https://core.telegram.org/bots/api#sendmessage, #inlinekeyboardbutton,
# #getfile): texts count UTF-16 code units after entity parsing.
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024
MAX_UPDATES_LIMIT = 100
CLIENT_CLOSED = 499

DEFAULT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw-"
DEFAULT_BOT_USERNAME = "newsbot_test_bot"
DEFAULT_GROUP_USER_ID = 700_001

CONFLICT_POLLING = (
    "Conflict: terminated by other getUpdates request; "
    "make sure that only one bot instance is running"
)
CONFLICT_WEBHOOK = (
    "Conflict: can't use getUpdates method while webhook is active; "
    "use deleteWebhook to delete the webhook first"
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)

SEND_METHODS = frozenset({"sendMessage", "sendDocument"})
CHAT_WRITE_METHODS = SEND_METHODS | {"editMessageText", "editMessageReplyMarkup", "deleteMessage"}
# Telegram's default when allowed_updates is empty or was never set.
OPT_IN_UPDATES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})
MEMBER_STATUSES = frozenset({"creator", "administrator", "member", "left", "kicked"})


# ---------------------------------------------------------------------------------------------
# HTML parse mode (https://core.telegram.org/bots/api#html-style)
# ---------------------------------------------------------------------------------------------

ALLOWED_TAGS = frozenset(
    {
        "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler",
        "a", "tg-emoji", "code", "pre", "blockquote",
    }
)  # fmt: skip
_ENTITY_TYPES = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "a": "text_link",
    "tg-emoji": "custom_emoji",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPECIAL = re.compile(r"[<>&]")
_ENTITY = re.compile(r"&(?:#(\d{1,7})|#[xX]([0-9a-fA-F]{1,6})|([a-zA-Z][a-zA-Z0-9]{0,31}));")


class EntityParseError(ValueError):
    """Text in HTML parse mode is not valid Telegram HTML."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ParsedText:
    """Visible text, its entities (UTF-16 offsets) and the links of `<a href>` tags."""

    plain: str
    entities: tuple[JSON, ...]
    links: tuple[str, ...]


@dataclass
class _OpenTag:
    name: str
    attrs: dict[str, str]
    start: int  # UTF-16 offset in the visible text


def utf16_len(text: str) -> int:
    """Return the length of text in UTF-16 code units, as Telegram counts it."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _decode_entity(text: str, index: int, *, strict: bool) -> tuple[str, int] | None:
    """Decode the character reference at text[index] ('&'); return (char, end index)."""
    match = _ENTITY.match(text, index)
    if match is not None:
        decimal, hexadecimal, name = match.groups()
        if name is not None:
            if name in _NAMED_ENTITIES:
                return _NAMED_ENTITIES[name], match.end()
            if strict:
                raise EntityParseError(
                    f'Unsupported HTML entity "{match.group(0)}" '
                    f"at byte offset {_byte_offset(text, index)}"
                )
            return None
        code = int(decimal) if decimal is not None else int(hexadecimal, 16)
        if 0 < code <= 0x10FFFF and not 0xD800 <= code <= 0xDFFF:
            return chr(code), match.end()
    if strict:
        raise EntityParseError(
            f'Character "&" at byte offset {_byte_offset(text, index)} must be escaped as "&amp;"'
        )
    return None


def _scan_name(text: str, index: int) -> int:
    while index < len(text) and not text[index].isspace() and text[index] != ">":
        index += 1
    return index


def _skip_spaces(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _parse_attributes(text: str, index: int, *, tag: str, begin: int) -> tuple[dict[str, str], int]:
    """Parse attributes after a start tag name; return them and the index after '>'."""
    attrs: dict[str, str] = {}
    unclosed = f"Unclosed start tag at byte offset {_byte_offset(text, begin)}"
    while True:
        index = _skip_spaces(text, index)
        if index >= len(text):
            raise EntityParseError(unclosed)
        if text[index] == ">":
            return attrs, index + 1
        name_start = index
        while index < len(text) and not text[index].isspace() and text[index] not in "=>":
            index += 1
        name = text[name_start:index].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" '
                f"at byte offset {_byte_offset(text, name_start)}"
            )
        index = _skip_spaces(text, index)
        if index >= len(text) or text[index] != "=":
            if tag == "blockquote" and name == "expandable":
                attrs[name] = ""
                continue
            raise EntityParseError(
                "Expected equal sign in declaration of an attribute of the tag "
                f'"{tag}" at byte offset {_byte_offset(text, begin)}'
            )
        index = _skip_spaces(text, index + 1)
        if index >= len(text):
            raise EntityParseError(unclosed)
        value_chars: list[str] = []
        quote = text[index]
        if quote in "\"'":
            index += 1
            while index < len(text) and text[index] != quote:
                # Telegram keeps an '&' that starts no entity inside attribute values.
                decoded = _decode_entity(text, index, strict=False) if text[index] == "&" else None
                if decoded is None:
                    value_chars.append(text[index])
                    index += 1
                else:
                    value_chars.append(decoded[0])
                    index = decoded[1]
            if index >= len(text):
                raise EntityParseError(unclosed)
            index += 1
        else:
            while index < len(text) and not text[index].isspace() and text[index] != ">":
                value_chars.append(text[index])
                index += 1
        attrs[name] = "".join(value_chars)


def _check_tag(name: str, attrs: dict[str, str]) -> None:
    if name == "span" and attrs.get("class") != "tg-spoiler":
        raise EntityParseError('Tag "span" must have class "tg-spoiler"')
    if name == "a" and not attrs.get("href"):
        raise EntityParseError('Tag "a" must have attribute "href"')
    if name == "tg-emoji" and not attrs.get("emoji-id"):
        raise EntityParseError('Tag "tg-emoji" must have attribute "emoji-id"')


def _entity_for(tag: _OpenTag, end: int) -> JSON:
    entity: JSON = {"type": _ENTITY_TYPES[tag.name], "offset": tag.start, "length": end - tag.start}
    if tag.name == "a":
        entity["url"] = tag.attrs["href"]
    elif tag.name == "tg-emoji":
        entity["custom_emoji_id"] = tag.attrs["emoji-id"]
    elif tag.name == "code" and tag.attrs.get("class", "").startswith("language-"):
        entity["language"] = tag.attrs["class"].removeprefix("language-")
    elif tag.name == "blockquote" and "expandable" in tag.attrs:
        entity["type"] = "expandable_blockquote"
    return entity


def parse_html(text: str) -> ParsedText:
    """Parse Telegram's HTML subset; raise EntityParseError with Telegram's reason.

    Stricter than Telegram on purpose, so escaping bugs surface: a bare '&' or '>' and unknown
    named entities are rejected (the Bot API docs require them escaped; Telegram tolerates
    them), and `<a>` needs an href.
    """
    out: list[str] = []
    utf16 = 0
    stack: list[_OpenTag] = []
    entities: list[JSON] = []
    links: list[str] = []
    index = 0
    while index < len(text):
        special = _SPECIAL.search(text, index)
        stop = special.start() if special else len(text)
        if stop > index:
            chunk = text[index:stop]
            out.append(chunk)
            utf16 += utf16_len(chunk)
            index = stop
            continue
        char = text[index]
        if char == "&":
            decoded = _decode_entity(text, index, strict=True)
            assert decoded is not None  # strict decoding raises instead
            out.append(decoded[0])
            utf16 += utf16_len(decoded[0])
            index = decoded[1]
            continue
        if char == ">":
            raise EntityParseError(
                f'Character ">" at byte offset {_byte_offset(text, index)} '
                'must be escaped as "&gt;"'
            )
        begin = index
        if index + 1 < len(text) and text[index + 1] == "/":
            if not stack:
                raise EntityParseError(
                    f"Unexpected end tag at byte offset {_byte_offset(text, begin)}"
                )
            name_end = _scan_name(text, index + 2)
            end_name = text[index + 2 : name_end].lower()
            index = _skip_spaces(text, name_end)
            if index >= len(text) or text[index] != ">":
                raise EntityParseError(
                    f"Unclosed end tag at byte offset {_byte_offset(text, begin)}"
                )
            open_tag = stack.pop()
            if end_name and end_name != open_tag.name:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {_byte_offset(text, begin)}, "
                    f'expected "</{open_tag.name}>", found "</{end_name}>"'
                )
            index += 1
            if utf16 > open_tag.start:
                entities.append(_entity_for(open_tag, utf16))
            if open_tag.name == "a":
                links.append(open_tag.attrs["href"])
            continue
        name_end = _scan_name(text, index + 1)
        if name_end >= len(text):
            raise EntityParseError(f"Unclosed start tag at byte offset {_byte_offset(text, begin)}")
        name = text[index + 1 : name_end].lower()
        if name not in ALLOWED_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, begin)}'
            )
        attrs, index = _parse_attributes(text, name_end, tag=name, begin=begin)
        _check_tag(name, attrs)
        stack.append(_OpenTag(name=name, attrs=attrs, start=utf16))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    entities.sort(key=lambda entity: (entity["offset"], -entity["length"]))
    return ParsedText(plain="".join(out), entities=tuple(entities), links=tuple(links))


# ---------------------------------------------------------------------------------------------
# Records
# ---------------------------------------------------------------------------------------------


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
class _ChatInfo:
    chat_id: int
    type: str
    title: str | None = None
    username: str | None = None
    is_forum: bool = False


@dataclass
class _StoredFile:
    file_id: str
    file_unique_id: str
    file_path: str
    content: bytes


@dataclass
class _Poller:
    sock: socket.socket | None
    terminated: bool = False

    def connected(self) -> bool:
        """Tell whether the client of this long poll still holds its connection open."""
        if self.sock is None:
            return True
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except (OSError, ValueError):
            return False


class ApiError(Exception):
    """An error answer of the Bot API."""

    def __init__(self, status: int, description: str, parameters: JSON | None = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters


def _bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


def _too_many_requests(retry_after: int) -> ApiError:
    return ApiError(
        429, f"Too Many Requests: retry after {retry_after}", {"retry_after": retry_after}
    )


# ---------------------------------------------------------------------------------------------
# Flood control (Bot FAQ, "My bot is hitting limits, how do I avoid this?")
# ---------------------------------------------------------------------------------------------


@dataclass
class _Bucket:
    capacity: float
    rate: float  # tokens per second
    tokens: float
    stamp: float

    def wait(self, now: float) -> float:
        """Refill and return seconds until one token is available."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate


@dataclass
class _FloodControl:
    per_chat_per_second: float
    per_group_per_minute: float
    global_per_second: float
    burst: float
    paid_per_second: float
    chats: dict[int, _Bucket] = field(default_factory=dict)
    groups: dict[int, _Bucket] = field(default_factory=dict)
    buckets: dict[bool, _Bucket] = field(default_factory=dict)  # keyed by paid

    @staticmethod
    def _bucket(
        store: dict[Any, _Bucket], key: Any, *, capacity: float, rate: float, now: float
    ) -> _Bucket:
        bucket = store.get(key)
        if bucket is None:
            bucket = _Bucket(capacity=capacity, rate=rate, tokens=capacity, stamp=now)
            store[key] = bucket
        return bucket

    def acquire(self, chat_id: int, *, paid: bool) -> int | None:
        """Take a token from each bucket the send uses; return retry_after when one is empty."""
        now = time.monotonic()
        chat = (self.burst, self.per_chat_per_second)
        bulk = (self.paid_per_second,) * 2 if paid else (self.global_per_second,) * 2
        buckets = [
            self._bucket(self.chats, chat_id, capacity=chat[0], rate=chat[1], now=now),
            self._bucket(self.buckets, paid, capacity=bulk[0], rate=bulk[1], now=now),
        ]
        if chat_id < 0:
            per_minute = self.per_group_per_minute
            buckets.append(
                self._bucket(
                    self.groups, chat_id, capacity=per_minute, rate=per_minute / 60, now=now
                )
            )
        wait = max(bucket.wait(now) for bucket in buckets)
        if wait > 0:
            return max(1, math.ceil(wait))
        for bucket in buckets:
            bucket.tokens -= 1
        return None


# ---------------------------------------------------------------------------------------------
# Request parameters
# ---------------------------------------------------------------------------------------------


class _Params:
    """Typed access to Bot API parameters sent as JSON, form fields or multipart parts."""

    def __init__(self, raw: JSON, files: dict[str, UploadedFile]) -> None:
        self.raw = raw
        self.files = files

    def present(self, name: str) -> bool:
        value = self.raw.get(name)
        return value is not None and value != ""

    def text(self, name: str, *, required: bool = False, missing: str | None = None) -> str | None:
        if not self.present(name):
            if required:
                raise _bad_request(missing or f"{name} is empty")
            return None
        value = self.raw[name]
        return value if isinstance(value, str) else json.dumps(value)

    def integer(
        self, name: str, *, required: bool = False, missing: str | None = None
    ) -> int | None:
        if not self.present(name):
            if required:
                raise _bad_request(missing or f"{name} is empty")
            return None
        value = self.raw[name]
        try:
            return int(value)
        except (TypeError, ValueError):
            raise _bad_request(f"invalid {name} specified") from None

    def flag(self, name: str) -> bool:
        value = self.raw.get(name)
        if isinstance(value, str):
            return value.lower() in {"true", "1"}
        return bool(value)

    def structured(self, name: str, *, error: str | None = None) -> Any:
        if not self.present(name):
            return None
        value = self.raw[name]
        if not isinstance(value, str):
            return value
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise _bad_request(error or f"can't parse {name} JSON object") from None


_INT_FIELDS = frozenset(
    {
        "chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout", "user_id",
        "reply_to_message_id", "cache_time", "max_connections",
    }
)  # fmt: skip
_JSON_FIELDS = frozenset(
    {
        "reply_markup", "reply_parameters", "link_preview_options", "allowed_updates",
        "commands", "scope", "entities", "caption_entities",
    }
)  # fmt: skip
_BOOL_FIELDS = frozenset(
    {
        "disable_web_page_preview", "disable_notification", "protect_content", "show_alert",
        "allow_paid_broadcast", "drop_pending_updates", "allow_sending_without_reply",
    }
)  # fmt: skip


def _normalize(params: JSON) -> JSON:
    """Decode form-encoded values of well-known fields, so the log reads like JSON input."""
    normal: JSON = {}
    for key, value in params.items():
        if isinstance(value, str):
            try:
                if key in _INT_FIELDS and re.fullmatch(r"-?\d+", value):
                    value = int(value)
                elif key in _JSON_FIELDS:
                    value = json.loads(value)
                elif key in _BOOL_FIELDS and value in {"true", "false"}:
                    value = value == "true"
            except json.JSONDecodeError:
                pass
        normal[key] = value
    return normal


def _parse_multipart(body: bytes, content_type: str) -> tuple[JSON, dict[str, UploadedFile]]:
    """Split a multipart/form-data body into fields and files, byte-exact."""
    match = re.search(r'boundary="?([^";]+)"?', content_type)
    if match is None:
        raise _bad_request("invalid multipart body")
    delimiter = b"--" + match.group(1).encode("latin-1")
    fields: JSON = {}
    files: dict[str, UploadedFile] = {}
    for part in body.split(delimiter)[1:]:
        if part.startswith(b"--"):
            break
        head, _, content = part.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = head.decode("utf-8", "replace")
        name = re.search(r'\bname="([^"]*)"', headers)
        if name is None:
            continue
        filename = re.search(r'\bfilename="([^"]*)"', headers)
        ctype = re.search(r"(?im)^content-type:\s*(\S+)", headers)
        if filename is None:
            fields[name.group(1)] = content.decode("utf-8")
        else:
            files[name.group(1)] = UploadedFile(
                filename=unquote(filename.group(1)),
                content=content,
                content_type=ctype.group(1) if ctype else "application/octet-stream",
            )
    return fields, files


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _user_json(user_id: int, username: str | None = None) -> JSON:
    user: JSON = {
        "id": user_id,
        "is_bot": False,
        "first_name": f"User {user_id}",
        "language_code": "en",
    }
    if username:
        user["username"] = username
    return user


def _member_json(user: JSON, status: str) -> JSON:
    member: JSON = {"status": status, "user": user}
    if status == "creator":
        member["is_anonymous"] = False
    elif status == "administrator":
        member.update(
            can_be_edited=False,
            is_anonymous=False,
            can_manage_chat=True,
            can_delete_messages=True,
            can_manage_video_chats=True,
            can_restrict_members=True,
            can_promote_members=False,
            can_change_info=True,
            can_invite_users=True,
            can_post_stories=False,
            can_edit_stories=False,
            can_delete_stories=False,
            can_post_messages=True,
            can_edit_messages=True,
            can_pin_messages=True,
        )
    elif status == "kicked":
        member["until_date"] = 0
    return member


def _check_reply_markup(markup: Any) -> JSON | None:
    """Validate an inline keyboard like Telegram does; return the markup to record."""
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise _bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= 64:
                raise _bad_request("BUTTON_DATA_INVALID")
            url = button.get("url")
            if url is not None and not re.match(r"(?i)(https?|tg)://\S+$", str(url)):
                raise _bad_request("BUTTON_URL_INVALID")
    return markup


# ---------------------------------------------------------------------------------------------
# HTTP plumbing
# ---------------------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024
    owner: FakeTelegram


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle's algorithm
        # and the client's delayed ACK would add about 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet; the request log holds what tests need."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        owner = self.server.owner
        if owner._outage is not None:
            # Outage: the request is not acted on; the connection just ends without an answer
            # (at once for "drop", when the client gives up or the outage ends for "hang").
            owner._note_outage_hit(self.path)
            if owner._outage == "hang":
                owner._hang(self.connection)
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        with owner._lock:
            owner._busy += 1
        try:
            self._answer()
        finally:
            with owner._lock:
                owner._busy -= 1

    def _answer(self) -> None:
        body = self._read_body()
        status, payload, content_type = self.server.owner._dispatch_http(
            path=self.path,
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            sock=self.connection,
        )
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True


# ---------------------------------------------------------------------------------------------
# The fake
# ---------------------------------------------------------------------------------------------


class FakeTelegram:
    """A local Bot API server; use as a context manager or call start()/stop()."""

    _METHODS: ClassVar[tuple[str, ...]] = (
        "getMe", "logOut", "close", "deleteWebhook", "setWebhook", "getWebhookInfo",
        "setMyCommands", "getMyCommands", "deleteMyCommands", "getUpdates", "sendMessage",
        "editMessageText", "editMessageReplyMarkup", "deleteMessage", "answerCallbackQuery",
        "sendDocument", "getFile", "getChat", "getChatMember", "getChatAdministrators",
    )  # fmt: skip

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        host: str = "127.0.0.1",
    ) -> None:
        self.token = token
        self.bot_id = int(token.split(":", 1)[0])
        self.bot_username = bot_username
        self.host = host
        self.port = 0
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._stop_event = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._handlers: dict[str, Callable[[_Params, socket.socket | None], Any]] = {
            name.lower(): getattr(self, f"_api_{name}") for name in self._METHODS
        }
        self._canonical = {name.lower(): name for name in self._METHODS}
        self._reset_state()

    def _reset_state(self) -> None:
        self._seq = 0
        self._update_ids = itertools.count(1000)
        self._callback_ids = itertools.count(4_000_000_000_000_000_001)
        self._file_ids = itertools.count(1)
        self._updates: list[JSON] = []
        self._allowed_updates: frozenset[str] | None = None
        self._poller: _Poller | None = None
        self._message_ids: dict[int, int] = {}
        self._messages: list[SentMessage] = []
        self._by_key: dict[tuple[int, int], SentMessage] = {}
        self._inline: dict[str, SentMessage] = {}
        self._user_messages: dict[tuple[int, int], JSON] = {}
        self._documents: list[SentDocument] = []
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._callback_answers: list[CallbackAnswer] = []
        self._open_callbacks: set[str] = set()
        self._requests: list[RequestRecord] = []
        self._chats: dict[int, _ChatInfo] = {}
        self._users: dict[int, str | None] = {}
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
        self._flood: _FloodControl | None = None
        self._throttled = 0
        self._outage: str | None = None
        self._outage_hits: dict[str, int] = {}
        self._busy = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        """Bind a free port on 127.0.0.1 and serve in a background thread."""
        if self._server is not None:
            return self
        self._stop_event.clear()
        self._listen()
        return self

    def _listen(self) -> None:
        server = _Server((self.host, self.port), _Handler)
        server.owner = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"fake-telegram-{self.port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving; pending long polls and delays end at once."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stop_event.set()
        with self._cond:
            self._cond.notify_all()
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTelegram:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    @property
    def base_url(self) -> str:
        """Return the Bot API base URL for ApplicationBuilder().base_url()."""
        return f"http://{self.host}:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        """Return the file download base URL for ApplicationBuilder().base_file_url()."""
        return f"http://{self.host}:{self.port}/file/bot"

    @property
    def api_url(self) -> str:
        """Return base_url with the token, the prefix of every method URL."""
        return f"{self.base_url}{self.token}"

    @property
    def bot_user(self) -> JSON:
        """Return the bot's User object."""
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Newsbot Test",
            "username": self.bot_username,
        }

    # -- fault injection --------------------------------------------------------------------

    def block(self, chat_id: int, *, description: str | None = None) -> None:
        """Answer further writes to chat_id with 403, as when the user blocked the bot."""
        with self._lock:
            self._blocked[chat_id] = description or self._forbidden_reason(chat_id)

    def unblock(self, chat_id: int) -> None:
        """Let writes to chat_id through again."""
        with self._lock:
            self._blocked.pop(chat_id, None)

    def chat_not_found(self, chat_id: int) -> None:
        """Answer requests about chat_id with 400 "chat not found"."""
        with self._lock:
            self._not_found.add(chat_id)

    def migrate(self, chat_id: int, new_chat_id: int) -> None:
        """Answer requests to chat_id with 400 carrying migrate_to_chat_id."""
        with self._lock:
            self._migrated[chat_id] = new_chat_id
            old = self._chats.get(chat_id)
            title = old.title if old else None
            self._chats.setdefault(
                new_chat_id, _ChatInfo(chat_id=new_chat_id, type="supergroup", title=title)
            )

    def rate_limit(
        self, chat_id: int | None = None, *, retry_after: int = 1, times: int = 1
    ) -> None:
        """Answer the next `times` sends (to chat_id, or any chat) with 429."""
        with self._lock:
            self._rate_limits.append([chat_id, retry_after, times])

    def fail_next(self, method: str, status: int = 500, times: int = 1) -> None:
        """Answer the next `times` calls of method with an HTTP 5xx error."""
        with self._lock:
            self._failures[method.lower()] = [status, times]

    def set_delay(self, method: str, seconds: float) -> None:
        """Sleep before answering method (0 removes the delay); stop() interrupts it."""
        with self._lock:
            if seconds > 0:
                self._delays[method.lower()] = seconds
            else:
                self._delays.pop(method.lower(), None)

    def enforce_limits(
        self,
        *,
        per_chat_per_second: float = 1,
        per_group_per_minute: float = 20,
        global_per_second: float = 30,
        burst: float = 5,
        paid_per_second: float = 1000,
    ) -> None:
        """Answer sends and edits beyond Telegram's flood limits with 429.

        Token buckets: one per chat (a burst of `burst`, then `per_chat_per_second`), one
        per group or channel (20/minute) and one global (30/s, or 1000/s for
        allow_paid_broadcast sends). The defaults are Telegram's: short bursts of about 5
        messages to one chat are let through, then about one a second.
        """
        with self._lock:
            self._flood = _FloodControl(
                per_chat_per_second=per_chat_per_second,
                per_group_per_minute=per_group_per_minute,
                global_per_second=global_per_second,
                burst=burst,
                paid_per_second=paid_per_second,
            )

    def outage(self, mode: str | None) -> int:
        """Start an outage or end it (None); return the requests in flight at that moment
        (read, not yet answered). Requests during an outage are not acted on.

        "drop": the server stops listening (new connections are refused) and open connections
        are cut. "hang": requests get no answer until the client gives up or the outage ends.
        """
        if mode not in (None, "drop", "hang"):
            raise ValueError(f"unknown outage mode {mode!r}")
        previous = self._outage
        if mode == "drop" and previous != "drop":
            # Stop listening first, so that new connections are refused rather than cut.
            server, thread = self._server, self._thread
            if server is not None:
                server.shutdown()
                server.server_close()
            if thread is not None:
                thread.join(timeout=5)
        with self._cond:
            self._outage = mode
            in_flight = self._busy
            self._cond.notify_all()
            connections = list(self._connections) if mode == "drop" else []
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if previous == "drop" and mode != "drop":
            self._listen()
        return in_flight

    def outage_hits(self, method: str | None = None) -> int:
        """Return how many requests (of `method`, or all) arrived during outages."""
        with self._lock:
            if method is None:
                return sum(self._outage_hits.values())
            return self._outage_hits.get(method, 0)

    def _note_outage_hit(self, path: str) -> None:
        method = urlsplit(path).path.rpartition("/")[2]
        with self._lock:
            self._outage_hits[method] = self._outage_hits.get(method, 0) + 1

    def _hang(self, sock: socket.socket) -> None:
        poller = _Poller(sock)
        with self._cond:
            while self._outage == "hang" and not self._stop_event.is_set() and poller.connected():
                self._cond.wait(0.1)

    def disable_limits(self) -> None:
        """Stop enforcing flood limits."""
        with self._lock:
            self._flood = None

    @property
    def too_many_requests(self) -> int:
        """Return how many 429 answers were given."""
        with self._lock:
            return self._throttled

    def set_member_status(self, chat_id: int, user_id: int, status: str) -> None:
        """Set what getChatMember answers for (chat_id, user_id)."""
        if status not in MEMBER_STATUSES:
            raise ValueError(f"unsupported member status {status!r}")
        with self._lock:
            self._members[(chat_id, user_id)] = status

    def add_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> None:
        """Register a chat so getChat and messages describe it."""
        with self._lock:
            self._register_chat(
                chat_id, chat_type=chat_type, title=title, username=username, is_forum=is_forum
            )

    def add_inline_message(self, inline_message_id: str, text: str) -> None:
        """Register an inline message that editMessageText can target."""
        with self._lock:
            self._inline[inline_message_id] = SentMessage(
                chat_id=0,
                message_id=0,
                text=text,
                plain=text,
                parse_mode=None,
                reply_markup=None,
                links=[],
                message_thread_id=None,
                method="inline",
                date=_now(),
            )

    # -- driving a conversation -------------------------------------------------------------

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
            if text.startswith("/"):
                command = text.split(maxsplit=1)[0]
                message["entities"] = [
                    {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
                ]
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
                        "from": _user_json(user_id, username),
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
                        "from": _user_json(actor, self._users.get(actor)),
                        "date": int(time.time()),
                        "old_chat_member": _member_json(self.bot_user, old_status),
                        "new_chat_member": _member_json(self.bot_user, new_status),
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

    # -- inspection -------------------------------------------------------------------------

    def messages(self, chat_id: int | None = None) -> list[SentMessage]:
        """Return copies of the messages the bot sent, oldest first."""
        with self._lock:
            chosen = [m for m in self._messages if chat_id is None or m.chat_id == chat_id]
            return copy.deepcopy(chosen)

    def edits(self, chat_id: int | None = None) -> list[MessageEdit]:
        """Return copies of all edits, in order."""
        with self._lock:
            found = [
                edit
                for message in [*self._messages, *self._inline.values()]
                for edit in message.edits
                if chat_id is None or edit.chat_id == chat_id
            ]
            return copy.deepcopy(sorted(found, key=lambda edit: edit.seq))

    def documents(self, chat_id: int | None = None) -> list[SentDocument]:
        """Return copies of the documents the bot sent, oldest first."""
        with self._lock:
            chosen = [d for d in self._documents if chat_id is None or d.chat_id == chat_id]
            return copy.deepcopy(chosen)

    def callback_answers(self) -> list[CallbackAnswer]:
        """Return the answerCallbackQuery calls, oldest first."""
        with self._lock:
            return list(self._callback_answers)

    def requests(self, method: str | None = None) -> list[RequestRecord]:
        """Return the log of Bot API calls (of one method, if given), oldest first."""
        with self._lock:
            return [r for r in self._requests if method is None or r.method == method]

    @property
    def webhook(self) -> tuple[str, str | None]:
        """Return the webhook URL and secret token last set."""
        with self._lock:
            return self._webhook_url, self._webhook_secret

    def commands(self, *, scope: JSON | None = None, language_code: str = "") -> list[JSON]:
        """Return the commands set for a scope and language."""
        with self._lock:
            return copy.deepcopy(self._commands.get(self._scope_key(scope, language_code), []))

    def mark(self) -> int:
        """Return a marker; wait_for_message(since=marker) ignores what came before it."""
        with self._lock:
            return self._seq

    # -- waiting ----------------------------------------------------------------------------

    def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 10.0, *, what: str = "condition"
    ) -> T:
        """Block until predicate() is truthy and return it; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                result = predicate()
                if result:
                    return result
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise AssertionError(
                        f"Timed out after {timeout:g}s waiting for {what}.\n{self.dump()}"
                    )
                self._cond.wait(remaining)

    def wait_for_message(
        self,
        chat_id: int | None = None,
        contains: str | None = None,
        *,
        timeout: float = 10.0,
        since: int | None = None,
    ) -> SentMessage:
        """Block until the bot sent a matching message (text or visible text contains)."""

        def find() -> SentMessage | None:
            for message in self._messages:
                if since is not None and message.seq <= since:
                    continue
                if chat_id is not None and message.chat_id != chat_id:
                    continue
                if contains is None or contains in message.plain or contains in message.text:
                    return copy.deepcopy(message)
            return None

        what = f"a message to chat {chat_id}" if chat_id is not None else "a message"
        if contains is not None:
            what += f" containing {contains!r}"
        return self.wait_for(find, timeout, what=what)

    async def await_message(
        self,
        chat_id: int | None = None,
        contains: str | None = None,
        *,
        # The wait runs in a worker thread, which asyncio.timeout could not stop.
        timeout: float = 10.0,  # noqa: ASYNC109
        since: int | None = None,
    ) -> SentMessage:
        """Wait for a message without blocking the running event loop."""
        return await asyncio.to_thread(
            self.wait_for_message, chat_id, contains, timeout=timeout, since=since
        )

    async def await_for(
        self,
        predicate: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 (the wait runs in a worker thread)
    ) -> T:
        """Wait for a predicate without blocking the running event loop."""
        return await asyncio.to_thread(self.wait_for, predicate, timeout)

    def dump(self, *, last: int = 20) -> str:
        """Describe recent messages and failed calls, for assertion messages."""
        with self._lock:
            lines = [f"Messages sent ({len(self._messages)}, last {last} shown):"]
            for message in self._messages[-last:]:
                state = " [deleted]" if message.deleted else ""
                lines.append(
                    f"  chat {message.chat_id} #{message.message_id}{state}: "
                    f"{message.plain[:200]!r}"
                )
            failures = [record for record in self._requests if record.status != 200]
            lines.append(f"Failed calls ({len(failures)}, last {last} shown):")
            lines.extend(
                f"  {record.method} -> {record.status} {_short(record.params)}"
                for record in failures[-last:]
            )
            lines.append(f"Pending updates: {len(self._updates)}")
            return "\n".join(lines)

    # -- HTTP dispatch ----------------------------------------------------------------------

    def _dispatch_http(
        self, *, path: str, body: bytes, content_type: str, sock: socket.socket | None
    ) -> tuple[int, bytes, str]:
        parts = urlsplit(path)
        if parts.path.startswith("/file/bot"):
            return self._serve_file(parts.path.removeprefix("/file/bot"))
        status, answer, method, params = self._call(parts, body, content_type, sock)
        if method is not None:
            with self._cond:
                if status == 429:
                    self._throttled += 1
                self._requests.append(
                    RequestRecord(method=method, params=params, status=status, at=_now())
                )
        payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        return status, payload, "application/json"

    def _call(
        self, parts: Any, body: bytes, content_type: str, sock: socket.socket | None
    ) -> tuple[int, JSON, str | None, JSON]:
        token, _, method_name = parts.path.removeprefix("/bot").partition("/")
        if not parts.path.startswith("/bot") or ":" not in token or "/" in method_name:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, None, {}
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}, None, {}
        handler = self._handlers.get(method_name.lower())
        if handler is None:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}, None, {}
        method = self._canonical[method_name.lower()]
        params: JSON = {}
        try:
            raw, files = self._decode_body(parts.query, body, content_type)
            params = {**_normalize(raw), **files}
            self._before_call(method)
            result = handler(_Params(raw, files), sock)
        except ApiError as error:
            answer: JSON = {
                "ok": False,
                "error_code": error.status,
                "description": error.description,
            }
            if error.parameters:
                answer["parameters"] = error.parameters
            return error.status, answer, method, params
        except Exception as error:
            # A bug in the fake must show up as a readable 500, not as a dropped connection.
            description = f"Internal Server Error: {type(error).__name__}: {error}"
            return 500, {"ok": False, "error_code": 500, "description": description}, method, params
        return 200, {"ok": True, "result": result}, method, params

    @staticmethod
    def _decode_body(
        query: str, body: bytes, content_type: str
    ) -> tuple[JSON, dict[str, UploadedFile]]:
        raw: JSON = {key: values[-1] for key, values in parse_qs(query).items()}
        files: dict[str, UploadedFile] = {}
        ctype = content_type.split(";", 1)[0].strip().lower()
        if not body:
            return raw, files
        if ctype == "application/json":
            try:
                decoded = json.loads(body)
            except (json.JSONDecodeError, UnicodeDecodeError):
                raise _bad_request("can't parse JSON") from None
            if not isinstance(decoded, dict):
                raise _bad_request("JSON object expected")
            raw.update(decoded)
        elif ctype == "multipart/form-data":
            fields, files = _parse_multipart(body, content_type)
            raw.update(fields)
        else:
            text = body.decode("utf-8", "replace")
            raw.update({k: v[-1] for k, v in parse_qs(text, keep_blank_values=True).items()})
        return raw, files

    def _before_call(self, method: str) -> None:
        key = method.lower()
        with self._lock:
            delay = self._delays.get(key, 0.0)
        if delay:
            self._stop_event.wait(delay)
        with self._lock:
            failure = self._failures.get(key)
            if failure is None:
                return
            status, times = failure
            if times <= 1:
                del self._failures[key]
            else:
                failure[1] = times - 1
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Internal Server Error"
        raise ApiError(status, phrase)

    def _serve_file(self, rest: str) -> tuple[int, bytes, str]:
        # PTB percent-encodes the whole path, so the token's ':' arrives as %3A.
        token, _, file_path = unquote(rest).partition("/")
        with self._lock:
            stored = self._files_by_path.get(file_path)
        if token != self.token or stored is None:
            return (
                404,
                b'{"ok":false,"error_code":404,"description":"Not Found"}',
                ("application/json"),
            )
        return 200, stored.content, "application/octet-stream"

    # -- shared helpers (call with the lock held) -------------------------------------------

    def _register_chat(
        self,
        chat_id: int,
        *,
        chat_type: str | None = None,
        title: str | None = None,
        username: str | None = None,
        is_forum: bool = False,
    ) -> _ChatInfo:
        info = self._chats.get(chat_id)
        if info is None:
            info = _ChatInfo(chat_id=chat_id, type=chat_type or self._guess_type(chat_id))
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
        info = self._chats.get(chat_id) or _ChatInfo(chat_id, self._guess_type(chat_id))
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

    def _store_file(self, content: bytes, *, file_name: str, folder: str) -> _StoredFile:
        number = next(self._file_ids)
        suffix = file_name.rsplit(".", 1)[1] if "." in file_name else "bin"
        stored = _StoredFile(
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
            message["from"] = _user_json(sender, self._users[sender])
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

    def _resolve_chat(self, params: _Params, method: str) -> int:
        raw = params.text("chat_id", required=True)
        assert raw is not None
        with self._lock:
            if raw.startswith("@"):
                found = [c.chat_id for c in self._chats.values() if c.username == raw[1:]]
                if not found:
                    raise _bad_request("chat not found")
                chat_id = found[0]
            else:
                try:
                    chat_id = int(raw)
                except ValueError:
                    raise _bad_request("chat not found") from None
            if chat_id in self._migrated:
                raise ApiError(
                    400,
                    "Bad Request: group chat was upgraded to a supergroup chat",
                    {"migrate_to_chat_id": self._migrated[chat_id]},
                )
            if chat_id in self._not_found:
                raise _bad_request("chat not found")
            if method in CHAT_WRITE_METHODS and chat_id in self._blocked:
                raise ApiError(403, self._blocked[chat_id])
            if method in SEND_METHODS:
                self._take_injected_rate_limit(chat_id)
        return chat_id

    def _take_injected_rate_limit(self, chat_id: int) -> None:
        for entry in self._rate_limits:
            target, retry_after, times = entry
            if target is None or target == chat_id:
                if times <= 1:
                    self._rate_limits.remove(entry)
                else:
                    entry[2] = times - 1
                raise _too_many_requests(retry_after)

    def _check_flood(self, chat_id: int, *, paid: bool) -> None:
        if self._flood is None:
            return
        retry_after = self._flood.acquire(chat_id, paid=paid)
        if retry_after is not None:
            raise _too_many_requests(retry_after)

    @staticmethod
    def _parse_text(
        text: str | None, parse_mode: str | None, *, limit: int, caption: bool = False
    ) -> ParsedText:
        """Validate a text or caption the way Telegram does and return its visible form."""
        what = "message caption" if caption else "message text"
        if text is None:
            if caption:
                return ParsedText(plain="", entities=(), links=())
            raise _bad_request(f"{what} is empty")
        mode = (parse_mode or "").lower()
        if mode == "html":
            try:
                parsed = parse_html(text)
            except EntityParseError as error:
                raise _bad_request(f"can't parse entities: {error.reason}") from None
        elif mode in {"", "markdown", "markdownv2"}:
            # Markdown is passed through unparsed; the project sends HTML.
            parsed = ParsedText(plain=text, entities=(), links=())
        else:
            raise _bad_request(f"unsupported parse_mode {parse_mode}")
        if not caption and not parsed.plain.strip():
            raise _bad_request(f"{what} is empty")
        if utf16_len(parsed.plain) > limit:
            raise _bad_request("message caption is too long" if caption else "message is too long")
        return parsed

    # -- Bot API methods (run on server threads) -------------------------------------------

    def _api_getMe(self, params: _Params, sock: socket.socket | None) -> JSON:
        return {
            **self.bot_user,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _api_logOut(self, params: _Params, sock: socket.socket | None) -> bool:
        return True

    def _api_close(self, params: _Params, sock: socket.socket | None) -> bool:
        return True

    def _api_deleteWebhook(self, params: _Params, sock: socket.socket | None) -> bool:
        with self._cond:
            self._webhook_url = ""
            self._webhook_secret = None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
        return True

    def _api_setWebhook(self, params: _Params, sock: socket.socket | None) -> bool:
        url = params.text("url") or ""
        if url and not url.lower().startswith("https://"):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.text("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", secret):
            raise _bad_request("secret token contains unallowed characters")
        with self._cond:
            self._webhook_url = url
            self._webhook_secret = secret if url else None
            if params.flag("drop_pending_updates"):
                self._updates.clear()
            self._cond.notify_all()
        return True

    def _api_getWebhookInfo(self, params: _Params, sock: socket.socket | None) -> JSON:
        with self._lock:
            return {
                "url": self._webhook_url,
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
            }

    @staticmethod
    def _scope_key(scope: Any, language_code: str | None) -> tuple[str, str]:
        scope_json = json.dumps(scope or {"type": "default"}, sort_keys=True)
        return scope_json, language_code or ""

    def _api_setMyCommands(self, params: _Params, sock: socket.socket | None) -> bool:
        commands = params.structured("commands", error="can't parse commands JSON object")
        if commands is None:
            raise _bad_request("commands is empty")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _bad_request("BOT_COMMANDS_TOO_MUCH")
        for command in commands:
            if not isinstance(command, dict):
                raise _bad_request("can't parse BotCommand")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", str(command.get("command", ""))):
                raise _bad_request("BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", ""))) <= 256:
                raise _bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        key = self._scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            self._commands[key] = commands
        return True

    def _api_getMyCommands(self, params: _Params, sock: socket.socket | None) -> list[JSON]:
        key = self._scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            return copy.deepcopy(self._commands.get(key, []))

    def _api_deleteMyCommands(self, params: _Params, sock: socket.socket | None) -> bool:
        key = self._scope_key(params.structured("scope"), params.text("language_code"))
        with self._lock:
            self._commands.pop(key, None)
        return True

    def _api_getUpdates(self, params: _Params, sock: socket.socket | None) -> list[JSON]:
        offset = params.integer("offset")
        limit = min(max(params.integer("limit") or MAX_UPDATES_LIMIT, 1), MAX_UPDATES_LIMIT)
        timeout = max(params.integer("timeout") or 0, 0)
        allowed = params.structured("allowed_updates")
        me = _Poller(sock=sock)
        with self._cond:
            if self._webhook_url:
                raise ApiError(409, CONFLICT_WEBHOOK)
            current = self._poller
            if current is not None:
                # A poll whose client hung up (e.g. a cancelled request) no longer counts.
                if current.connected():
                    raise ApiError(409, CONFLICT_POLLING)
                current.terminated = True
                self._cond.notify_all()
            self._poller = me
            self._cond.notify_all()
            try:
                if isinstance(allowed, list):
                    self._allowed_updates = frozenset(str(kind) for kind in allowed)
                self._confirm(offset)
                deadline = time.monotonic() + timeout
                while True:
                    if me.terminated:
                        # Its client hung up; the log shows 499 (nginx's "client closed
                        # request") so tests can tell it from a 409 a bot really received.
                        raise ApiError(CLIENT_CLOSED, "Client Closed Request")
                    batch = self._deliverable(limit)
                    remaining = deadline - time.monotonic()
                    if batch or remaining <= 0 or self._stop_event.is_set():
                        return copy.deepcopy(batch)
                    self._cond.wait(remaining)
            finally:
                if self._poller is me:
                    self._poller = None

    def _confirm(self, offset: int | None) -> None:
        if offset is None:
            return
        if offset < 0:
            self._updates = self._updates[offset:]
        else:
            self._updates = [u for u in self._updates if u["update_id"] >= offset]

    def _deliverable(self, limit: int) -> list[JSON]:
        allowed = self._allowed_updates
        if allowed:
            self._updates = [u for u in self._updates if _update_kind(u) in allowed]
        else:
            self._updates = [u for u in self._updates if _update_kind(u) not in OPT_IN_UPDATES]
        return self._updates[:limit]

    def _api_sendMessage(self, params: _Params, sock: socket.socket | None) -> JSON:
        chat_id = self._resolve_chat(params, "sendMessage")
        text = params.text("text", missing="message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(text, parse_mode, limit=MAX_TEXT_LENGTH)
        markup = _check_reply_markup(
            params.structured("reply_markup", error="can't parse reply keyboard markup JSON object")
        )
        preview = params.structured("link_preview_options") or {}
        reply = params.structured("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        reply_to = reply_to or params.integer("reply_to_message_id")
        thread_id = params.integer("message_thread_id")
        paid = params.flag("allow_paid_broadcast")
        with self._cond:
            if reply_to is not None and self._replied_json(chat_id, int(reply_to)) is None:
                allow = isinstance(reply, dict) and reply.get("allow_sending_without_reply")
                if not (allow or params.flag("allow_sending_without_reply")):
                    raise _bad_request("message to be replied not found")
                reply_to = None
            self._check_flood(chat_id, paid=paid)
            sent = SentMessage(
                chat_id=chat_id,
                message_id=self._next_message_id(chat_id),
                text=text or "",
                plain=parsed.plain,
                parse_mode=parse_mode,
                reply_markup=markup,
                links=list(parsed.links),
                message_thread_id=thread_id,
                method="sendMessage",
                date=_now(),
                entities=list(parsed.entities),
                link_preview_disabled=bool(
                    params.flag("disable_web_page_preview")
                    or (isinstance(preview, dict) and preview.get("is_disabled"))
                ),
                reply_to_message_id=int(reply_to) if reply_to is not None else None,
                allow_paid_broadcast=paid,
                seq=self._next_seq(),
            )
            self._messages.append(sent)
            self._by_key[(chat_id, sent.message_id)] = sent
            self._cond.notify_all()
            return self._message_json(sent)

    def _target_message(self, params: _Params, method: str) -> SentMessage:
        inline_id = params.text("inline_message_id")
        if inline_id is not None:
            with self._lock:
                inline = self._inline.get(inline_id)
            if inline is None:
                raise _bad_request("MESSAGE_ID_INVALID")
            return inline
        chat_id = self._resolve_chat(params, method)
        message_id = params.integer(
            "message_id", required=True, missing="message identifier is not specified"
        )
        assert message_id is not None
        with self._lock:
            sent = self._by_key.get((chat_id, message_id))
            if sent is None or sent.deleted:
                if (chat_id, message_id) in self._user_messages:
                    raise _bad_request("message can't be edited")
                raise _bad_request("message to edit not found")
            return sent

    def _record_edit(
        self,
        sent: SentMessage,
        *,
        method: str,
        text: str,
        parsed: ParsedText,
        parse_mode: str | None,
        markup: JSON | None,
    ) -> JSON | bool:
        with self._cond:
            if (
                parsed.plain == sent.plain
                and list(parsed.entities) == sent.entities
                and markup == sent.reply_markup
            ):
                raise _bad_request(NOT_MODIFIED)
            if sent.method != "inline":
                self._check_flood(sent.chat_id, paid=False)  # edits count like messages
            sent.text, sent.plain, sent.parse_mode = text, parsed.plain, parse_mode
            sent.entities, sent.links = list(parsed.entities), list(parsed.links)
            sent.reply_markup = markup
            sent.edits.append(
                MessageEdit(
                    chat_id=sent.chat_id,
                    message_id=sent.message_id,
                    method=method,
                    text=text,
                    plain=parsed.plain,
                    parse_mode=parse_mode,
                    reply_markup=copy.deepcopy(markup),
                    links=list(parsed.links),
                    date=_now(),
                    seq=self._next_seq(),
                )
            )
            self._cond.notify_all()
            return True if sent.method == "inline" else self._message_json(sent)

    def _api_editMessageText(self, params: _Params, sock: socket.socket | None) -> JSON | bool:
        sent = self._target_message(params, "editMessageText")
        text = params.text("text", missing="message text is empty")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(text, parse_mode, limit=MAX_TEXT_LENGTH)
        markup = _check_reply_markup(params.structured("reply_markup"))
        return self._record_edit(
            sent,
            method="editMessageText",
            text=text or "",
            parsed=parsed,
            parse_mode=parse_mode,
            markup=markup,
        )

    def _api_editMessageReplyMarkup(
        self, params: _Params, sock: socket.socket | None
    ) -> JSON | bool:
        sent = self._target_message(params, "editMessageReplyMarkup")
        markup = _check_reply_markup(params.structured("reply_markup"))
        with self._lock:
            current = ParsedText(
                plain=sent.plain, entities=tuple(sent.entities), links=tuple(sent.links)
            )
            return self._record_edit(
                sent,
                method="editMessageReplyMarkup",
                text=sent.text,
                parsed=current,
                parse_mode=sent.parse_mode,
                markup=markup,
            )

    def _api_deleteMessage(self, params: _Params, sock: socket.socket | None) -> bool:
        chat_id = self._resolve_chat(params, "deleteMessage")
        message_id = params.integer(
            "message_id", required=True, missing="message identifier is not specified"
        )
        with self._cond:
            sent = self._by_key.get((chat_id, message_id or 0))
            if sent is None or sent.deleted:
                if self._user_messages.pop((chat_id, message_id or 0), None) is not None:
                    return True
                raise _bad_request("message to delete not found")
            sent.deleted = True
            self._cond.notify_all()
        return True

    def _api_answerCallbackQuery(self, params: _Params, sock: socket.socket | None) -> bool:
        query_id = params.text("callback_query_id", required=True, missing="query_id is empty")
        assert query_id is not None
        with self._cond:
            if query_id not in self._open_callbacks:
                raise _bad_request(
                    "query is too old and response timeout expired or query ID is invalid"
                )
            self._open_callbacks.discard(query_id)
            self._callback_answers.append(
                CallbackAnswer(
                    callback_query_id=query_id,
                    text=params.text("text"),
                    show_alert=params.flag("show_alert"),
                    url=params.text("url"),
                    cache_time=params.integer("cache_time"),
                )
            )
            self._cond.notify_all()
        return True

    def _api_sendDocument(self, params: _Params, sock: socket.socket | None) -> JSON:
        chat_id = self._resolve_chat(params, "sendDocument")
        document = params.raw.get("document")
        upload = params.files.get("document")
        if isinstance(document, str) and document.startswith("attach://"):
            upload = params.files.get(document.removeprefix("attach://"))
        if upload is None and isinstance(document, str) and document:
            with self._lock:
                known = self._files.get(document)
            if known is None:
                raise _bad_request("wrong file identifier/HTTP URL specified")
            upload = UploadedFile(known.file_path.rsplit("/", 1)[-1], known.content, "")
        if upload is None:
            raise _bad_request("there is no document in the request")
        caption = params.text("caption")
        parse_mode = params.text("parse_mode")
        parsed = self._parse_text(caption, parse_mode, limit=MAX_CAPTION_LENGTH, caption=True)
        mime_type = upload.content_type or "application/octet-stream"
        with self._cond:
            self._check_flood(chat_id, paid=params.flag("allow_paid_broadcast"))
            stored = self._store_file(upload.content, file_name=upload.filename, folder="documents")
            sent = SentDocument(
                chat_id=chat_id,
                message_id=self._next_message_id(chat_id),
                filename=upload.filename,
                content=upload.content,
                mime_type=mime_type,
                caption=caption,
                caption_plain=parsed.plain if caption is not None else None,
                parse_mode=parse_mode,
                message_thread_id=params.integer("message_thread_id"),
                date=_now(),
                file_id=stored.file_id,
                seq=self._next_seq(),
            )
            self._documents.append(sent)
            self._cond.notify_all()
            message: JSON = {
                "message_id": sent.message_id,
                "from": self.bot_user,
                "date": int(sent.date.timestamp()),
                "chat": self._chat_json(chat_id),
                "document": {
                    "file_id": stored.file_id,
                    "file_unique_id": stored.file_unique_id,
                    "file_name": upload.filename,
                    "mime_type": mime_type,
                    "file_size": len(upload.content),
                },
            }
            if caption is not None:
                message["caption"] = parsed.plain
                if parsed.entities:
                    message["caption_entities"] = list(parsed.entities)
            return message

    def _api_getFile(self, params: _Params, sock: socket.socket | None) -> JSON:
        file_id = params.text("file_id", required=True, missing="file_id is empty")
        with self._lock:
            stored = self._files.get(file_id or "")
        if stored is None:
            raise _bad_request("invalid file_id")
        if len(stored.content) > MAX_DOWNLOAD_BYTES:
            raise _bad_request("file is too big")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.content),
            "file_path": stored.file_path,
        }

    def _api_getChat(self, params: _Params, sock: socket.socket | None) -> JSON:
        chat_id = self._resolve_chat(params, "getChat")
        with self._lock:
            return {
                **self._chat_json(chat_id),
                "accent_color_id": 0,
                "max_reaction_count": 11,
                "accepted_gift_types": {
                    "unlimited_gifts": False,
                    "limited_gifts": False,
                    "unique_gifts": False,
                    "premium_subscription": False,
                    "gifts_from_channels": False,
                },
            }

    def _api_getChatMember(self, params: _Params, sock: socket.socket | None) -> JSON:
        chat_id = self._resolve_chat(params, "getChatMember")
        user_id = params.integer("user_id", required=True, missing="user_id is empty")
        assert user_id is not None
        with self._lock:
            user = (
                self.bot_user
                if user_id == self.bot_id
                else _user_json(user_id, self._users.get(user_id))
            )
            status = self._members.get((chat_id, user_id), "member")
            if chat_id > 0 and user_id == chat_id:
                status = "member"
            return _member_json(user, status)

    def _api_getChatAdministrators(self, params: _Params, sock: socket.socket | None) -> list[JSON]:
        chat_id = self._resolve_chat(params, "getChatAdministrators")
        with self._lock:
            info = self._chats.get(chat_id)
            if (info.type if info else self._guess_type(chat_id)) == "private":
                raise _bad_request("there are no administrators in the private chat")
            admins = []
            for (chat, user_id), status in sorted(self._members.items()):
                if chat == chat_id and status in {"creator", "administrator"}:
                    user = (
                        self.bot_user
                        if user_id == self.bot_id
                        else _user_json(user_id, self._users.get(user_id))
                    )
                    admins.append(_member_json(user, status))
            return admins


def _update_kind(update: JSON) -> str:
    return next(key for key in update if key != "update_id")


def _short(params: JSON) -> str:
    shown = {
        k: (v if not isinstance(v, str) or len(v) < 80 else v[:77] + "...")
        for k, v in params.items()
        if not isinstance(v, UploadedFile)
    }
    return json.dumps(shown, ensure_ascii=False, default=str)


class ClockedTelegram(FakeTelegram):
    """The stand-in Bot API, also noting when each sendMessage was answered, to the microsecond
    (its own request log keeps whole seconds, like Telegram's message dates)."""

    def _reset_state(self) -> None:
        super()._reset_state()
        self.answers: list[tuple[float, int, int]] = []  # (monotonic time, chat, status)
        self.accepted = 0  # sendMessage calls answered 200, kept cheap to poll

    def _api_sendMessage(self, params: Any, sock: Any) -> JSON:
        chat = int(str(params.raw.get("chat_id")))
        try:
            result = super()._api_sendMessage(params, sock)
        except ApiError as err:
            self.answers.append((time.monotonic(), chat, err.status))
            raise
        self.answers.append((time.monotonic(), chat, 200))
        self.accepted += 1
        return result

    def stamps(self, chat: int | None = None, status: int = 200) -> list[float]:
        """Return when the answers of `status` (to `chat`, or any) went out."""
        return [t for t, c, s in self.answers if s == status and chat in (None, c)]
