"""The operator's /broadcast: preview with Confirm / Cancel, progress, status; the outbox sends."""

from __future__ import annotations

import logging
import time
from datetime import datetime
from functools import partial

from sqlmodel import Session
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError

from bot.db import outbox, repo
from bot.db.outbox import BroadcastTally
from bot.delivery.render import MAX_MESSAGE_CHARS, esc, format_time
from bot.handlers.commands import command_text, reply
from bot.state import Context, state

log = logging.getLogger(__name__)

CONFIRM = "bc:confirm:"
CANCEL = "bc:cancel:"
PREVIEW_CHARS = 3500
STATUS_WORD = "status"
RECENT = 5
# The preview message shows progress at most this often: edits count against the chat's
# flood limit like messages do.
PROGRESS_EVERY = 3.0
PROGRESS_KEY = "broadcast-progress"


def plural(n: int, word: str) -> str:
    """Return '1 chat', '2 chats'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def progress_text(tally: BroadcastTally) -> str:
    """Return the preview's text while the broadcast is being sent."""
    total = tally.broadcast.total
    return (
        f"📣 <b>Sending</b> to {plural(total, 'chat')}: {tally.sent:,} sent, "
        f"{tally.failed:,} failed, {tally.pending:,} waiting."
    )


def finished_text(tally: BroadcastTally) -> str:
    """Return the final tally (the preview's last edit and the admin's report)."""
    total = tally.broadcast.total
    text = (
        f"📣 <b>Broadcast finished</b>: delivered to {tally.sent:,} of {plural(total, 'chat')}; "
        f"{tally.failed:,} failed."
    )
    if tally.unknown:
        text += f" {tally.unknown:,} may or may not have arrived (the connection broke)."
    return text


def _when(value: datetime | None) -> str:
    return format_time(value) if value is not None else "—"


def status_text(*, sending: list[BroadcastTally], recent: list[BroadcastTally]) -> str:
    """Return the /broadcast status report: running broadcasts, then recent ones."""
    if not sending and not recent:
        return "📣 No broadcasts yet. Send one with /broadcast TEXT."
    lines = ["📣 <b>Broadcasts</b>"]
    running = {t.broadcast.id for t in sending}
    for t in sending:
        lines.append(
            f"#{t.broadcast.id} <b>sending</b> since {_when(t.broadcast.confirmed_at)}: "
            f"{t.sent:,} of {t.broadcast.total:,} sent, {t.failed:,} failed, "
            f"{t.pending:,} waiting"
        )
    for t in recent:
        if t.broadcast.id in running:
            continue
        lines.append(
            f"#{t.broadcast.id} done {_when(t.broadcast.finished_at)}: delivered to "
            f"{t.sent:,} of {t.broadcast.total:,}; {t.failed:,} failed"
            + (f"; {t.unknown:,} unknown" if t.unknown else "")
        )
    return "\n".join(lines)


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
        await reply(
            update,
            "Usage: /broadcast TEXT — I'll show a preview before sending. "
            "/broadcast status shows running and recent broadcasts.",
        )
        return
    if text.lower() == STATUS_WORD:
        await broadcast_status(update, context)
        return
    if len(text) > MAX_MESSAGE_CHARS:
        await reply(
            update,
            f"That message has {len(text)} characters; Telegram allows {MAX_MESSAGE_CHARS}. "
            "Please shorten it.",
        )
        return
    bc_id = await app.db(
        lambda s: outbox.create_broadcast(
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
        f"<b>Broadcast preview</b> — to {plural(chats, 'active chat')}:\n\n{esc(shown)}",
        parse_mode=ParseMode.HTML,
        reply_markup=buttons,
        do_quote=False,
    )
    await app.db(
        lambda s: outbox.set_broadcast_message(
            session=s, broadcast_id=bc_id, message_id=sent.message_id
        )
    )


async def broadcast_status(update: Update, context: Context) -> None:
    """Show the running and recent broadcasts (admins only; the caller checked)."""
    app = state(context)
    sending = await app.db(lambda s: outbox.sending_broadcasts(session=s))
    recent = await app.db(lambda s: outbox.recent_broadcasts(session=s, limit=RECENT))
    await reply(update, status_text(sending=sending, recent=recent))


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
        bc = await app.db(lambda s: outbox.confirm_broadcast(session=s, broadcast_id=bc_id))
        if bc is None:
            await query.answer("This broadcast was already handled.")
            return
        if app.sender is not None:
            app.sender.wake()
        await query.answer("Sending…")
        status = f"📣 <b>Sending</b> to {plural(bc.total, 'chat')}…"
    else:
        cancelled = await app.db(lambda s: outbox.cancel_broadcast(session=s, broadcast_id=bc_id))
        if cancelled is None:
            await query.answer("This broadcast was already handled.")
            return
        await query.answer("Cancelled.")
        status = "✖️ Broadcast cancelled; nothing was sent."
    try:
        await query.edit_message_text(status, parse_mode=ParseMode.HTML)
    except BadRequest as err:
        log.info("could not edit the broadcast preview: %s", err.message)


async def _edit_preview(context: Context, tally: BroadcastTally, text: str) -> None:
    bc = tally.broadcast
    if bc.admin_message_id is None:
        return
    try:
        await context.bot.edit_message_text(
            text,
            chat_id=bc.admin_chat_id,
            message_id=bc.admin_message_id,
            parse_mode=ParseMode.HTML,
        )
    except BadRequest as err:
        if "not modified" not in err.message.lower():
            log.info("could not show broadcast %s progress: %s", bc.id, err.message)
    except TelegramError as err:
        log.info("could not show broadcast %s progress: %s", bc.id, err)


def _finish(session: Session, *, broadcast_id: int) -> bool:
    return outbox.finish_broadcast(session=session, broadcast_id=broadcast_id)


async def report_progress(context: Context) -> None:
    """Job: show each running broadcast's progress on its preview; report finished ones."""
    app = state(context)
    shown: dict[int, tuple[float, str]] = context.bot_data.setdefault(PROGRESS_KEY, {})
    tallies = await app.db(lambda s: outbox.sending_broadcasts(session=s))
    now = time.monotonic()
    for tally in tallies:
        bc = tally.broadcast
        assert bc.id is not None
        bc_id = bc.id
        if tally.pending == 0:
            if not await app.db(partial(_finish, broadcast_id=bc_id)):
                continue
            shown.pop(bc_id, None)
            text = finished_text(tally)
            await _edit_preview(context, tally, text)
            try:
                await context.bot.send_message(bc.admin_chat_id, text, parse_mode=ParseMode.HTML)
            except TelegramError as err:  # the tally is in the database either way
                log.warning("could not report broadcast %s to its admin: %s", bc_id, err)
            continue
        text = progress_text(tally)
        last_at, last_text = shown.get(bc_id, (-PROGRESS_EVERY, ""))
        if text != last_text and now - last_at >= PROGRESS_EVERY:
            shown[bc_id] = (now, text)
            await _edit_preview(context, tally, text)
