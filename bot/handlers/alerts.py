"""The buttons under an alert (mute a topic for a day, unfollow it, undo either) and the
"Show 3 latest" button after a subscription.

Alert buttons act for the chat the alert is in; in groups only its administrators may press
them, as with the catalog buttons. Each press is answered, and the alert's buttons are
edited to show what was done; a stale or forged press is answered and changes nothing.
"""

from __future__ import annotations

from telegram import CallbackQuery, Message, Update

from bot.delivery.alert_buttons import (
    BACKFILL_COUNT,
    MUTE_FOR,
    AlertAction,
    alert_keyboard,
    has_button,
    muted_keyboard,
    parse_alert_data,
    parse_backfill_data,
    unfollowed_keyboard,
    without_button,
)
from bot.delivery.render import format_time, render_alert
from bot.handlers.commands import alert_of
from bot.handlers.context import Context, chat_info, thread_of
from bot.handlers.guard import MANAGE_REFUSAL, may_manage
from bot.handlers.topics import ANSWER_CHARS, OUT_OF_DATE, limit_text, shorten
from bot.services.alerts import TopicStep
from bot.services.subscriptions import TopicLimitError

GONE = "That topic no longer exists. Send /subscribe TOPIC to follow it again."
ALREADY_SHOWN = "Those stories were shown already; /latest TOPIC shows more."
NOT_FOLLOWED = "This chat doesn't follow that topic (any more). /topics lists its topics."


def _answer(context: Context, query: CallbackQuery, text: str) -> None:
    context.door.answer(query, shorten(text, ANSWER_CHARS))


async def alert_button(update: Update, context: Context) -> None:
    """Mute, unmute, unfollow or follow again the topic an alert's button names."""
    query = update.callback_query
    if query is None:
        return
    press = parse_alert_data(query.data)
    message = query.message
    if press is None or not isinstance(message, Message):
        context.door.answer(query, OUT_OF_DATE)
        return
    if not await may_manage(update, context):
        context.door.answer(query, MANAGE_REFUSAL, show_alert=True)
        return
    alerts = context.services.alerts
    chat_id, topic_id, tag = message.chat.id, press.topic_id, press.tag
    if press.action in (AlertAction.FOLLOW, AlertAction.FOLLOW_CATALOG):
        thread_id = thread_of(message)
        try:
            if press.action is AlertAction.FOLLOW:
                step = await alerts.follow(
                    chat_info(message.chat), topic_id, tag, thread_id=thread_id
                )
            else:
                step = await alerts.follow_catalog(
                    chat_info(message.chat), topic_id, thread_id=thread_id
                )
        except TopicLimitError:
            context.door.answer(query, limit_text(), show_alert=True)
            return
    elif press.action is AlertAction.MUTE:
        step = await alerts.mute(chat_id, topic_id, tag, length=MUTE_FOR)
    elif press.action is AlertAction.UNMUTE:
        step = await alerts.unmute(chat_id, topic_id, tag)
    else:
        step = await alerts.unfollow(chat_id, topic_id, tag)
    _settle(context, query, message, press.action, step)


def _settle(
    context: Context, query: CallbackQuery, message: Message, action: AlertAction, step: TopicStep
) -> None:
    """Answer the press and show the new state on the alert's buttons."""
    topic = step.topic
    if topic is None:
        _answer(context, query, GONE)
        return
    if action is AlertAction.UNFOLLOW and not step.changed:
        _answer(context, query, NOT_FOLLOWED)
        return
    if action is not AlertAction.UNFOLLOW and not step.subscribed:
        _answer(context, query, NOT_FOLLOWED)
        return
    label = topic.label
    if action is AlertAction.MUTE:
        assert step.until is not None
        _answer(context, query, f"🔕 Muted {label} until {format_time(step.until)}.")
        keyboard = muted_keyboard(topic.id, topic.tag, label, step.until)
    elif action is AlertAction.UNMUTE:
        done = "Alerts for {} are back on." if step.changed else "{} wasn't muted any more."
        _answer(context, query, done.format(label))
        keyboard = alert_keyboard(topic.id, topic.tag, label)
    elif action is AlertAction.UNFOLLOW:
        _answer(context, query, f"Stopped following {label}.")
        keyboard = unfollowed_keyboard(topic.id, topic.tag, step.catalog_id)
    else:
        done = "✅ Following {} again." if step.changed else "This chat already follows {}."
        _answer(context, query, done.format(label))
        keyboard = alert_keyboard(topic.id, topic.tag, label)
    context.door.edit_markup(message.chat.id, message.message_id, keyboard)


async def backfill_button(update: Update, context: Context) -> None:
    """Send the newest stored stories of a topic the chat just followed, once."""
    query = update.callback_query
    if query is None:
        return
    pressed = parse_backfill_data(query.data)
    message = query.message
    if pressed is None or query.data is None or not isinstance(message, Message):
        context.door.answer(query, OUT_OF_DATE)
        return
    if not has_button(message.reply_markup, query.data):
        # Pressed again before the button was edited away: it was already used.
        _answer(context, query, ALREADY_SHOWN)
        return
    chat_id = message.chat.id
    topic_id, tag = pressed
    found = await context.services.alerts.backfill(chat_id, topic_id, tag, count=BACKFILL_COUNT)
    if found.label is None:
        _answer(context, query, NOT_FOLLOWED)
        return
    # The button goes first, so a second press finds nothing to press.
    remaining = without_button(message.reply_markup, query.data)
    context.door.edit_markup(chat_id, message.message_id, remaining)
    if not found.stories:
        _answer(context, query, f"No stored story matches {found.label} yet.")
        return
    count = len(found.stories)
    _answer(context, query, f"The {count} newest {'story' if count == 1 else 'stories'}")
    for story in found.stories:
        context.door.reply(message, render_alert(alert_of(story)))
