"""The topic catalog as buttons, /topics' remove buttons, and loading the catalog at start."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlmodel import Session
from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from telegram import Chat as TgChat

from bot.config import Settings, SettingsError
from bot.db import repo
from bot.db import topics as topics_db
from bot.db.models import CatalogTopic
from bot.delivery.render import button_data, esc
from bot.handlers.guard import MANAGE_REFUSAL, may_manage
from bot.state import AppState, Context, door, state
from bot.topics import Query, parse_query
from bot.topics.catalog import (
    CatalogError,
    CatalogPlan,
    load_catalog_file,
    name_key,
    plan_catalog,
)

log = logging.getLogger(__name__)

# callback_data holds at most 64 bytes (Bot API, InlineKeyboardButton): ids, never queries.
CATALOG_DATA = "tc:"
REMOVE_DATA = "tr:"
CATALOG_PLAN_KEY = "newsbot-catalog-plan"
BUTTONS_PER_ROW = 2
LABEL_CHARS = 40
LINE_CHARS = 70
# Telegram shows at most 200 characters in a button press's notification.
ANSWER_CHARS = 150

CATALOG_TEXT = (
    "<b>Pick your topics</b>: tap one to follow it, tap it again to drop it "
    "(✅ = this chat follows it).\n"
    "Anything else: <code>/subscribe kosovo</code>, or "
    '<code>/subscribe "climate change" -football</code>. /help explains topics.'
)
NO_CATALOG = (
    "There is no topic catalog to pick from. Follow any words: <code>/subscribe kosovo</code>."
)
NO_TOPICS = (
    "This chat follows no topics yet. Send /subscribe to pick some, or follow any words: "
    "<code>/subscribe kosovo</code>."
)
OUT_OF_DATE = "That button is out of date."


def limit_text(limit: int = repo.MAX_TOPICS_PER_CHAT) -> str:
    """Return the refusal for a chat that follows as many topics as allowed."""
    return (
        f"This chat already follows {limit} topics, the most I allow. "
        "Use /topics to see them and drop some."
    )


def shorten(text: str, limit: int) -> str:
    """Return text on one line, cut to about limit characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class TopicChoice:
    """What a chat asked for: a catalog topic (by name or by its query) or its own query."""

    query: Query
    name: str | None

    @property
    def label(self) -> str:
        """Return the name the chat sees."""
        return self.name or self.query.display


def choose_topic(raw: str, catalog: Sequence[CatalogTopic]) -> TopicChoice:
    """Return the catalog topic named raw (any case), else raw parsed as a query.

    Raise QueryError with a message for the user when raw is neither.
    """
    key = name_key(raw)
    for row in catalog:
        if row.key == key:
            return TopicChoice(query=parse_query(row.query), name=row.name)
    query = parse_query(raw)
    name = next((row.name for row in catalog if row.canonical == query.canonical), None)
    return TopicChoice(query=query, name=name)


def thread_of(message: Message) -> int | None:
    """Return the forum topic (thread) a message belongs to, or None outside forums."""
    if message.is_topic_message or message.chat.is_forum:
        return message.message_thread_id
    return None


def chat_fields(chat: TgChat) -> tuple[int, str, str | None]:
    """Return the chat's id, type and a title to store."""
    title = chat.title or chat.full_name or chat.username
    return chat.id, chat.type, title


async def remember_chat(app: AppState, chat: TgChat) -> bool:
    """Make sure the chat is stored; return whether it receives alerts."""
    chat_id, chat_type, title = chat_fields(chat)
    row = await app.db(
        lambda s: repo.ensure_chat(session=s, chat_id=chat_id, chat_type=chat_type, title=title)
    )
    return row.active


# --- keyboards -----------------------------------------------------------------------------


def catalog_keyboard(
    catalog: Sequence[CatalogTopic], followed: Iterable[str]
) -> InlineKeyboardMarkup:
    """Return the catalog as toggle buttons, ✅ on those the chat follows."""
    followed = set(followed)
    buttons = []
    for row in catalog:
        mark = "✅ " if row.canonical in followed else ""
        buttons.append(
            InlineKeyboardButton(
                f"{mark}{row.name}", callback_data=button_data(CATALOG_DATA, row.id or 0)
            )
        )
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def topics_text(items: Sequence[topics_db.ChatTopic]) -> str:
    """Return the /topics list: each topic on a line, catalog names in bold."""
    if not items:
        return NO_TOPICS
    lines = []
    for item in items:
        label = esc(shorten(item.label, LINE_CHARS))
        lines.append(f"• <b>{label}</b>" if item.catalog else f"• {label}")
    count = f"{len(items)} topic{'s' if len(items) != 1 else ''}"
    return (
        f"<b>This chat follows {count}:</b>\n"
        + "\n".join(lines)
        + "\n\nTap ✖ to drop one. /subscribe adds more."
    )


def topics_keyboard(items: Sequence[topics_db.ChatTopic]) -> InlineKeyboardMarkup | None:
    """Return one remove button per topic, or None when there are none."""
    if not items:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    f"✖ {shorten(item.label, LABEL_CHARS)}",
                    callback_data=button_data(REMOVE_DATA, item.topic_id),
                )
            ]
            for item in items
        ]
    )


# --- commands' answers ---------------------------------------------------------------------


async def send_catalog(update: Update, context: Context) -> None:
    """Answer with the catalog as buttons (the caller checked the sender may change topics)."""
    app = state(context)
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    await remember_chat(app, chat)
    catalog, followed = await app.db(
        lambda s: (
            topics_db.catalog_topics(session=s),
            topics_db.chat_canonicals(session=s, chat_id=chat.id),
        )
    )
    if not catalog:
        door(context).reply(message, NO_CATALOG)
        return
    door(context).reply(message, CATALOG_TEXT, reply_markup=catalog_keyboard(catalog, followed))


async def send_topics(update: Update, context: Context) -> None:
    """Answer with the chat's topics, each with a button that drops it."""
    app = state(context)
    message = update.effective_message
    chat = update.effective_chat
    if message is None or chat is None:
        return
    items = await app.db(lambda s: topics_db.chat_topic_list(session=s, chat_id=chat.id))
    door(context).reply(message, topics_text(items), reply_markup=topics_keyboard(items))


# --- buttons -------------------------------------------------------------------------------


# Row ids are 64-bit integers; a larger number in callback data can't name one.
MAX_ID = 2**63 - 1


def button_id(data: str, prefix: str) -> int | None:
    """Return the id in a button's data, or None when it is not a usable row id."""
    digits = data.removeprefix(prefix)
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


async def _pressed(
    update: Update, context: Context, prefix: str
) -> tuple[CallbackQuery, Message, int] | None:
    """Check a button press (its data, its message, who pressed); answer and give None if bad."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    item_id = button_id(query.data, prefix)
    message = query.message
    if item_id is None or not isinstance(message, Message):
        door(context).answer(query, OUT_OF_DATE)
        return None
    if not await may_manage(update, context):
        door(context).answer(query, MANAGE_REFUSAL, show_alert=True)
        return None
    return query, message, item_id


async def catalog_button(update: Update, context: Context) -> None:
    """Follow or drop a catalog topic, then show the new state on the same message."""
    app = state(context)
    pressed = await _pressed(update, context, CATALOG_DATA)
    if pressed is None:
        return
    query, message, catalog_id = pressed
    chat = message.chat
    await remember_chat(app, chat)
    thread_id = thread_of(message)
    try:
        toggle = await app.db(
            lambda s: topics_db.toggle_catalog_topic(
                session=s, chat_id=chat.id, catalog_id=catalog_id, thread_id=thread_id
            )
        )
    except repo.TopicLimitError:
        door(context).answer(query, limit_text(), show_alert=True)
        return
    if toggle is None:
        door(context).answer(query, "That topic is no longer in the catalog.")
    elif toggle.subscribed:
        door(context).answer(query, shorten(f"✅ Following {toggle.topic.name}", ANSWER_CHARS))
    else:
        door(context).answer(query, shorten(f"Stopped following {toggle.topic.name}", ANSWER_CHARS))
    catalog, followed = await app.db(
        lambda s: (
            topics_db.catalog_topics(session=s),
            topics_db.chat_canonicals(session=s, chat_id=chat.id),
        )
    )
    door(context).edit_markup(chat.id, message.message_id, catalog_keyboard(catalog, followed))


async def remove_button(update: Update, context: Context) -> None:
    """Drop one of the chat's topics from /topics, then show the shorter list."""
    app = state(context)
    pressed = await _pressed(update, context, REMOVE_DATA)
    if pressed is None:
        return
    query, message, topic_id = pressed
    chat_id = message.chat.id

    def work(s: Session) -> tuple[str | None, list[topics_db.ChatTopic]]:
        names = topics_db.catalog_names(session=s)
        topic = topics_db.unsubscribe_topic(session=s, chat_id=chat_id, topic_id=topic_id)
        label = None if topic is None else names.get(topic.canonical, topic.display)
        return label, topics_db.chat_topic_list(session=s, chat_id=chat_id)

    label, items = await app.db(work)
    if label is None:
        door(context).answer(query, "This chat no longer follows that topic.")
    else:
        door(context).answer(query, shorten(f"Stopped following {label}", ANSWER_CHARS))
    door(context).edit_text(
        chat_id, message.message_id, topics_text(items), reply_markup=topics_keyboard(items)
    )


# --- start-up ------------------------------------------------------------------------------


def catalog_plan(settings: Settings) -> CatalogPlan:
    """Read TOPICS_FILE (if set) into the catalog to apply; raise SettingsError if unusable."""
    path = settings.topics_file
    try:
        source = None if path is None else load_catalog_file(path)
    except CatalogError as err:
        raise SettingsError(f"TOPICS_FILE {err}") from None
    try:
        return plan_catalog(source)
    except CatalogError as err:
        raise SettingsError(f"TOPICS_FILE {path}: {err}") from None


async def apply_catalog(app: AppState, plan: CatalogPlan) -> None:
    """Store the catalog of the plan."""
    report = await app.db(
        lambda s: topics_db.sync_catalog(session=s, entries=plan.entries, replace=plan.replace)
    )
    if report.added or report.updated or report.removed:
        log.info(
            "topic catalog: %d added, %d updated, %d removed",
            report.added,
            report.updated,
            report.removed,
        )
