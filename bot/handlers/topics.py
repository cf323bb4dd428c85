"""A chat's topics: /subscribe, /unsubscribe, /topics, and the catalog's and /topics' buttons."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from telegram import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.delivery.alert_buttons import with_backfill
from bot.delivery.render import button_data, esc
from bot.handlers.context import (
    Context,
    chat_info,
    chat_translator,
    command_text,
    reply,
    thread_of,
)
from bot.handlers.guard import MANAGE_REFUSAL, may_manage
from bot.i18n import ENGLISH, N_, Translator
from bot.services.catalog import CatalogItem
from bot.services.subscriptions import MAX_TOPICS_PER_CHAT, ChatTopic, TopicLimitError
from bot.topics import QueryError
from bot.topics.catalog import BUILTIN_NAMES, catalog_label

# callback_data holds at most 64 bytes (Bot API, InlineKeyboardButton): ids, never queries.
CATALOG_DATA = "tc:"
REMOVE_DATA = "tr:"
BUTTONS_PER_ROW = 2
LABEL_CHARS = 40
LINE_CHARS = 70
# Telegram shows at most 200 characters in a button press's notification.
ANSWER_CHARS = 150
# Row ids are 64-bit integers; a larger number in callback data can't name one.
MAX_ID = 2**63 - 1

CATALOG_TEXT = N_(
    "<b>Pick your topics</b>: tap one to follow it, tap it again to drop it "
    "(✅ = this chat follows it).\n"
    "Anything else: <code>/subscribe kosovo</code>, or "
    '<code>/subscribe "climate change" -football</code>. /help explains topics.'
)
NO_CATALOG = N_(
    "There is no topic catalog to pick from. Follow any words: <code>/subscribe kosovo</code>."
)
NO_TOPICS = N_(
    "This chat follows no topics yet. Send /subscribe to pick some, or follow any words: "
    "<code>/subscribe kosovo</code>."
)
OUT_OF_DATE = N_("That button is out of date.")
PAUSED_NOTE = N_("Alerts are paused for this chat; send /start to resume them.")
SUBSCRIBE_USAGE = N_("Usage: /subscribe TOPIC, for example <code>/subscribe kosovo</code>")
UNSUBSCRIBE_USAGE = N_("Usage: /unsubscribe TOPIC, for example <code>/unsubscribe kosovo</code>")


def limit_text(limit: int = MAX_TOPICS_PER_CHAT, t: Translator = ENGLISH) -> str:
    """Return the refusal for a chat that follows as many topics as allowed."""
    return t.gettext(
        "This chat already follows {limit} topics, the most I allow. "
        "Use /topics to see them and drop some."
    ).format(limit=limit)


def shorten(text: str, limit: int) -> str:
    """Return text on one line, cut to about limit characters with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def catalog_name(raw: str, t: Translator) -> str:
    """Return the built-in name a chat wrote in its language ("Sport" → "Sports"), else raw."""
    wanted = raw.strip().casefold()
    for name in BUILTIN_NAMES:
        if t.gettext(name).casefold() == wanted:
            return name
    return raw


def button_id(data: str, prefix: str) -> int | None:
    """Return the id in a button's data, or None when it is not a usable row id."""
    digits = data.removeprefix(prefix)
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        return None
    number = int(digits)
    return number if 0 < number <= MAX_ID else None


# --- what chats see -------------------------------------------------------------------------


def catalog_keyboard(
    catalog: Sequence[CatalogItem], followed: Iterable[str], t: Translator = ENGLISH
) -> InlineKeyboardMarkup:
    """Return the catalog as toggle buttons, ✅ on those the chat follows."""
    followed = set(followed)
    buttons = [
        InlineKeyboardButton(
            f"{'✅ ' if item.canonical in followed else ''}{catalog_label(item.name, t)}",
            callback_data=button_data(CATALOG_DATA, item.id),
        )
        for item in catalog
    ]
    rows = [buttons[i : i + BUTTONS_PER_ROW] for i in range(0, len(buttons), BUTTONS_PER_ROW)]
    return InlineKeyboardMarkup(rows)


def topics_text(items: Sequence[ChatTopic], t: Translator = ENGLISH) -> str:
    """Return the /topics list: each topic on a line, catalog names in bold."""
    if not items:
        return t.gettext(NO_TOPICS)
    lines = []
    for item in items:
        shown = catalog_label(item.label, t) if item.catalog else item.label
        label = esc(shorten(shown, LINE_CHARS))
        lines.append(f"• <b>{label}</b>" if item.catalog else f"• {label}")
    head = t.ngettext(
        "<b>This chat follows {count} topic:</b>",
        "<b>This chat follows {count} topics:</b>",
        len(items),
    ).format(count=len(items))
    return (
        head
        + "\n"
        + "\n".join(lines)
        + "\n\n"
        + t.gettext("Tap ✖ to drop one. /subscribe adds more.")
    )


def topics_keyboard(items: Sequence[ChatTopic]) -> InlineKeyboardMarkup | None:
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


# --- commands -------------------------------------------------------------------------------


async def subscribe(update: Update, context: Context) -> None:
    """Subscribe the chat to a topic, or offer the catalog as buttons."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    t = await chat_translator(update, context)
    if not await may_manage(update, context):
        await reply(context, update, t.gettext(MANAGE_REFUSAL))
        return
    raw = command_text(update)
    if not raw:
        view = await context.services.subscriptions.catalog(chat_info(chat))
        if not view.items:
            context.door.reply(message, t.gettext(NO_CATALOG))
        else:
            keyboard = catalog_keyboard(view.items, view.followed, t)
            context.door.reply(message, t.gettext(CATALOG_TEXT), reply_markup=keyboard)
        return
    try:
        done = await context.services.subscriptions.subscribe(
            chat_info(chat), catalog_name(raw, t), thread_id=thread_of(message)
        )
    except QueryError as err:
        await reply(context, update, f"{esc(err.translated(t))}\n{t.gettext(SUBSCRIBE_USAGE)}")
        return
    except TopicLimitError:
        await reply(context, update, limit_text(t=t))
        return
    name = f"<b>{esc(catalog_label(done.label, t))}</b>"
    if done.created:
        text = t.gettext("✅ Subscribed to {name}. I'll send an alert when a new story matches.")
    else:
        text = t.gettext("You're already subscribed to {name}.")
    paused = "" if done.active else "\n\n" + t.gettext(PAUSED_NOTE)
    # Nothing is sent unasked: the newest stored stories come on a press of this button.
    offer = None
    if done.topic_id is not None:
        offer = with_backfill(None, done.topic_id, done.topic_tag, t=t)
    context.door.reply(message, text.format(name=name) + paused, reply_markup=offer)


async def unsubscribe(update: Update, context: Context) -> None:
    """Remove one of the chat's topics."""
    chat = update.effective_chat
    if chat is None:
        return
    t = await chat_translator(update, context)
    if not await may_manage(update, context):
        await reply(context, update, t.gettext(MANAGE_REFUSAL))
        return
    raw = command_text(update)
    if not raw:
        ask = t.gettext("Tell me which topic to drop.")
        await reply(context, update, f"{ask} {t.gettext(UNSUBSCRIBE_USAGE)}")
        return
    try:
        done = await context.services.subscriptions.unsubscribe(chat.id, catalog_name(raw, t))
    except QueryError as err:
        await reply(context, update, f"{esc(err.translated(t))}\n{t.gettext(UNSUBSCRIBE_USAGE)}")
        return
    label = esc(catalog_label(done.label, t))
    if done.removed:
        await reply(
            context, update, t.gettext("Unsubscribed from <b>{label}</b>.").format(label=label)
        )
    else:
        await reply(
            context,
            update,
            t.gettext(
                "This chat isn't subscribed to <b>{label}</b>. /topics lists the topics it follows."
            ).format(label=label),
        )


async def topics(update: Update, context: Context) -> None:
    """List the chat's topics, each with a button that drops it."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    t = await chat_translator(update, context)
    items = await context.services.subscriptions.topics(chat.id)
    context.door.reply(message, topics_text(items, t), reply_markup=topics_keyboard(items))


# --- buttons --------------------------------------------------------------------------------


async def _pressed(
    update: Update, context: Context, prefix: str, t: Translator
) -> tuple[CallbackQuery, Message, int] | None:
    """Check a button press (its data, its message, who pressed); answer and give None if bad."""
    query = update.callback_query
    if query is None or query.data is None:
        return None
    item_id = button_id(query.data, prefix)
    message = query.message
    if item_id is None or not isinstance(message, Message):
        context.door.answer(query, t.gettext(OUT_OF_DATE))
        return None
    if not await may_manage(update, context):
        context.door.answer(query, t.gettext(MANAGE_REFUSAL), show_alert=True)
        return None
    return query, message, item_id


async def catalog_button(update: Update, context: Context) -> None:
    """Follow or drop a catalog topic, then show the new state on the same message."""
    t = await chat_translator(update, context)
    pressed = await _pressed(update, context, CATALOG_DATA, t)
    if pressed is None:
        return
    query, message, catalog_id = pressed
    chat = message.chat
    try:
        toggled = await context.services.subscriptions.toggle(
            chat_info(chat), catalog_id, thread_id=thread_of(message)
        )
    except TopicLimitError:
        context.door.answer(query, limit_text(t=t), show_alert=True)
        return
    if toggled.name is None:
        context.door.answer(query, t.gettext("That topic is no longer in the catalog."))
    elif toggled.subscribed:
        following = t.gettext("✅ Following {name}").format(name=catalog_label(toggled.name, t))
        context.door.answer(query, shorten(following, ANSWER_CHARS))
    else:
        stopped = t.gettext("Stopped following {name}").format(name=catalog_label(toggled.name, t))
        context.door.answer(query, shorten(stopped, ANSWER_CHARS))
    keyboard = catalog_keyboard(toggled.view.items, toggled.view.followed, t)
    if toggled.subscribed and toggled.topic_id is not None:
        keyboard = with_backfill(keyboard, toggled.topic_id, toggled.topic_tag, toggled.name, t)
    context.door.edit_markup(chat.id, message.message_id, keyboard)


async def remove_button(update: Update, context: Context) -> None:
    """Drop one of the chat's topics from /topics, then show the shorter list."""
    t = await chat_translator(update, context)
    pressed = await _pressed(update, context, REMOVE_DATA, t)
    if pressed is None:
        return
    query, message, topic_id = pressed
    chat_id = message.chat.id
    dropped = await context.services.subscriptions.drop(chat_id, topic_id)
    if dropped.label is None:
        context.door.answer(query, t.gettext("This chat no longer follows that topic."))
    else:
        stopped = t.gettext("Stopped following {name}").format(name=catalog_label(dropped.label, t))
        context.door.answer(query, shorten(stopped, ANSWER_CHARS))
    items = dropped.topics
    context.door.edit_text(
        chat_id, message.message_id, topics_text(items, t), reply_markup=topics_keyboard(items)
    )
