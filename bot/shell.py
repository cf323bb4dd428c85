"""`newsbot shell`: chat with the bot in a terminal, with no token and no network.

The bot is the real one (`build_application`: the same handlers, jobs, watcher and sender);
only its two ends are replaced. Bot API calls go to `LocalBotApi`, which answers them
in-process: the lines you type become updates, the messages the bot sends are printed, and
buttons become numbered choices. Without `FEEDS`, the watcher polls `SampleWire`, a news
source shipped with the package that releases an invented story every
SAMPLE_INTERVAL_SECONDS, served through an HTTP transport of its own to the real fetcher.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from html.parser import HTMLParser
from importlib import resources
from typing import Any, TextIO
from xml.sax.saxutils import escape, quoteattr

import httpx
from pydantic import SecretStr
from sqlalchemy.engine import Engine
from telegram import Update
from telegram._utils.defaultvalue import DEFAULT_NONE
from telegram._utils.types import ODVInput
from telegram.ext import TypeHandler
from telegram.request import BaseRequest, RequestData

from bot.config import Settings
from bot.db import feeds as feeds_db
from bot.db.engine import session_scope
from bot.feeds.fetcher import ACCEPT_ENCODING
from bot.feeds.netguard import DEFAULT_POOL_LIMITS, GuardedTransport
from bot.ingest.topic_cache import TopicCache
from bot.topics import Document

log = logging.getLogger(__name__)

JSON = dict[str, Any]

# A well-formed token that never leaves this process: the shell answers every call itself.
SHELL_TOKEN = "1000000001:LocalShellTokenThatNeverLeavesThisProcess"
SHELL_BOT = {
    "id": 1000000001,
    "is_bot": True,
    "first_name": "newsbot",
    "username": "newsbot_shell_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}
DEFAULT_USER_ID = 1001
# With no ADMIN_IDS, this user may use operator commands, so /broadcast can be tried.
DEFAULT_ADMIN_ID = 1

SAMPLE_HOST = "wire.newsbot.example"  # RFC 2606: .example never resolves
SAMPLE_FEED_URL = f"https://{SAMPLE_HOST}/feed.xml"
SAMPLE_INITIAL = 8  # stories already out at start, so /latest answers at once
SAMPLE_FEED_ITEMS = 30
SAMPLE_MAX_CATCH_UP = 3  # stories released at most per poll after a long pause
SAMPLE_BACKDATE = timedelta(minutes=9)  # spacing of the initial stories' times


# ---------------------------------------------------------------------------------------------
# Telegram HTML for a terminal
# ---------------------------------------------------------------------------------------------

_STYLES = {
    "b": "1",
    "strong": "1",
    "i": "3",
    "em": "3",
    "u": "4",
    "ins": "4",
    "s": "9",
    "strike": "9",
    "del": "9",
    "code": "2",
    "pre": "2",
}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A message as Telegram would show its text (`plain`) and as the terminal prints it."""

    plain: str
    display: str


class _TerminalHtml(HTMLParser):
    def __init__(self, *, color: bool) -> None:
        super().__init__(convert_charrefs=True)
        self.color = color
        self.plain: list[str] = []
        self.display: list[str] = []
        self.styles: list[str] = []
        self.links: list[tuple[str, int]] = []  # href, length of plain text at <a>

    def _restyle(self) -> None:
        if self.color:
            self.display.append("\x1b[0m" + "".join(f"\x1b[{s}m" for s in self.styles))

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href") or ""
            self.links.append((href, len("".join(self.plain))))
        elif tag == "blockquote":
            self.display.append("│ ")
        style = _STYLES.get(tag)
        if style is not None:
            self.styles.append(style)
            self._restyle()

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self.links:
            href, start = self.links.pop()
            text = "".join(self.plain)[start:]
            if href and href != text.strip():
                self.display.append(f" <{href}>")
        style = _STYLES.get(tag)
        if style is not None and style in self.styles:
            self.styles.reverse()
            self.styles.remove(style)
            self.styles.reverse()
            self._restyle()

    def handle_data(self, data: str) -> None:
        self.plain.append(data)
        self.display.append(data)


def render_html(text: str, *, color: bool) -> Rendered:
    """Render Telegram HTML for a terminal: bold as ANSI bold, links as `text <url>`."""
    parser = _TerminalHtml(color=color)
    parser.feed(text)
    parser.close()
    display = "".join(parser.display)
    if color and parser.styles:
        display += "\x1b[0m"
    return Rendered(plain="".join(parser.plain), display=display)


def render_text(text: str, parse_mode: str | None, *, color: bool) -> Rendered:
    """Render a message text in its parse mode (HTML, or none)."""
    if (parse_mode or "").upper() == "HTML":
        return render_html(text, color=color)
    return Rendered(plain=text, display=text)


# ---------------------------------------------------------------------------------------------
# The terminal
# ---------------------------------------------------------------------------------------------


class Terminal:
    """Print the conversation; one call prints one whole message."""

    def __init__(self, *, out: TextIO, color: bool, prompt: bool) -> None:
        self.out = out
        self.color = color
        self.prompt_text = "you> " if prompt else ""
        self._lock = threading.Lock()

    def _style(self, text: str, code: str) -> str:
        return f"\x1b[{code}m{text}\x1b[0m" if self.color else text

    def message(self, *, header: str, body: str, buttons: Sequence[tuple[int, str]] = ()) -> None:
        """Print a message from the bot, its continuation lines indented under the header."""
        head = self._style(header, "36")
        indent = " " * len(header)
        lines = body.split("\n") or [""]
        text = [f"{head} {lines[0]}"]
        text.extend(f"{indent} {line}" if line else "" for line in lines[1:])
        if buttons:
            choices = "   ".join(f"[{n}] {label}" for n, label in buttons)
            text.append(f"{indent} {self._style(choices, '33')}")
        self._write("\n".join(text))

    def note(self, text: str, *, last: bool = False) -> None:
        """Print a line of the shell itself (not the bot); `last` shows no prompt after it."""
        self._write(self._style(text, "2"), reprompt=not last)

    def prompt(self) -> None:
        """Show the prompt (only when a person types at a terminal)."""
        if self.prompt_text:
            with self._lock:
                self.out.write(self.prompt_text)
                self.out.flush()

    def _write(self, text: str, *, reprompt: bool = True) -> None:
        with self._lock:
            clear = "\r\x1b[K" if self.prompt_text else ""
            self.out.write(f"{clear}{text}\n")
            if self.prompt_text and reprompt:
                self.out.write(self.prompt_text)
            self.out.flush()


# ---------------------------------------------------------------------------------------------
# The Bot API, answered in-process
# ---------------------------------------------------------------------------------------------


class LocalApiError(Exception):
    """A Bot API error answer."""

    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


def _bad_request(reason: str) -> LocalApiError:
    return LocalApiError(400, f"Bad Request: {reason}")


def user_json(user_id: int) -> JSON:
    """Return the User object of a person in the shell."""
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}", "language_code": "en"}


def private_chat_json(user_id: int) -> JSON:
    """Return the Chat object of a private chat (its id is the user's)."""
    return {"id": user_id, "type": "private", "first_name": f"User {user_id}"}


def command_entities(text: str) -> list[JSON]:
    """Return the bot_command entity Telegram attaches to a message starting with a command."""
    match = re.match(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?", text)
    if match is None:
        return []
    length = len(match.group(0).encode("utf-16-le")) // 2
    return [{"type": "bot_command", "offset": 0, "length": length}]


@dataclass(slots=True)
class Choice:
    """A button shown as a numbered choice."""

    chat_id: int
    message_id: int
    button: JSON


@dataclass(slots=True)
class LocalBotApi:
    """Answer Bot API calls in-process: updates come from the terminal, messages go to it."""

    terminal: Terminal
    user_id: int = DEFAULT_USER_ID
    updates: list[JSON] = field(default_factory=list)
    messages: dict[tuple[int, int], JSON] = field(default_factory=dict)
    choices: dict[int, Choice] = field(default_factory=dict)
    commands: list[JSON] = field(default_factory=list)
    open_callbacks: set[str] = field(default_factory=set)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _choice_numbers: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _callback_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: dict[int, int] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _hinted: bool = False
    # Updates queued whose handlers have not finished yet (see `done`).
    outstanding: set[int] = field(default_factory=set)
    _idle: asyncio.Event = field(default_factory=asyncio.Event)

    # -- what the person does ---------------------------------------------------------------

    def say(self, text: str) -> None:
        """Queue a text message from the current user in their private chat."""
        message: JSON = {
            "message_id": self._next_message_id(self.user_id),
            "date": int(time.time()),
            "chat": private_chat_json(self.user_id),
            "from": user_json(self.user_id),
            "text": text,
        }
        entities = command_entities(text)
        if entities:
            message["entities"] = entities
        self._queue({"message": message})

    def press(self, number: int) -> bool:
        """Press the button shown as choice `number`; return False when there is none."""
        choice = self.choices.get(number)
        if choice is None:
            return False
        data = choice.button.get("callback_data")
        if data is None:
            url = choice.button.get("url")
            self.terminal.note(
                f"(that button opens {url})" if url else "(that button does nothing)"
            )
            return True
        query_id = str(next(self._callback_ids))
        self.open_callbacks.add(query_id)
        self._queue(
            {
                "callback_query": {
                    "id": query_id,
                    "from": user_json(self.user_id),
                    "message": self.messages[(choice.chat_id, choice.message_id)],
                    "chat_instance": str(choice.chat_id),
                    "data": data,
                }
            }
        )
        return True

    def _queue(self, update: JSON) -> None:
        update_id = next(self._update_ids)
        self.updates.append({"update_id": update_id, **update})
        self.outstanding.add(update_id)
        self._idle.clear()
        self._arrived.set()

    def done(self, update_id: int) -> None:
        """Note that the bot finished handling an update."""
        self.outstanding.discard(update_id)
        if not self.outstanding:
            self._idle.set()

    async def wait_idle(self, timeout: float) -> None:  # noqa: ASYNC109 (a cap, not a deadline)
        """Wait until the bot handled every queued update, at most `timeout` seconds."""
        if self.outstanding:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout)
            self.outstanding.clear()

    def _next_message_id(self, chat_id: int) -> int:
        self._message_ids[chat_id] = self._message_ids.get(chat_id, 0) + 1
        return self._message_ids[chat_id]

    # -- the Bot API ------------------------------------------------------------------------

    async def call(self, method: str, params: JSON, files: dict[str, Any]) -> Any:
        """Answer one Bot API method; raise LocalApiError like Telegram would."""
        if method == "getUpdates":
            return await self._get_updates(params)
        handler: Callable[[JSON, dict[str, Any]], Any] | None = getattr(
            self, f"_api_{method}", None
        )
        if handler is None:
            raise _bad_request(f"method {method} is not available in newsbot shell")
        return handler(params, files)

    async def _get_updates(self, params: JSON) -> list[JSON]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout > 0:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout)
        return self.updates[:limit]

    def _api_getMe(self, params: JSON, files: dict[str, Any]) -> JSON:
        return dict(SHELL_BOT)

    def _api_deleteWebhook(self, params: JSON, files: dict[str, Any]) -> bool:
        return True

    def _api_setMyCommands(self, params: JSON, files: dict[str, Any]) -> bool:
        commands = params.get("commands")
        self.commands = list(commands) if isinstance(commands, list) else []
        return True

    def _api_getMyCommands(self, params: JSON, files: dict[str, Any]) -> list[JSON]:
        return list(self.commands)

    def _api_deleteMyCommands(self, params: JSON, files: dict[str, Any]) -> bool:
        self.commands = []
        return True

    def _api_sendChatAction(self, params: JSON, files: dict[str, Any]) -> bool:
        return True

    def _api_close(self, params: JSON, files: dict[str, Any]) -> bool:
        return True

    def _api_logOut(self, params: JSON, files: dict[str, Any]) -> bool:
        return True

    def _api_getChat(self, params: JSON, files: dict[str, Any]) -> JSON:
        chat_id = _chat_id(params)
        return {**private_chat_json(chat_id), "accent_color_id": 0, "max_reaction_count": 11}

    def _api_getChatMember(self, params: JSON, files: dict[str, Any]) -> JSON:
        user_id = int(params.get("user_id") or 0)
        user = dict(SHELL_BOT) if user_id == SHELL_BOT["id"] else user_json(user_id)
        return {"status": "member", "user": user}

    def _api_getChatAdministrators(self, params: JSON, files: dict[str, Any]) -> list[JSON]:
        raise _bad_request("there are no administrators in the private chat")

    def _api_sendMessage(self, params: JSON, files: dict[str, Any]) -> JSON:
        chat_id = _chat_id(params)
        text = str(params.get("text") or "")
        if not text.strip():
            raise _bad_request("message text is empty")
        rendered = render_text(text, params.get("parse_mode"), color=self.terminal.color)
        message = self._store(chat_id, rendered.plain, params.get("reply_markup"))
        self._show(chat_id, message["message_id"], rendered.display, edited=False)
        return message

    def _api_sendDocument(self, params: JSON, files: dict[str, Any]) -> JSON:
        chat_id = _chat_id(params)
        name, size = "document", 0
        for part in files.values():
            if isinstance(part, tuple) and len(part) >= 2:
                name = str(part[0] or name)
                content = part[1]
                size = len(content) if isinstance(content, bytes | bytearray) else 0
        caption = params.get("caption")
        shown = f"[file: {name}, {size} bytes]"
        if caption:
            rendered = render_text(str(caption), params.get("parse_mode"), color=False)
            shown += "\n" + rendered.display
        message = self._store(chat_id, "", None)
        message.pop("text", None)
        message["document"] = {
            "file_id": f"local-{name}",
            "file_unique_id": name,
            "file_name": name,
        }
        self._show(chat_id, message["message_id"], shown, edited=False)
        return message

    def _api_editMessageText(self, params: JSON, files: dict[str, Any]) -> JSON:
        chat_id = _chat_id(params)
        message_id = int(params.get("message_id") or 0)
        message = self.messages.get((chat_id, message_id))
        if message is None:
            raise _bad_request("message to edit not found")
        rendered = render_text(
            str(params.get("text") or ""), params.get("parse_mode"), color=self.terminal.color
        )
        message["text"] = rendered.plain
        self._set_markup(message, params.get("reply_markup"))
        message["edit_date"] = int(time.time())
        self._show(chat_id, message_id, rendered.display, edited=True)
        return message

    def _api_editMessageReplyMarkup(self, params: JSON, files: dict[str, Any]) -> JSON:
        chat_id = _chat_id(params)
        message_id = int(params.get("message_id") or 0)
        message = self.messages.get((chat_id, message_id))
        if message is None:
            raise _bad_request("message to edit not found")
        self._set_markup(message, params.get("reply_markup"))
        self._show(chat_id, message_id, str(message.get("text", "")), edited=True)
        return message

    def _api_deleteMessage(self, params: JSON, files: dict[str, Any]) -> bool:
        chat_id = _chat_id(params)
        message_id = int(params.get("message_id") or 0)
        if self.messages.pop((chat_id, message_id), None) is None:
            raise _bad_request("message to delete not found")
        self._drop_choices(chat_id, message_id)
        self.terminal.note(f"(the bot deleted message #{message_id} in chat {chat_id})")
        return True

    def _api_answerCallbackQuery(self, params: JSON, files: dict[str, Any]) -> bool:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self.open_callbacks:
            raise _bad_request(
                "query is too old and response timeout expired or query ID is invalid"
            )
        self.open_callbacks.discard(query_id)
        text = params.get("text")
        if text:
            kind = "alert" if params.get("show_alert") else "notice"
            self.terminal.message(header=f"newsbot ({kind}):", body=str(text))
        return True

    # -- bookkeeping ------------------------------------------------------------------------

    def _store(self, chat_id: int, plain: str, markup: Any) -> JSON:
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "date": int(time.time()),
            "chat": private_chat_json(chat_id),
            "from": dict(SHELL_BOT),
            "text": plain,
        }
        self._set_markup(message, markup)
        self.messages[(chat_id, message["message_id"])] = message
        return message

    def _set_markup(self, message: JSON, markup: Any) -> None:
        if isinstance(markup, str):
            markup = json.loads(markup)
        if isinstance(markup, dict) and markup.get("inline_keyboard"):
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)

    def _drop_choices(self, chat_id: int, message_id: int) -> list[int]:
        """Forget the message's choices; return their numbers, in order."""
        numbers = sorted(
            n for n, c in self.choices.items() if (c.chat_id, c.message_id) == (chat_id, message_id)
        )
        for number in numbers:
            del self.choices[number]
        return numbers

    def _show(self, chat_id: int, message_id: int, display: str, *, edited: bool) -> None:
        message = self.messages[(chat_id, message_id)]
        # An edited keyboard keeps its numbers, so "1" stays the first button.
        reuse = iter(self._drop_choices(chat_id, message_id))
        buttons: list[tuple[int, str]] = []
        for row in (message.get("reply_markup") or {}).get("inline_keyboard", []):
            for button in row:
                number = next(reuse, None) or next(self._choice_numbers)
                self.choices[number] = Choice(chat_id, message_id, button)
                buttons.append((number, str(button.get("text", ""))))
        to = "" if chat_id == self.user_id else f" → chat {chat_id}"
        header = f"newsbot{to}{' (edited)' if edited else ''}:"
        self.terminal.message(header=header, body=display, buttons=buttons)
        if buttons and not self._hinted:
            self._hinted = True
            self.terminal.note("(type a button's number to press it)")


def _chat_id(params: JSON) -> int:
    raw = params.get("chat_id")
    try:
        return int(str(raw))
    except ValueError:
        raise _bad_request("chat not found") from None


class LocalRequest(BaseRequest):
    """A `BaseRequest` that hands every Bot API call to a `LocalBotApi`."""

    def __init__(self, api: LocalBotApi) -> None:
        self.api = api

    @property
    def read_timeout(self) -> float | None:
        return None

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = DEFAULT_NONE,
        write_timeout: ODVInput[float] = DEFAULT_NONE,
        connect_timeout: ODVInput[float] = DEFAULT_NONE,
        pool_timeout: ODVInput[float] = DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        """Answer the call the way api.telegram.org would."""
        api_method = url.rstrip("/").rsplit("/", 1)[-1]
        params: JSON = dict(request_data.parameters) if request_data is not None else {}
        files: dict[str, Any] = (
            dict(request_data.multipart_data)
            if request_data is not None and request_data.contains_files
            else {}
        )
        try:
            result = await self.api.call(api_method, params, files)
        except LocalApiError as err:
            body = {"ok": False, "error_code": err.status, "description": err.description}
            return err.status, json.dumps(body).encode()
        return 200, json.dumps({"ok": True, "result": result}).encode()


# ---------------------------------------------------------------------------------------------
# The sample news source
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Story:
    """An invented story of the sample wire."""

    id: str
    section: str
    tags: tuple[str, ...]
    title: str
    summary: str
    body: tuple[str, ...]

    @property
    def categories(self) -> tuple[str, ...]:
        return (self.section, *self.tags)


@dataclass(frozen=True, slots=True)
class Release:
    story: Story
    cycle: int
    at: datetime

    @property
    def slug(self) -> str:
        return self.story.id if self.cycle == 0 else f"{self.story.id}-{self.cycle + 1}"

    @property
    def link(self) -> str:
        return f"https://{SAMPLE_HOST}/stories/{self.slug}"


def load_stories() -> tuple[str, list[Story]]:
    """Return the sample wire's name and its stories (package data)."""
    raw = json.loads(resources.files("bot").joinpath("data/sample-stories.json").read_text("utf-8"))
    stories = [
        Story(
            id=s["id"],
            section=s["section"],
            tags=tuple(s.get("tags", ())),
            title=s["title"],
            summary=s["summary"],
            body=tuple(s["body"]),
        )
        for s in raw["stories"]
    ]
    return str(raw["source"]), stories


Preference = Callable[[Sequence[Story]], Story | None]


class SampleWire:
    """Release one story every `interval` seconds; serve them as RSS and article pages.

    `prefer`, given the stories not yet released in this cycle, may pick the next one (the
    shell picks stories matching a topic someone follows); otherwise they go out in order.
    After the last story the wire starts over with new guids and links.
    """

    def __init__(
        self,
        *,
        name: str,
        stories: Sequence[Story],
        interval: float,
        prefer: Preference | None = None,
        clock: Callable[[], float] = time.time,
        initial: int = SAMPLE_INITIAL,
    ) -> None:
        if not stories:
            raise ValueError("the sample wire needs stories")
        self.name = name
        self.stories = list(stories)
        self.interval = interval
        self.prefer = prefer
        self.clock = clock
        self.cycle = 0
        self.pending = list(self.stories)
        self.released: list[Release] = []
        self._lock = threading.Lock()
        self._started = clock()
        self._ticks = 0
        start = datetime.fromtimestamp(self._started, UTC)
        for n in range(min(initial, len(self.stories))):
            self._release(self.pending[0], at=start - SAMPLE_BACKDATE * (initial - n))

    def _release(self, story: Story, *, at: datetime) -> None:
        self.pending.remove(story)
        self.released.append(Release(story=story, cycle=self.cycle, at=at))
        if not self.pending:
            self.cycle += 1
            self.pending = list(self.stories)

    def advance(self) -> int:
        """Release the stories that are due now; return how many."""
        with self._lock:
            due = int((self.clock() - self._started) // self.interval)
            if due - self._ticks > SAMPLE_MAX_CATCH_UP:
                self._ticks = due - SAMPLE_MAX_CATCH_UP
            count = 0
            while self._ticks < due:
                self._ticks += 1
                story = self._pick()
                self._release(story, at=datetime.fromtimestamp(self.clock(), UTC))
                count += 1
            return count

    def _pick(self) -> Story:
        if self.prefer is not None:
            try:
                chosen = self.prefer(list(self.pending))
            except Exception:  # a demo must keep going
                log.warning("sample wire: choosing a story failed", exc_info=True)
                chosen = None
            if chosen is not None and chosen in self.pending:
                return chosen
        return self.pending[0]

    def etag(self) -> str:
        """Return the feed's current entity tag."""
        with self._lock:
            return f'"{self.cycle}-{len(self.released)}"'

    def feed_xml(self) -> bytes:
        """Return the newest stories as an RSS 2.0 document."""
        with self._lock:
            # Oldest first: stories stored in one batch share a time, and the last one
            # stored is taken for the newest.
            recent = self.released[-SAMPLE_FEED_ITEMS:]
        items = []
        for release in recent:
            story = release.story
            categories = "".join(f"<category>{escape(c)}</category>" for c in story.categories)
            items.append(
                "<item>"
                f"<title>{escape(story.title)}</title>"
                f"<link>{escape(release.link)}</link>"
                f'<guid isPermaLink="false">{escape(release.slug)}</guid>'
                f"<pubDate>{format_datetime(release.at, usegmt=True)}</pubDate>"
                f"<description>{escape(story.summary)}</description>"
                f"{categories}"
                "</item>"
            )
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
            f"<title>{escape(self.name)}</title>"
            f"<link>https://{SAMPLE_HOST}/</link>"
            "<description>Invented stories for trying newsbot</description>"
            f"{''.join(items)}</channel></rss>"
        ).encode()

    def page(self, slug: str) -> bytes | None:
        """Return the article page of a released story, or None."""
        with self._lock:
            release = next((r for r in self.released if r.slug == slug), None)
        if release is None:
            return None
        story = release.story
        paragraphs = "".join(f"<p>{escape(p)}</p>" for p in story.body)
        return (
            "<!doctype html><html><head><meta charset='utf-8'>"
            f"<title>{escape(story.title)} | {escape(self.name)}</title></head><body>"
            f"<nav><a href='/'>Home</a> <a href={quoteattr('/' + story.section.lower())}>"
            f"{escape(story.section)}</a></nav>"
            f"<article><h1>{escape(story.title)}</h1>{paragraphs}</article>"
            f"<footer>{escape(self.name)}: invented stories for trying newsbot.</footer>"
            "</body></html>"
        ).encode()


class SampleTransport(httpx.AsyncBaseTransport):
    """Serve the sample wire's host in-process; send every other request on to `fallback`."""

    def __init__(self, wire: SampleWire, *, fallback: httpx.AsyncBaseTransport) -> None:
        self.wire = wire
        self.fallback = fallback

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Answer a request for the sample host, or forward it."""
        if request.url.host != SAMPLE_HOST:
            return await self.fallback.handle_async_request(request)
        await asyncio.to_thread(self.wire.advance)
        path = request.url.path
        if path == "/feed.xml":
            etag = self.wire.etag()
            if request.headers.get("if-none-match") == etag:
                return _response(304, b"", {"ETag": etag})
            rss = "application/rss+xml; charset=utf-8"
            return _response(200, self.wire.feed_xml(), {"Content-Type": rss, "ETag": etag})
        if path.startswith("/stories/"):
            page = self.wire.page(path.removeprefix("/stories/"))
            if page is not None:
                return _response(200, page, {"Content-Type": "text/html; charset=utf-8"})
        return _response(404, b"not found", {"Content-Type": "text/plain"})

    async def aclose(self) -> None:
        """Close the fallback transport."""
        await self.fallback.aclose()


def _response(status: int, body: bytes, headers: dict[str, str]) -> httpx.Response:
    # A stream, not `content=`: the fetcher streams the body to enforce its size limit.
    headers = {**headers, "Content-Length": str(len(body))}
    return httpx.Response(status, headers=headers, stream=httpx.ByteStream(body))


def sample_client(wire: SampleWire, settings: Settings) -> httpx.AsyncClient:
    """Return the watcher's HTTP client: the sample host in-process, the rest as usual."""
    from bot.ingest.workers import fetch_limits

    limits = fetch_limits(settings)
    fallback: httpx.AsyncBaseTransport = (
        httpx.AsyncHTTPTransport(limits=DEFAULT_POOL_LIMITS)
        if settings.allow_private_networks
        else GuardedTransport()
    )
    return httpx.AsyncClient(
        transport=SampleTransport(wire, fallback=fallback),
        timeout=httpx.Timeout(limits.timeout_seconds),
        follow_redirects=False,
        headers={"User-Agent": limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        trust_env=False,
    )


def followed_topics_first(engine: Engine) -> Preference:
    """Prefer stories matching a followed topic, taking the topics in turn."""
    topics = TopicCache()
    served: dict[int, int] = {}
    turns = itertools.count()

    def prefer(candidates: Sequence[Story]) -> Story | None:
        # A story about the topic (headline, section) beats one that mentions it.
        docs = [
            Document.from_fields(title=story.title, summary="", categories=story.categories)
            for story in candidates
        ] + [
            Document.from_fields(
                title=story.title,
                summary=f"{story.summary}\n{' '.join(story.body)}",
                categories=story.categories,
            )
            for story in candidates
        ]
        with session_scope(engine) as session:
            found = topics.match_all(session=session, docs=docs)
        if not len(topics):
            return None
        best: tuple[tuple[int, int], Story, set[int]] | None = None
        for n, story in enumerate(candidates):
            about = found[n]
            matched = about or found[len(candidates) + n]
            if not matched:
                continue
            score = (min(served.get(t, -1) for t in matched), 0 if about else 1)
            if best is None or score < best[0]:
                best = (score, story, matched)
        if best is None:
            return None
        turn = next(turns)
        for topic_id in best[2]:
            served[topic_id] = turn
        return best[1]

    return prefer


# ---------------------------------------------------------------------------------------------
# Putting it together
# ---------------------------------------------------------------------------------------------


class ShellError(Exception):
    """The shell can't start; the message says why."""


def shell_settings(settings: Settings) -> Settings:
    """Return the settings the shell runs with: a local token, a short poll for the sample."""
    update: dict[str, Any] = {"telegram_bot_token": SecretStr(SHELL_TOKEN)}
    if not settings.admin_ids:
        update["admin_ids"] = [DEFAULT_ADMIN_ID]
    if not settings.feeds:
        update["feeds"] = [SAMPLE_FEED_URL]
        poll = max(1, math.ceil(settings.sample_interval_seconds / 4))
        update["poll_interval_seconds"] = min(settings.poll_interval_seconds, poll)
    return settings.model_copy(update=update)


# Longest wait for the bot to finish one line before the next is taken anyway (a handler
# may stop an update early, e.g. the flood guard).
TURN_LIMIT_SECONDS = 5.0
DONE_GROUP = 1_000_000


class Shell:
    """Take the lines typed, one at a time, and turn them into updates or shell commands.

    The next line waits until the bot has handled the previous one, so replies come in the
    order the lines were typed, also when a script is piped in.
    """

    def __init__(
        self, *, api: LocalBotApi, terminal: Terminal, admins: Sequence[int], interval: float
    ) -> None:
        self.api = api
        self.terminal = terminal
        self.admins = list(admins)
        self.interval = interval
        self.stop: Callable[[], None] = lambda: None
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()

    def feed(self, line: str | None) -> None:
        """Queue a typed line; None is the end of input."""
        self.lines.put_nowait(line)

    async def run(self) -> None:
        """Handle the queued lines until /quit or the end of input, then stop the bot."""
        while True:
            line = await self.lines.get()
            await self.api.wait_idle(TURN_LIMIT_SECONDS)
            if line is None or not self.handle(line):
                break
        await self.api.wait_idle(TURN_LIMIT_SECONDS)
        self.stop()

    def handle(self, line: str) -> bool:
        """Act on one line; return False when it asks to leave."""
        text = line.strip()
        if not text:
            self.terminal.prompt()
            return True
        word = text.split(maxsplit=1)[0].lower()
        if word in ("/quit", "/exit"):
            return False
        if word == "/as":
            self._switch(text.split(maxsplit=1)[1] if " " in text else "")
        elif text.isdigit() and int(text) in self.api.choices:
            self.api.press(int(text))
        else:
            self.api.say(text)
        return True

    def _switch(self, who: str) -> None:
        who = who.strip().lower()
        if who in ("admin", "operator") and self.admins:
            who = str(self.admins[0])
        if not re.fullmatch(r"[1-9]\d{0,14}", who):
            self.terminal.note("usage: /as USER_ID (a positive number), or /as admin")
            return
        self.api.user_id = int(who)
        role = " (an operator: ADMIN_IDS)" if self.api.user_id in self.admins else ""
        self.terminal.note(f"you are now user {self.api.user_id}{role}, in your private chat")

    def banner(self, *, sample: str | None, feeds: int) -> None:
        """Say what this is and how to use it."""
        admin = self.admins[0] if self.admins else DEFAULT_ADMIN_ID
        source = (
            f"news: {sample}, invented stories; a new one about every "
            f"{self.interval:g} s (stories matching your topics come first)"
            if sample
            else f"news: the {feeds} feed{'s' if feeds != 1 else ''} in FEEDS"
        )
        self.terminal.note(
            "newsbot shell: chat with the bot right here (no Telegram, no token).\n"
            f"You are user {self.api.user_id} in a private chat. {source}.\n"
            "Try /start, /subscribe world, /latest, /help.\n"
            f"Shell commands: /as USER_ID to switch users (/as {admin} is an operator), "
            "/quit or Ctrl-D to leave."
        )


class _LineReader(threading.Thread):
    """Read standard input without Python's buffered reader, whose lock a daemon thread
    blocked in a read would hold at interpreter exit."""

    def __init__(self, on_line: Callable[[str], None], on_eof: Callable[[], None]) -> None:
        super().__init__(name="shell-input", daemon=True)
        self.on_line = on_line
        self.on_eof = on_eof

    def run(self) -> None:
        pending = b""
        fd = sys.stdin.fileno()
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                if pending.strip():
                    self.on_line(pending.decode("utf-8", "replace"))
                self.on_eof()
                return
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                self.on_line(line.decode("utf-8", "replace").rstrip("\r"))


def run_shell(settings: Settings, *, out: TextIO | None = None) -> int:
    """Run the bot against the terminal until /quit, end of input or Ctrl-C."""
    from bot.app import build_application
    from bot.db import migrate
    from bot.db.engine import make_engine
    from bot.ops import standby
    from bot.ops.logs import setup_logging

    out = out or sys.stdout
    interactive = sys.stdin.isatty() and out.isatty()
    color = out.isatty() and not os.environ.get("NO_COLOR")
    level = "DEBUG" if settings.log_level == "DEBUG" else "WARNING"
    setup_logging(level, secrets=[SHELL_TOKEN], tracebacks=False)

    local = shell_settings(settings)
    use_sample = not settings.feeds
    engine = make_engine(local.database_url)
    lock = None
    try:
        if standby.uses_lock(local.database_url):
            lock = standby.InstanceLock(local.database_url)
            if not lock.try_acquire():
                raise ShellError(
                    "another newsbot instance is active on this database. The shell answers "
                    "every chat itself: give it a database of its own, e.g. "
                    "DATABASE_URL=sqlite:///newsbot-shell.db"
                )
        migrate.upgrade(engine)
        if use_sample:
            with session_scope(engine) as session:
                feeds_db.reset_feed(session=session, url=SAMPLE_FEED_URL)
        return _run(
            local,
            engine=engine,
            use_sample=use_sample,
            out=out,
            color=color,
            interactive=interactive,
            build=build_application,
        )
    finally:
        if use_sample:
            with contextlib.suppress(Exception), session_scope(engine) as session:
                # So that a later `newsbot run` on this database does not poll it.
                feeds_db.set_feed_enabled(session=session, url=SAMPLE_FEED_URL, enabled=False)
        if lock is not None:
            lock.release()
        engine.dispose()


def _run(
    settings: Settings,
    *,
    engine: Engine,
    use_sample: bool,
    out: TextIO,
    color: bool,
    interactive: bool,
    build: Callable[..., Any],
) -> int:
    import signal

    terminal = Terminal(out=out, color=color, prompt=interactive)
    api = LocalBotApi(terminal=terminal)
    wire = None
    feed_client = None
    if use_sample:
        name, stories = load_stories()
        wire = SampleWire(
            name=name,
            stories=stories,
            interval=settings.sample_interval_seconds,
            prefer=followed_topics_first(engine),
        )
        feed_client = sample_client(wire, settings)
    application = build(settings, engine=engine, request=LocalRequest(api), feed_client=feed_client)
    shell = Shell(
        api=api,
        terminal=terminal,
        admins=settings.admin_ids,
        interval=settings.sample_interval_seconds,
    )

    async def handled(update: Update, context: Any) -> None:
        api.done(update.update_id)

    # The last group runs once the bot's own handlers for the update have finished.
    application.add_handler(TypeHandler(Update, handled), group=DONE_GROUP)
    original_post_init = application.post_init
    original_post_stop = application.post_stop
    tasks: list[asyncio.Task[None]] = []

    async def post_init(app: Any) -> None:
        if original_post_init is not None:
            await original_post_init(app)
        loop = asyncio.get_running_loop()
        stopping = False

        def stop() -> None:
            # Once only: a second stop_running() during shutdown would halt the loop early.
            nonlocal stopping
            if not stopping:
                stopping = True
                app.stop_running()

        shell.stop = stop
        if wire is not None:
            # The first poll stores the wire's first stories as history: /latest answers now.
            await app.bot_data.watcher.poll_round()

        async def greet(context: Any) -> None:
            # A job runs once the application has started: taking input (and Ctrl-C) only
            # from then on never stops a half-started application.
            shell.banner(sample=wire.name if wire else None, feeds=len(settings.feeds))

            tasks.append(asyncio.create_task(shell.run()))

            def on_line(line: str) -> None:
                loop.call_soon_threadsafe(shell.feed, line)

            def on_eof() -> None:
                loop.call_soon_threadsafe(shell.feed, None)

            _LineReader(on_line, on_eof).start()

        app.job_queue.run_once(greet, 0, name="shell-greet")

    async def post_stop(app: Any) -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if original_post_stop is not None:
            await original_post_stop(app)

    application.post_init = post_init
    application.post_stop = post_stop
    application.run_polling(
        allowed_updates=Update.ALL_TYPES,
        stop_signals=(signal.SIGINT, signal.SIGTERM),
        close_loop=False,
    )
    terminal.note("bye", last=True)
    return 0
