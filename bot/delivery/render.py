"""Render alerts and other messages as Telegram HTML; everything from feeds is escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from babel.dates import format_datetime

from bot.i18n import DEFAULT, ENGLISH, N_, Translator

# Telegram counts a text's length after entity parsing (Bot API, sendMessage: 1-4096 characters).
MAX_MESSAGE_CHARS = 4096
# Bot API, answerCallbackQuery: text of the notification, 0-200 characters.
MAX_ANSWER_CHARS = 200
# Bot API, InlineKeyboardButton: callback_data, 1-64 bytes.
MAX_CALLBACK_DATA_BYTES = 64
MAX_TITLE_CHARS = 300
READ_MORE = N_("Read the full story")
UNTITLED = N_("(untitled)")
_TAG = re.compile(r"<[^>]*>")


@dataclass(frozen=True, slots=True)
class Alert:
    """What an alert needs to know about a story; pure data, no database rows."""

    title: str
    summary: str
    link: str | None
    source: str
    published: datetime | None


# Renders an alert as HTML, with the words around the story in the translator's language.
AlertHtml = Callable[[Alert, Translator], str]


def esc(text: str) -> str:
    """Escape text for Telegram's HTML parse mode."""
    return html.escape(text, quote=False)


def esc_attr(text: str) -> str:
    """Escape text for an HTML attribute value."""
    return html.escape(text, quote=True)


def visible_text(markup: str) -> str:
    """Return what a chat shows of a message in Telegram HTML: tags gone, entities decoded."""
    return html.unescape(_TAG.sub("", markup))


def utf16_len(text: str) -> int:
    """Return the length Telegram counts: UTF-16 code units (emoji and the like count 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def utf16_cut(text: str, limit: int) -> str:
    """Return text cut to at most `limit` UTF-16 units, with "…" when something was cut."""
    if utf16_len(text) <= limit:
        return text
    units = 0
    for end, ch in enumerate(text):
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit - 1:
            return text[:end] + "…"
    return text


def button_data(prefix: str, number: int) -> str:
    """Return callback data for a button; raise ValueError past Telegram's 64 bytes."""
    data = f"{prefix}{number}"
    if not 1 <= len(data.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        raise ValueError(f"callback data {data[:20]!r}… is longer than 64 bytes")
    return data


def _cut(text: str, limit: int) -> str:
    """Return the text normalised and cut to `limit` UTF-16 units, at a word if one is near."""
    text = " ".join(text.split()) if "\n" not in text else text.strip()
    if utf16_len(text) <= limit:
        return text
    units = end = 0
    for end, ch in enumerate(text):  # noqa: B007 - `end` is used after the loop
        units += 2 if ord(ch) > 0xFFFF else 1
        if units > limit - 1:
            break
    cut = text[:end]
    space = cut.rfind(" ")
    if space > len(cut) // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def format_time(when: datetime | None, lang: str = DEFAULT) -> str:
    """Return a short UTC time stamp, e.g. '27 Nov 2026, 14:05 UTC' ('27.11.2026, 14:05 UTC')."""
    if when is None:
        return ""
    when = when.astimezone(UTC)
    if lang == DEFAULT:
        return f"{when.day} {when:%b %Y, %H:%M} UTC"
    return format_datetime(when, "d MMM y, HH:mm", tzinfo=UTC, locale=lang) + " UTC"


def safe_link(link: str | None) -> str | None:
    """Return the link if it is an http(s) URL Telegram will accept in an <a href>."""
    if not link:
        return None
    link = link.strip()
    if not link.lower().startswith(("http://", "https://")) or any(c.isspace() for c in link):
        return None
    return link if len(link) <= 2048 else None


def render_alert(alert: Alert, t: Translator = ENGLISH) -> str:
    """Return the alert as HTML: bold headline, summary, source and time, link.

    The story stays in its own language; `t` translates the words around it.
    """
    read_more = t.gettext(READ_MORE)
    title = _cut(alert.title or t.gettext(UNTITLED), MAX_TITLE_CHARS)
    lang = t.info().get("language", DEFAULT)
    meta = " · ".join(p for p in (alert.source, format_time(alert.published, lang)) if p)
    link = safe_link(alert.link)
    tail = []
    if meta:
        tail.append(f"<i>{esc(_cut(meta, 200))}</i>")
    if link:
        tail.append(f'<a href="{esc_attr(link)}">{esc(read_more)}</a>')
    # Budget the summary on visible characters so the whole message stays under the limit.
    visible_fixed = (
        utf16_len(title) + utf16_len(_cut(meta, 200)) + (utf16_len(read_more) if link else 0)
    )
    budget = MAX_MESSAGE_CHARS - visible_fixed - 8
    summary = _cut(alert.summary, budget) if alert.summary.strip() else ""
    blocks = [f"<b>{esc(title)}</b>"]
    if summary:
        blocks.append(esc(summary))
    if tail:
        blocks.append("\n".join(tail))
    return "\n\n".join(blocks)


def render_plain(alert: Alert) -> str:
    """Return the alert as plain text, cut to Telegram's limit (fallback for render bugs)."""
    lines = [alert.title, alert.summary, alert.source, safe_link(alert.link) or ""]
    text = "\n\n".join(line for line in lines if line)
    return _cut(text, MAX_MESSAGE_CHARS)


def broadcast_text(text: str) -> str:
    """Return the text chats receive for an operator's broadcast (Telegram trims the ends)."""
    return text.strip()


def render_broadcast(text: str) -> str:
    """Return an operator's broadcast as HTML: their text as typed, escaped."""
    return esc(utf16_cut(broadcast_text(text), MAX_MESSAGE_CHARS))


def render_broadcast_plain(text: str) -> str:
    """Return an operator's broadcast as plain text, cut to Telegram's limit."""
    return utf16_cut(broadcast_text(text), MAX_MESSAGE_CHARS)
