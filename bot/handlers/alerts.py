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
    local_clock,
    muted_keyboard,
    parse_alert_data,
    parse_backfill_data,
    unfollowed_keyboard,
    without_button,
)
from bot.delivery.render import render_alert
from bot.handlers.commands import alert_of
from bot.handlers.context import Context, chat_info, chat_translator, thread_of
from bot.handlers.guard import MANAGE_REFUSAL, may_manage
from bot.handlers.topics import ANSWER_CHARS, OUT_OF_DATE, limit_text, shorten
from bot.i18n import N_, Translator
from bot.services.alerts import TopicStep
from bot.services.subscriptions import TopicLimitError
from bot.topics.catalog import catalog_label

GONE = N_("That topic no longer exists. Send /subscribe TOPIC to follow it again.")
ALREADY_SHOWN = N_("Those stories were shown already; /latest TOPIC shows more.")
NOT_FOLLOWED = N_("This chat doesn't follow that topic (any more). /topics lists its topics.")


def _answer(context: Context, query: CallbackQuery, text: str) -> None:
    context.door.answer(query, shorten(text, ANSWER_CHARS))


async def alert_button(update: Update, context: Context) -> None:
    """Mute, unmute, unfollow or follow again the topic an alert's button names."""
    query = update.callback_query
    if query is None:
        return
    t = await chat_translator(update, context)
    press = parse_alert_data(query.data)
    message = query.message
    if press is None or not isinstance(message, Message):
        context.door.answer(query, t.gettext(OUT_OF_DATE))
        return
    if not await may_manage(update, context):
        context.door.answer(query, t.gettext(MANAGE_REFUSAL), show_alert=True)
        return
    alerts = context.services.alerts
    chat_id, topic_id, tag = message.chat.id, press.topic_id, press.tag
    zone_name = "UTC"  # the mute's end is shown in the chat's zone
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
            context.door.answer(query, limit_text(t=t), show_alert=True)
            return
    elif press.action is AlertAction.MUTE:
        step = await alerts.mute(chat_id, topic_id, tag, length=MUTE_FOR)
        zone_name = (await context.services.preferences.get(chat_id)).timezone
    elif press.action is AlertAction.UNMUTE:
        step = await alerts.unmute(chat_id, topic_id, tag)
    else:
        step = await alerts.unfollow(chat_id, topic_id, tag)
    _settle(context, query, message, press.action, step, t, zone_name)


def _settle(
    context: Context,
    query: CallbackQuery,
    message: Message,
    action: AlertAction,
    step: TopicStep,
    t: Translator,
    zone_name: str,
) -> None:
    """Answer the press and show the new state on the alert's buttons."""
    topic = step.topic
    if topic is None:
        _answer(context, query, t.gettext(GONE))
        return
    if action is AlertAction.UNFOLLOW and not step.changed:
        _answer(context, query, t.gettext(NOT_FOLLOWED))
        return
    if action is not AlertAction.UNFOLLOW and not step.subscribed:
        _answer(context, query, t.gettext(NOT_FOLLOWED))
        return
    label = topic.label
    name = catalog_label(label, t)
    if action is AlertAction.MUTE:
        assert step.until is not None
        until = local_clock(step.until, zone_name)
        _answer(
            context, query, t.gettext("🔕 Muted {name} until {time}.").format(name=name, time=until)
        )
        keyboard = muted_keyboard(topic.id, topic.tag, label, step.until, zone_name, t)
    elif action is AlertAction.UNMUTE:
        if step.changed:
            done = t.gettext("Alerts for {name} are back on.")
        else:
            done = t.gettext("{name} wasn't muted any more.")
        _answer(context, query, done.format(name=name))
        keyboard = alert_keyboard(topic.id, topic.tag, label, t)
    elif action is AlertAction.UNFOLLOW:
        _answer(context, query, t.gettext("Stopped following {name}.").format(name=name))
        keyboard = unfollowed_keyboard(topic.id, topic.tag, step.catalog_id, t)
    else:
        if step.changed:
            done = t.gettext("✅ Following {name} again.")
        else:
            done = t.gettext("This chat already follows {name}.")
        _answer(context, query, done.format(name=name))
        keyboard = alert_keyboard(topic.id, topic.tag, label, t)
    context.door.edit_markup(message.chat.id, message.message_id, keyboard)


async def backfill_button(update: Update, context: Context) -> None:
    """Send the newest stored stories of a topic the chat just followed, once."""
    query = update.callback_query
    if query is None:
        return
    t = await chat_translator(update, context)
    pressed = parse_backfill_data(query.data)
    message = query.message
    if pressed is None or query.data is None or not isinstance(message, Message):
        context.door.answer(query, t.gettext(OUT_OF_DATE))
        return
    if not has_button(message.reply_markup, query.data):
        # Pressed again before the button was edited away: it was already used.
        _answer(context, query, t.gettext(ALREADY_SHOWN))
        return
    chat_id = message.chat.id
    topic_id, tag = pressed
    found = await context.services.alerts.backfill(chat_id, topic_id, tag, count=BACKFILL_COUNT)
    if found.label is None:
        _answer(context, query, t.gettext(NOT_FOLLOWED))
        return
    # The button goes first, so a second press finds nothing to press.
    remaining = without_button(message.reply_markup, query.data)
    context.door.edit_markup(chat_id, message.message_id, remaining)
    if not found.stories:
        name = catalog_label(found.label, t)
        _answer(context, query, t.gettext("No stored story matches {name} yet.").format(name=name))
        return
    count = len(found.stories)
    newest = t.ngettext("The {count} newest story", "The {count} newest stories", count)
    _answer(context, query, newest.format(count=count))
    for story in found.stories:
        context.door.reply(message, render_alert(alert_of(story), t))
