"""The buttons under an alert (mute a topic for a day, unfollow it) and the "Show 3 latest"
button after a subscription: their callback data, keyboards and the matched-topics line.

Pure functions: no database, no sending. Callback data holds a row id and the topic's
fingerprint, never a name (64 bytes at most); whatever comes back in a press is parsed
strictly, and anything else is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.delivery.render import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_MESSAGE_CHARS,
    esc,
    utf16_cut,
    utf16_len,
    visible_text,
)
from bot.digests.zones import ZoneError, zone
from bot.i18n import ENGLISH, Translator
from bot.topics.catalog import catalog_label

ALERT_DATA = "al:"
BACKFILL_DATA = "bf:"
# Matches both kinds of data for the application's CallbackQueryHandler; parsing is here.
ALERT_PATTERN = r"^al:"
BACKFILL_PATTERN = r"^bf:"
MUTE_FOR = timedelta(hours=24)
BACKFILL_COUNT = 3
# The alert names at most this many of the chat's matched topics, then "and N more".
NAMES_SHOWN = 3
NAME_CHARS = 40
BUTTON_NAME_CHARS = 24
# Row ids are 64-bit integers; a larger number can't name one.
MAX_ID = 2**63 - 1
# A topic's fingerprint in its buttons (bot/db/mutes.py, topic_tag): 8 hex digits.
TAG_CHARS = 8


class AlertAction(StrEnum):
    """What a button under an alert does to the chat's topic."""

    MUTE = "m"
    UNMUTE = "x"
    UNFOLLOW = "u"
    FOLLOW = "f"
    FOLLOW_CATALOG = "c"  # by catalog id: the topic row may be gone with its last chat


@dataclass(frozen=True, slots=True)
class AlertPress:
    action: AlertAction
    topic_id: int  # a catalog id for FOLLOW_CATALOG
    tag: str = ""  # the topic's fingerprint (none for FOLLOW_CATALOG)


def _is_tag(text: str) -> bool:
    return len(text) == TAG_CHARS and all(c in "0123456789abcdef" for c in text)


def _row_id(digits: str) -> int | None:
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


def _data(text: str) -> str:
    if not 1 <= len(text.encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
        raise ValueError(f"callback data {text[:20]!r}… is longer than 64 bytes")
    return text


def alert_data(action: AlertAction, topic_id: int, tag: str = "") -> str:
    """Return the callback data of an alert button (a catalog id, untagged, for FOLLOW_CATALOG)."""
    if action is AlertAction.FOLLOW_CATALOG:
        return _data(f"{ALERT_DATA}{action.value}:{topic_id}")
    if not _is_tag(tag):
        raise ValueError(f"not a topic fingerprint: {tag!r}")
    return _data(f"{ALERT_DATA}{action.value}:{topic_id}:{tag}")


def parse_alert_data(data: str | None) -> AlertPress | None:
    """Return the action and topic of an alert button's data, or None when it isn't one."""
    if data is None or not data.startswith(ALERT_DATA):
        return None
    action, sep, rest = data.removeprefix(ALERT_DATA).partition(":")
    if not sep:
        return None
    try:
        kind = AlertAction(action)
    except ValueError:
        return None
    if kind is AlertAction.FOLLOW_CATALOG:
        digits, tag = rest, ""
    else:
        digits, sep, tag = rest.partition(":")
        if not sep or not _is_tag(tag):
            return None
    topic_id = _row_id(digits)
    return None if topic_id is None else AlertPress(kind, topic_id, tag)


def backfill_data(topic_id: int, tag: str) -> str:
    """Return the callback data of a "Show 3 latest" button."""
    if not _is_tag(tag):
        raise ValueError(f"not a topic fingerprint: {tag!r}")
    return _data(f"{BACKFILL_DATA}{topic_id}:{tag}")


def parse_backfill_data(data: str | None) -> tuple[int, str] | None:
    """Return (topic id, fingerprint) of a "Show 3 latest" button's data, or None."""
    if data is None or not data.startswith(BACKFILL_DATA):
        return None
    digits, sep, tag = data.removeprefix(BACKFILL_DATA).partition(":")
    topic_id = _row_id(digits)
    if not sep or not _is_tag(tag) or topic_id is None:
        return None
    return topic_id, tag


def parse_topic_ids(stored: str | None) -> list[int]:
    """Return the topic ids an outbox row carries ("12,34"); junk is skipped."""
    if not stored:
        return []
    ids = (_row_id(part.strip()) for part in stored.split(","))
    return list(dict.fromkeys(i for i in ids if i is not None))


def _short(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _names(labels: Sequence[str]) -> tuple[list[str], int]:
    shown = [_short(label, NAME_CHARS) for label in labels[:NAMES_SHOWN]]
    return shown, max(0, len(labels) - NAMES_SHOWN)


def matched_line(labels: Sequence[str], t: Translator = ENGLISH) -> str:
    """Return the alert's line naming the chat's topics it matched (HTML, escaped)."""
    if not labels:
        return ""
    shown, more = _names([catalog_label(label, t) for label in labels])
    names = ", ".join(f"<b>{esc(name)}</b>" for name in shown)
    if more:
        names = t.ngettext("{names} and {count} more", "{names} and {count} more", more).format(
            names=names, count=more
        )
    return t.ngettext("🔔 Your topic: {names}", "🔔 Your topics: {names}", len(labels)).format(
        names=names
    )


def matched_plain(labels: Sequence[str], t: Translator = ENGLISH) -> str:
    """Return the matched-topics line as plain text."""
    return visible_text(matched_line(labels, t))


def _button_name(label: str, t: Translator) -> str:
    return _short(catalog_label(label, t), BUTTON_NAME_CHARS)


def _unfollow_button(topic_id: int, tag: str, name: str, t: Translator) -> InlineKeyboardButton:
    return InlineKeyboardButton(
        t.gettext("✖ Unfollow {name}").format(name=name),
        callback_data=alert_data(AlertAction.UNFOLLOW, topic_id, tag),
    )


def alert_keyboard(
    topic_id: int, tag: str, label: str, t: Translator = ENGLISH
) -> InlineKeyboardMarkup:
    """Return the buttons under an alert: mute the topic for a day, or unfollow it."""
    name = _button_name(label, t)
    hours = int(MUTE_FOR.total_seconds() // 3600)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("🔕 Mute {name} for {hours} h").format(name=name, hours=hours),
                    callback_data=alert_data(AlertAction.MUTE, topic_id, tag),
                ),
                _unfollow_button(topic_id, tag, name, t),
            ]
        ]
    )


def local_clock(when: datetime, zone_name: str = "UTC") -> str:
    """Return the time of day in the chat's zone with the zone's abbreviation: '15:05 CET'."""
    try:
        local = when.astimezone(zone(zone_name))
    except ZoneError:
        local = when.astimezone(zone("UTC"))
    return f"{local:%H:%M} {local.tzname() or ''}".rstrip()


def muted_keyboard(
    topic_id: int,
    tag: str,
    label: str,
    until: datetime,
    zone_name: str = "UTC",
    t: Translator = ENGLISH,
) -> InlineKeyboardMarkup:
    """Return the alert's buttons once the topic is muted: undo, or unfollow."""
    name = _button_name(label, t)
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t.gettext("🔕 Muted until {time} · Undo").format(
                        time=local_clock(until, zone_name)
                    ),
                    callback_data=alert_data(AlertAction.UNMUTE, topic_id, tag),
                ),
                _unfollow_button(topic_id, tag, name, t),
            ]
        ]
    )


def unfollowed_keyboard(
    topic_id: int, tag: str, catalog_id: int | None = None, t: Translator = ENGLISH
) -> InlineKeyboardMarkup:
    """Return the alert's button once the chat unfollowed the topic (a catalog one by its
    catalog id: the topic row may go with its last chat)."""
    if catalog_id is not None:
        data = alert_data(AlertAction.FOLLOW_CATALOG, catalog_id)
    else:
        data = alert_data(AlertAction.FOLLOW, topic_id, tag)
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t.gettext("Unfollowed · Follow again"), callback_data=data)]]
    )


def backfill_button(
    topic_id: int, tag: str, label: str | None = None, t: Translator = ENGLISH
) -> InlineKeyboardButton:
    """Return the button that shows the topic's newest stored stories (named, if given)."""
    if label:
        text = t.gettext("📰 Show {count} latest: {name}").format(
            count=BACKFILL_COUNT, name=_button_name(label, t)
        )
    else:
        text = t.gettext("📰 Show {count} latest").format(count=BACKFILL_COUNT)
    return InlineKeyboardButton(text, callback_data=backfill_data(topic_id, tag))


def with_backfill(
    markup: InlineKeyboardMarkup | None,
    topic_id: int,
    tag: str,
    label: str | None = None,
    t: Translator = ENGLISH,
) -> InlineKeyboardMarkup:
    """Return the keyboard with a "Show 3 latest" row added at the bottom."""
    rows = [list(row) for row in markup.inline_keyboard] if markup is not None else []
    return InlineKeyboardMarkup([*rows, [backfill_button(topic_id, tag, label, t)]])


def has_button(markup: InlineKeyboardMarkup | None, data: str) -> bool:
    """Tell whether the keyboard still has a button carrying `data`."""
    if markup is None:
        return False
    return any(b.callback_data == data for row in markup.inline_keyboard for b in row)


def without_button(markup: InlineKeyboardMarkup | None, data: str) -> InlineKeyboardMarkup | None:
    """Return the keyboard without the buttons carrying `data` (None when nothing is left)."""
    if markup is None:
        return None
    rows = [[b for b in row if b.callback_data != data] for row in markup.inline_keyboard]
    kept = [row for row in rows if row]
    return InlineKeyboardMarkup(kept) if kept else None


def personalize(
    html: str, plain: str, topics: Sequence[tuple[int, str, str]], t: Translator = ENGLISH
) -> tuple[str, str, InlineKeyboardMarkup | None]:
    """Return the alert for one chat: the matched-topics line and the first topic's buttons.

    `topics` are (topic id, fingerprint, label) of the chat's matched topics that still
    exist. The line is left out when the message would pass Telegram's length limit with it.
    """
    if not topics:
        return html, plain, None
    labels = [label for _, _, label in topics]
    line = matched_line(labels, t)
    if utf16_len(visible_text(html)) + utf16_len(visible_text(line)) + 2 <= MAX_MESSAGE_CHARS:
        html = f"{html}\n\n{line}"
        plain = utf16_cut(f"{plain}\n\n{matched_plain(labels, t)}", MAX_MESSAGE_CHARS)
    first_id, first_tag, first_label = topics[0]
    return html, plain, alert_keyboard(first_id, first_tag, first_label, t)
