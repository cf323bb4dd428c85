"""Operators edit the topic catalog: /addtopic and /removetopic."""

from __future__ import annotations

from telegram import Update

from bot.delivery.render import esc
from bot.handlers.context import Context, chat_translator, command_text, reply, sender_is_admin
from bot.handlers.topics import shorten
from bot.i18n import N_
from bot.topics.catalog import CatalogError, make_entry

ADDTOPIC_USAGE = N_(
    "Usage: /addtopic NAME QUERY, for example "
    '<code>/addtopic Climate climate OR "global warming"</code>'
)
REMOVETOPIC_USAGE = N_("Usage: /removetopic NAME, for example <code>/removetopic Climate</code>")
OPERATORS_ONLY = N_("Sorry, only the bot's operators can change the topic list.")


async def addtopic(update: Update, context: Context) -> None:
    """Operators: add a named topic to the catalog, or change the query of one."""
    t = await chat_translator(update, context)
    if not sender_is_admin(update, context):
        await reply(context, update, t.gettext(OPERATORS_ONLY))
        return
    name, _, query = command_text(update).replace("\n", " ").partition(" ")
    if not name or not query.strip():
        await reply(context, update, t.gettext(ADDTOPIC_USAGE))
        return
    try:
        entry = make_entry(name, query)
    except CatalogError as err:
        await reply(context, update, f"{esc(str(err))}\n{t.gettext(ADDTOPIC_USAGE)}")
        return
    try:
        saved = await context.services.catalog.add(entry)
    except CatalogError as err:
        await reply(context, update, esc(str(err)))
        return
    shown = f"<b>{esc(saved.name)}</b> = <code>{esc(saved.query)}</code>"
    if saved.created:
        await reply(
            context, update, t.gettext("Added {topic} to the topic list.").format(topic=shown)
        )
    else:
        moved = (
            " " + t.gettext("{count} chat(s) now follow the new query.").format(count=saved.moved)
            if saved.moved
            else ""
        )
        await reply(context, update, t.gettext("Updated {topic}.").format(topic=shown) + moved)


async def removetopic(update: Update, context: Context) -> None:
    """Operators: take a named topic out of the catalog."""
    t = await chat_translator(update, context)
    if not sender_is_admin(update, context):
        await reply(context, update, t.gettext(OPERATORS_ONLY))
        return
    name = command_text(update)
    if not name:
        await reply(context, update, t.gettext(REMOVETOPIC_USAGE))
        return
    removed = await context.services.catalog.remove(name)
    if removed is None:
        await reply(
            context,
            update,
            t.gettext("The topic list has no <b>{name}</b>. /subscribe shows the list.").format(
                name=esc(shorten(name, 40))
            ),
        )
        return
    await reply(
        context,
        update,
        t.gettext(
            "Removed <b>{name}</b> from the topic list. Chats that follow it keep "
            "its query, <code>{query}</code>."
        ).format(name=esc(removed.name), query=esc(removed.query)),
    )
