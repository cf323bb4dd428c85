"""A chat's language: /language CODE, or /language with a button per language."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.delivery.render import esc
from bot.handlers.context import (
    Context,
    chat_info,
    chat_language,
    chat_translator,
    command_text,
    reply,
)
from bot.handlers.guard import may_manage
from bot.handlers.topics import OUT_OF_DATE, shorten
from bot.i18n import FLAGS, N_, NAMES, SUPPORTED, Translator, parse_language, translator

# callback_data: "lg:" and a language code from SUPPORTED.
LANGUAGE_DATA = "lg:"
LANGUAGE_PATTERN = r"^lg:[a-z]{2}$"

LANGUAGE_MENU = N_(
    "<b>Language</b>: this chat reads me in {language}. Tap a button to switch, "
    "or send <code>/language de</code>. News stories stay in their own language."
)
LANGUAGE_SET = N_("✅ Language: {language}. News stories stay in their own language.")
LANGUAGE_REFUSAL = N_("Only this chat's administrators can change its language.")
LANGUAGE_UNKNOWN = N_(
    "I don't speak <b>{wanted}</b>. Choose one of: {choices}, e.g. <code>/language de</code>."
)


def choices() -> str:
    """Return the languages as "en (English), de (Deutsch), …"."""
    return ", ".join(f"<code>{code}</code> ({NAMES[code]})" for code in SUPPORTED)


def language_keyboard(current: str) -> InlineKeyboardMarkup:
    """Return one button per language, ✅ on the chat's."""
    buttons = [
        InlineKeyboardButton(
            f"{'✅ ' if code == current else ''}{FLAGS[code]} {NAMES[code]}",
            callback_data=f"{LANGUAGE_DATA}{code}",
        )
        for code in SUPPORTED
    ]
    return InlineKeyboardMarkup([buttons[i : i + 2] for i in range(0, len(buttons), 2)])


def menu_text(t: Translator, current: str) -> str:
    """Return the /language menu's text in the chat's language."""
    return t.gettext(LANGUAGE_MENU).format(language=NAMES[current])


async def language(update: Update, context: Context) -> None:
    """Show the language buttons, or switch the chat to the language named."""
    message, chat = update.effective_message, update.effective_chat
    if message is None or chat is None:
        return
    t = await chat_translator(update, context)
    if not await may_manage(update, context):
        await reply(context, update, t.gettext(LANGUAGE_REFUSAL))
        return
    raw = command_text(update)
    if not raw:
        current = await chat_language(update, context)
        context.door.reply(message, menu_text(t, current), reply_markup=language_keyboard(current))
        return
    code = parse_language(raw)
    if code is None:
        wanted = esc(shorten(raw, 30))
        await reply(
            context, update, t.gettext(LANGUAGE_UNKNOWN).format(wanted=wanted, choices=choices())
        )
        return
    await context.services.chats.set_language(chat_info(chat), code)
    context.bot_data.languages.put(chat.id, code)
    await reply(
        context, update, translator(code).gettext(LANGUAGE_SET).format(language=NAMES[code])
    )


async def language_button(update: Update, context: Context) -> None:
    """Switch the chat's language from a button, then redraw the menu in it."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    t = await chat_translator(update, context)
    code = query.data.removeprefix(LANGUAGE_DATA)
    message = query.message
    if code not in SUPPORTED or not isinstance(message, Message):
        context.door.answer(query, t.gettext(OUT_OF_DATE))
        return
    if not await may_manage(update, context):
        context.door.answer(query, t.gettext(LANGUAGE_REFUSAL), show_alert=True)
        return
    await context.services.chats.set_language(chat_info(message.chat), code)
    context.bot_data.languages.put(message.chat.id, code)
    now = translator(code)
    context.door.answer(query, shorten(now.gettext(LANGUAGE_SET).format(language=NAMES[code]), 150))
    context.door.edit_text(
        message.chat.id,
        message.message_id,
        menu_text(now, code),
        reply_markup=language_keyboard(code),
    )
