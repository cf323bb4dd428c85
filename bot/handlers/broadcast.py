"""The operator's /broadcast: preview with Confirm / Cancel, progress, status; the outbox sends."""

from __future__ import annotations

import logging
from collections.abc import Coroutine
from datetime import datetime
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

from bot.delivery.render import (
    MAX_MESSAGE_CHARS,
    broadcast_text,
    button_data,
    format_time,
    render_broadcast,
    utf16_len,
    visible_text,
)
from bot.handlers.context import Context, command_text, reply, sender_is_admin
from bot.handlers.topics import button_id
from bot.services.broadcasts import BroadcastTally

log = logging.getLogger(__name__)

CONFIRM = "bc:confirm:"
CANCEL = "bc:cancel:"
STATUS_WORD = "status"
RECENT = 5
# The preview message shows progress at most this often: edits count against the chat's
# flood limit like messages do.
PROGRESS_EVERY = 3.0


def plural(n: int, word: str) -> str:
    """Return '1 chat', '2 chats'."""
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def progress_text(tally: BroadcastTally) -> str:
    """Return the preview's text while the broadcast is being sent."""
    total = tally.total
    return (
        f"📣 <b>Sending</b> to {plural(total, 'chat')}: {tally.sent:,} sent, "
        f"{tally.failed:,} failed, {tally.pending:,} waiting."
    )


def finished_text(tally: BroadcastTally) -> str:
    """Return the final tally (the preview's last edit and the admin's report)."""
    total = tally.total
    text = (
        f"📣 <b>Broadcast finished</b>: delivered to {tally.sent:,} of {plural(total, 'chat')}; "
        f"{tally.failed:,} failed."
    )
    if tally.unknown:
        text += f" {tally.unknown:,} may or may not have arrived (the connection broke)."
    return text


def too_long_text(length: int) -> str:
    """Return the refusal of a broadcast longer than one Telegram message."""
    return (
        f"That message is {length:,} characters long as Telegram counts them (emoji and some "
        f"other symbols count as two); one message holds at most {MAX_MESSAGE_CHARS:,}. "
        "Please shorten it; nothing was queued."
    )


def preview_messages(text: str, chats: int) -> list[str]:
    """Return the preview: exactly what chats will receive, headed by what it is.

    One message when header and text fit in one; otherwise the text alone (as chats will
    see it) followed by the header, which carries the buttons and the progress.
    """
    body = render_broadcast(text)
    head = f"<b>Broadcast preview</b> — to {plural(chats, 'active chat')}"
    together = f"{head}. Chats will receive exactly this:\n\n{body}"
    if utf16_len(visible_text(together)) <= MAX_MESSAGE_CHARS:
        return [together]
    return [body, f"{head}: the message above, exactly as chats will receive it."]


def _background(context: Context, work: Coroutine[Any, Any, None]) -> None:
    context.application.create_task(work, name="broadcast-preview")


def _when(value: datetime | None) -> str:
    return format_time(value) if value is not None else "—"


def status_text(*, sending: list[BroadcastTally], recent: list[BroadcastTally]) -> str:
    """Return the /broadcast status report: running broadcasts, then recent ones."""
    if not sending and not recent:
        return "📣 No broadcasts yet. Send one with /broadcast TEXT."
    lines = ["📣 <b>Broadcasts</b>"]
    running = {t.broadcast_id for t in sending}
    for t in sending:
        lines.append(
            f"#{t.broadcast_id} <b>sending</b> since {_when(t.confirmed_at)}: "
            f"{t.sent:,} of {t.total:,} sent, {t.failed:,} failed, "
            f"{t.pending:,} waiting"
        )
    for t in recent:
        if t.broadcast_id in running:
            continue
        lines.append(
            f"#{t.broadcast_id} done {_when(t.finished_at)}: delivered to "
            f"{t.sent:,} of {t.total:,}; {t.failed:,} failed"
            + (f"; {t.unknown:,} unknown" if t.unknown else "")
        )
    return "\n".join(lines)


async def broadcast(update: Update, context: Context) -> None:
    """Show an admin a preview of the broadcast with Confirm and Cancel buttons."""
    user = update.effective_user
    chat = update.effective_chat
    message = update.effective_message
    if chat is None or message is None or user is None or not sender_is_admin(update, context):
        await reply(context, update, "Sorry, only the bot's operators can broadcast.")
        return
    text = command_text(update)
    if not text:
        await reply(
            context,
            update,
            "Usage: /broadcast TEXT — I'll show a preview before sending. "
            "/broadcast status shows running and recent broadcasts.",
        )
        return
    if text.lower() == STATUS_WORD:
        await broadcast_status(update, context)
        return
    length = utf16_len(broadcast_text(text))
    if length > MAX_MESSAGE_CHARS:
        await reply(context, update, too_long_text(length))
        return
    service = context.services.broadcasts
    draft = await service.draft(admin_user_id=user.id, admin_chat_id=chat.id, text=text)
    bc_id = draft.broadcast_id
    buttons = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton("✅ Confirm", callback_data=button_data(CONFIRM, bc_id)),
                InlineKeyboardButton("✖️ Cancel", callback_data=button_data(CANCEL, bc_id)),
            ]
        ]
    )
    the_door = context.door
    messages = preview_messages(text, draft.chats)
    for body in messages[:-1]:
        the_door.reply(message, body, link_preview=False)
    preview = the_door.reply(message, messages[-1], reply_markup=buttons, link_preview=False)

    async def remember(sent: Message | None) -> None:
        if sent is None:
            return  # not delivered (logged by the door): no progress to show on it
        await service.remember_preview(bc_id, sent.message_id)

    # Progress edits need the preview's message id; the handler doesn't wait for it.
    preview.add_done_callback(lambda f: _background(context, remember(f.result())))


async def broadcast_status(update: Update, context: Context) -> None:
    """Show the running and recent broadcasts (admins only; the caller checked)."""
    status = await context.services.broadcasts.status(recent=RECENT)
    await reply(context, update, status_text(sending=status.sending, recent=status.recent))


async def broadcast_button(update: Update, context: Context) -> None:
    """Confirm or cancel a broadcast from its preview's buttons."""
    query = update.callback_query
    if query is None or query.data is None:
        return
    the_door = context.door
    if not context.is_admin(query.from_user.id):
        the_door.answer(query, "Only the bot's operators can do that.", show_alert=True)
        return
    confirm = query.data.startswith(CONFIRM)
    bc_id = button_id(query.data, CONFIRM if confirm else CANCEL)
    if bc_id is None:
        the_door.answer(query, "That button is out of date.")
        return
    service = context.services.broadcasts
    if confirm:
        total = await service.confirm(bc_id)
        if total is None:
            the_door.answer(query, "This broadcast was already handled.")
            return
        the_door.wake()
        the_door.answer(query, "Sending…")
        status = f"📣 <b>Sending</b> to {plural(total, 'chat')}…"
    else:
        if not await service.cancel(bc_id):
            the_door.answer(query, "This broadcast was already handled.")
            return
        the_door.answer(query, "Cancelled.")
        status = "✖️ Broadcast cancelled; nothing was sent."
    message = query.message
    if isinstance(message, Message):
        the_door.edit_text(message.chat_id, message.message_id, status)
