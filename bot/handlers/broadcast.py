"""The operator's /broadcast: preview with Confirm / Cancel, then the outbox sends it."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest

from bot.db import repo
from bot.delivery.render import MAX_MESSAGE_CHARS, esc
from bot.handlers.commands import command_text, reply
from bot.state import Context, state

log = logging.getLogger(__name__)

CONFIRM = "bc:confirm:"
CANCEL = "bc:cancel:"
PREVIEW_CHARS = 3500


async def broadcast(update: Update, context: Context) -> None:
    """Show an admin a preview of the broadcast with Confirm and Cancel buttons."""
    app = state(context)
    user = update.effective_user
    chat = update.effective_chat
    if chat is None or not app.is_admin(user.id if user else None):
        await reply(update, "Sorry, only the bot's operators can broadcast.")
        return
    assert user is not None
    text = command_text(update)
    if not text:
        await reply(update, "Usage: /broadcast TEXT — I'll show a preview before sending.")
        return
    if len(text) > MAX_MESSAGE_CHARS:
        await reply(
            update,
            f"That message has {len(text)} characters; Telegram allows {MAX_MESSAGE_CHARS}. "
            "Please shorten it.",
        )
        return
    bc_id = await app.db(
        lambda s: repo.create_broadcast(
            session=s, admin_user_id=user.id, admin_chat_id=chat.id, text=text
        )
    )
    chats = await app.db(lambda s: len(repo.active_chat_ids(session=s)))
    shown = text if len(text) <= PREVIEW_CHARS else text[:PREVIEW_CHARS] + "…"
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Confirm", callback_data=f"{CONFIRM}{bc_id}"),
                InlineKeyboardButton("✖️ Cancel", callback_data=f"{CANCEL}{bc_id}"),
            ]
        ]
    )
    message = update.effective_message
    assert message is not None
    sent = await message.reply_text(
        f"<b>Broadcast preview</b> — to {chats} active chat{'s' if chats != 1 else ''}:\n\n"
        f"{esc(shown)}",
        parse_mode=ParseMode.HTML,
        reply_markup=buttons,
        do_quote=False,
    )
    await app.db(
        lambda s: repo.set_broadcast_message(
            session=s, broadcast_id=bc_id, message_id=sent.message_id
        )
    )


async def broadcast_button(update: Update, context: Context) -> None:
    """Confirm or cancel a broadcast from its preview's buttons."""
    app = state(context)
    query = update.callback_query
    if query is None or query.data is None:
        return
    if not app.is_admin(query.from_user.id):
        await query.answer("Only the bot's operators can do that.", show_alert=True)
        return
    confirm = query.data.startswith(CONFIRM)
    try:
        bc_id = int(query.data.removeprefix(CONFIRM if confirm else CANCEL))
    except ValueError:
        await query.answer("That button is out of date.")
        return
    if confirm:
        bc = await app.db(lambda s: repo.confirm_broadcast(session=s, broadcast_id=bc_id))
        if bc is None:
            await query.answer("This broadcast was already handled.")
            return
        if app.sender is not None:
            app.sender.wake()
        await query.answer("Sending…")
        status = f"📣 <b>Sending</b> to {bc.total} chat{'s' if bc.total != 1 else ''}…"
    else:
        cancelled = await app.db(lambda s: repo.cancel_broadcast(session=s, broadcast_id=bc_id))
        if cancelled is None:
            await query.answer("This broadcast was already handled.")
            return
        await query.answer("Cancelled.")
        status = "✖️ Broadcast cancelled; nothing was sent."
    try:
        await query.edit_message_text(status, parse_mode=ParseMode.HTML)
    except BadRequest as err:
        log.info("could not edit the broadcast preview: %s", err.message)


async def report_finished(context: Context) -> None:
    """Tell each admin how their finished broadcast went."""
    app = state(context)
    tallies = await app.db(lambda s: repo.finish_broadcasts(session=s))
    for tally in tallies:
        bc = tally.broadcast
        text = (
            f"📣 <b>Broadcast finished</b>: delivered to {tally.sent} of {bc.total} "
            f"chat{'s' if bc.total != 1 else ''}; {tally.failed} failed."
        )
        try:
            await context.bot.send_message(bc.admin_chat_id, text, parse_mode=ParseMode.HTML)
        except Exception as err:  # the tally is in the database either way
            log.warning("could not report broadcast %s to its admin: %s", bc.id, err)
