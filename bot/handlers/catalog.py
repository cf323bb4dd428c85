"""Operators edit the topic catalog: /addtopic and /removetopic."""

from __future__ import annotations

from telegram import Update

from bot.delivery.render import esc
from bot.handlers.context import Context, command_text, reply, sender_is_admin
from bot.handlers.topics import shorten
from bot.topics.catalog import CatalogError, make_entry

ADDTOPIC_USAGE = (
    "Usage: /addtopic NAME QUERY, for example "
    '<code>/addtopic Climate climate OR "global warming"</code>'
)
REMOVETOPIC_USAGE = "Usage: /removetopic NAME, for example <code>/removetopic Climate</code>"
OPERATORS_ONLY = "Sorry, only the bot's operators can change the topic list."


async def addtopic(update: Update, context: Context) -> None:
    """Operators: add a named topic to the catalog, or change the query of one."""
    if not sender_is_admin(update, context):
        await reply(context, update, OPERATORS_ONLY)
        return
    name, _, query = command_text(update).replace("\n", " ").partition(" ")
    if not name or not query.strip():
        await reply(context, update, ADDTOPIC_USAGE)
        return
    try:
        entry = make_entry(name, query)
    except CatalogError as err:
        await reply(context, update, f"{esc(str(err))}\n{ADDTOPIC_USAGE}")
        return
    try:
        saved = await context.services.catalog.add(entry)
    except CatalogError as err:
        await reply(context, update, esc(str(err)))
        return
    shown = f"<b>{esc(saved.name)}</b> = <code>{esc(saved.query)}</code>"
    if saved.created:
        await reply(context, update, f"Added {shown} to the topic list.")
    else:
        moved = f" {saved.moved} chat(s) now follow the new query." if saved.moved else ""
        await reply(context, update, f"Updated {shown}.{moved}")


async def removetopic(update: Update, context: Context) -> None:
    """Operators: take a named topic out of the catalog."""
    if not sender_is_admin(update, context):
        await reply(context, update, OPERATORS_ONLY)
        return
    name = command_text(update)
    if not name:
        await reply(context, update, REMOVETOPIC_USAGE)
        return
    removed = await context.services.catalog.remove(name)
    if removed is None:
        await reply(
            context,
            update,
            f"The topic list has no <b>{esc(shorten(name, 40))}</b>. /subscribe shows the list.",
        )
        return
    await reply(
        context,
        update,
        f"Removed <b>{esc(removed.name)}</b> from the topic list. Chats that follow it keep "
        f"its query, <code>{esc(removed.query)}</code>.",
    )
